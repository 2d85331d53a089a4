#!/bin/sh
# The warm pool through the daemon, against itself off: two daemons at once,
# one with --pool-size N (default 2) and one with --pool-size 0, and bwrap
# with daemon.sh's isolation, all started by the same unprivileged uid,
# interleaved in one launch_bench run (so the machine's load weighs on the
# three alike): median, p10/p90, ratio to bwrap, launches per second with 4
# parallel callers.
#
#   tools/bench/daemon_pool.sh [--pool-size N] [--runs N] [--tmpfs]
#
# --tmpfs puts both daemons' audit logs on /dev/shm (default: /var/tmp).
set -eu
cd "$(dirname "$0")/../.."
pool=2 runs=200 logs=/var/tmp
while [ $# -gt 0 ]; do
  case "$1" in
    --pool-size) pool="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --tmpfs) logs=/dev/shm; shift ;;
    *) echo "usage: $0 [--pool-size N] [--runs N] [--tmpfs]" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "tools/bench/daemon_pool.sh: run as root (it starts the daemons)" >&2; exit 1; }
[ -x build/tierbox ] && [ -x build/launch_bench ] && command -v bwrap >/dev/null || tools/build.sh --tests >/dev/null
caller=${TIERBOX_BENCH_UID:-61990}
. tools/bench/daemon_lib.sh
bench_setup daemon-pool-bench
log_dir=$logs/tbx-daemon-pool-bench.$$
mkdir -p "$log_dir"
extra_cleanup=$log_dir

as_caller="/usr/bin/setpriv --reuid $caller --regid $caller --clear-groups"
for size in "$pool" 0; do
  start_daemon "d$size" build/tierbox --config-dir "$(pwd)/tools/bench" --audit-log "$log_dir/audit$size.jsonl" --pool-size "$size"
done
echo "# $(uname -r), $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ), caller uid $caller, audit logs in $log_dir"
client() { echo "$as_caller /usr/bin/env TIERBOX_SOCKET=$work/d$1.sock $(pwd)/build/tierbox run --tier untrusted -- /bin/true"; }
build/launch_bench --runs "$runs" --parallel 4 --seconds 5 \
  "daemon-pool-$pool=$(client "$pool")" "daemon-pool-0=$(client 0)" "bwrap-same-user=$as_caller $BWRAP"
