#!/bin/sh
# Launch latency of tierbox's `untrusted` tier next to bubblewrap with the same
# isolation, measured in one run (tools/bench/launch_bench.cpp): median,
# p10/p90, ratio to bwrap, and launches per second with 2 parallel callers.
# A third line, `lean`, is the floor the core issue names: the same isolation
# with nothing of tierbox's policy or governance (lean_launch.cpp).
#
#   tools/bench/launch.sh [--runs N] [--seconds S]
#
# The bwrap line is the same isolation tierbox gives the task: every
# namespace, /usr read-only with the merged-/usr symlinks, a fresh /proc, a
# minimal /dev, tmpfs /tmp, a new session, dying with its parent, all
# capabilities dropped, uid 1000.
set -eu
cd "$(dirname "$0")/../.."
# The benchmarks and bwrap come with the test set (tools/build.sh --tests).
[ -x build/tierbox ] && [ -x build/launch_bench ] && [ -x build/lean_launch ] && command -v bwrap >/dev/null ||
  tools/build.sh --tests >/dev/null
# The benchmarks' own approval matrix, and an audit log on the same disk as
# the default one (the fsyncs are part of a launch's cost, docs/performance.md).
export TIERBOX_CONFIG_DIR="$(pwd)/tools/bench"
export TIERBOX_AUDIT_LOG="${TIERBOX_AUDIT_LOG:-/var/tmp/tierbox-bench/audit.jsonl}"

BWRAP="bwrap --unshare-all --die-with-parent --new-session --cap-drop ALL --uid 1000 --gid 1000 \
--ro-bind /usr /usr --symlink usr/bin /bin --symlink usr/sbin /sbin --symlink usr/lib /lib \
--symlink usr/lib64 /lib64 --ro-bind /etc/ld.so.cache /etc/ld.so.cache --proc /proc --dev /dev \
--tmpfs /tmp --hostname sandbox /bin/true"

echo "# $(uname -r), $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ)"
exec build/launch_bench "$@" ${EXTRA:+"$EXTRA"} \
  "tierbox-untrusted=$(pwd)/build/tierbox run --tier untrusted -- /bin/true" \
  "lean=$(pwd)/build/lean_launch /bin/true" \
  "bwrap=$(command -v bwrap | sed 's|bwrap$||')${BWRAP}"
