#!/bin/sh
# Launch overhead of network mode allowlist over mode none: /bin/true in the
# `untrusted` tier and in the same tier with an allowlist of one address
# (tools/bench/allowlist.json: nothing to resolve, no traffic) or of one name
# (allowlist-names.json: the run's resolver starts, nothing is asked), interleaved
# in one run (tools/bench/launch_bench.cpp), as the median, p10/p90, ratio to
# none, and launches per second with 2 parallel callers.
#
#   tools/bench/network.sh [--runs N] [--seconds S]
#
# Two pairs: "exit" is until tierbox exits (what a caller waits for); the
# network helper then still deletes the veth pair (the kernel takes ~15-20 ms
# for that, off the caller's path, the run slot held meanwhile). "clean" is
# until that is done too (until-clean.sh waits for the helper's stderr).
set -eu
cd "$(dirname "$0")/../.."
# launch_bench is built with the tests (tools/build.sh --tests).
[ -x build/tierbox ] && [ -x build/tierbox-net ] && [ -x build/launch_bench ] || tools/build.sh --tests >/dev/null
# The benchmarks' own approval matrix, and an audit log on the same disk as
# the default one (the fsyncs are part of a launch's cost, docs/performance.md).
export TIERBOX_CONFIG_DIR="$(pwd)/tools/bench"
export TIERBOX_AUDIT_LOG="${TIERBOX_AUDIT_LOG:-/var/tmp/tierbox-bench/audit.jsonl}"

TIERBOX="$(pwd)/build/tierbox run"
ALLOW="--profile $(pwd)/tools/bench/allowlist.json -- /bin/true"
# The same with one name instead of the address: the run also gets its
# resolver (tools/bench/allowlist-names.json; nothing is resolved at launch).
NAMES="--profile $(pwd)/tools/bench/allowlist-names.json -- /bin/true"
NONE="--tier untrusted -- /bin/true"
CLEAN="$(pwd)/tools/bench/until-clean.sh"

echo "# $(uname -r), $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ)"
build/launch_bench "$@" "allowlist-exit=$TIERBOX $ALLOW" "names-exit=$TIERBOX $NAMES" "none-exit=$TIERBOX $NONE"
build/launch_bench "$@" "allowlist-clean=$CLEAN $TIERBOX $ALLOW" "none-clean=$CLEAN $TIERBOX $NONE"
