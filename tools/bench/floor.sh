#!/bin/sh
# What issue 19's targets leave for the daemon: the parts of a launch through
# it that no design of the daemon removes, measured on this host next to
# bwrap, interleaved in one launch_bench run by the same unprivileged uid:
#   - the client's own start and exit (`tierbox run --help`: the static
#     binary, its start-up and the `run` parser, no connect);
#   - the task's exec (`/bin/true` as the uid: the task inside the sandbox
#     is the same exec);
#   - one durable audit record (fsync_bench on the audit log's directory:
#     the start record is on disk before the task's execve, the end record
#     before the result goes back, docs/governance.md);
#   - bwrap with the same isolation as daemon.sh's.
# Then the sum of the first three against 0.6x bwrap's median (the median
# target), and the CPU one launch may cost for 2x bwrap's launches per
# second with 4 callers on this host's cores against what the client, the
# task and a sandbox of this isolation (bwrap's own, as an estimate) cost.
#
#   tools/bench/floor.sh [--runs N] [--log-dir DIR]     (default /var/tmp)
set -eu
cd "$(dirname "$0")/../.."
runs=300 log_dir=/var/tmp
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="$2"; shift 2 ;;
    --log-dir) log_dir="$2"; shift 2 ;;
    *) echo "usage: $0 [--runs N] [--log-dir DIR]" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "tools/bench/floor.sh: run as root (launch_bench --as-uid)" >&2; exit 1; }
[ -x build/tierbox ] && [ -x build/launch_bench ] && [ -x build/fsync_bench ] && command -v bwrap >/dev/null ||
  tools/build.sh --tests >/dev/null
caller=${TIERBOX_BENCH_UID:-61990}
. tools/bench/daemon_lib.sh
bench_setup floor-bench
# The client must be executable by the caller: a copy in the bench's own
# directory (0755), as daemon_ab.sh runs it.
cp build/tierbox "$work/tierbox"
echo "# $(uname -r), $(nproc) cores, $(date -u +%Y-%m-%dT%H:%M:%SZ), load $(cut -d' ' -f1-3 /proc/loadavg), caller uid $caller"
build/launch_bench --runs "$runs" --parallel 4 --seconds 2 --as-uid "$caller" \
  "client-start=$work/tierbox run --help" "task-exec=/bin/true" "bwrap-same-user=$BWRAP" | tee "$work/bench.out"
fsync_line=$(build/fsync_bench "$log_dir/tbx-floor-fsync.$$" --runs 200)
echo "# $log_dir: $fsync_line"
fsync_ms=$(echo "$fsync_line" | sed 's/.*median \([0-9.]*\).*/\1/')
awk -v f="$fsync_ms" -v cores="$(nproc)" '
  $1 == "client-start" {c = $2; cc = $7}
  $1 == "task-exec" {t = $2; tc = $7}
  $1 == "bwrap-same-user" {b = $2; rate = $6; bc = $7}
  END {
    printf "# median: client %.3f + task exec %.3f + one fsync %.3f = %.3f ms before the daemon does anything;", c, t, f, c + t + f
    printf " target 0.6 x bwrap %.3f = %.3f ms (%.3f ms left)\n", b, 0.6 * b, 0.6 * b - (c + t + f)
    budget = cores * 1000 / (2 * rate)
    printf "# 4 callers: 2 x bwrap %d/s = %d/s needs at most %.3f ms of CPU per launch on %d cores;", rate, 2 * rate, budget, cores
    printf " client %.3f + task %.3f + a sandbox of this isolation (bwrap: %.3f) = %.3f ms (%.3f ms left)\n", cc, tc, bc, cc + tc + bc, budget - (cc + tc + bc)
  }' "$work/bench.out"
