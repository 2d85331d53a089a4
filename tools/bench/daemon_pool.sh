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
work=$(mktemp -d /tmp/tbx-daemon-pool-bench.XXXXXX)
chmod 0755 "$work"
log_dir=$logs/tbx-daemon-pool-bench.$$
mkdir -p "$log_dir"
pids=
cleanup() {
  for pid in $pids; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in $pids; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work" "$log_dir"
}
trap cleanup EXIT INT TERM

as_caller="/usr/bin/setpriv --reuid $caller --regid $caller --clear-groups"
BWRAP="$(command -v bwrap) --unshare-all --die-with-parent --new-session --cap-drop ALL --uid 1000 --gid 1000 \
--ro-bind /usr /usr --symlink usr/bin /bin --symlink usr/sbin /sbin --symlink usr/lib /lib \
--symlink usr/lib64 /lib64 --ro-bind /etc/ld.so.cache /etc/ld.so.cache --proc /proc --dev /dev \
--tmpfs /tmp --hostname sandbox /bin/true"
for size in "$pool" 0; do
  : >"$work/daemon$size.err"
  build/tierbox daemon --socket "$work/d$size.sock" --socket-mode 0666 --socket-group root --state-dir "$work/state$size" \
    --config-dir "$(pwd)/tools/bench" --audit-log "$log_dir/audit$size.jsonl" --pool-size "$size" 2>"$work/daemon$size.err" &
  pids="$pids $!"
  for _ in $(seq 100); do grep -q listening "$work/daemon$size.err" && break; sleep 0.1; done
  grep -q listening "$work/daemon$size.err" || { cat "$work/daemon$size.err" >&2; exit 1; }
done
echo "# $(uname -r), $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ), caller uid $caller, audit logs in $log_dir"
client() { echo "$as_caller /usr/bin/env TIERBOX_SOCKET=$work/d$1.sock $(pwd)/build/tierbox run --tier untrusted -- /bin/true"; }
build/launch_bench --runs "$runs" --parallel 4 --seconds 5 \
  "daemon-pool-$pool=$(client "$pool")" "daemon-pool-0=$(client 0)" "bwrap-same-user=$as_caller $BWRAP"
