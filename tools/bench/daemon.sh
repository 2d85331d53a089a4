#!/bin/sh
# Launch-to-exit of /bin/true in `untrusted`, started by an unprivileged user
# through tierbox daemon, next to bwrap started by the same user with the
# same isolation, interleaved in one run (launch_bench): median, p10/p90,
# ratio, and launches per second with 4 parallel callers. Twice: the audit
# log on disk (the default) and on tmpfs. Then the daemon's resident memory
# and the client's start-up cost, and a breakdown of where the time goes.
#
#   tools/bench/daemon.sh [--pool-size N] [--runs N] [--seconds S]
#
# --pool-size is passed to the daemon (prepared sandboxes per tier, 0 =
# every launch cold), so the same script measures the warm path once it is
# built. The caller is an unused uid (setpriv), so no user is created; both
# lines pay the same setpriv exec.
set -eu
cd "$(dirname "$0")/../.."
pool=0 runs=200 seconds=5
while [ $# -gt 0 ]; do
  case "$1" in
    --pool-size) pool="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    *) echo "usage: $0 [--pool-size N] [--runs N] [--seconds S]" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "tools/bench/daemon.sh: run as root (it starts the daemon)" >&2; exit 1; }
[ -x build/tierbox ] && [ -x build/launch_bench ] && command -v bwrap >/dev/null || tools/build.sh --tests >/dev/null
caller=${TIERBOX_BENCH_UID:-61990}
work=$(mktemp -d /tmp/tbx-daemon-bench.XXXXXX)
chmod 0755 "$work"
disk_log_dir=/var/tmp/tbx-daemon-bench.$$
daemon_pid=
cleanup() {
  [ -n "$daemon_pid" ] && kill -TERM "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null || true
  rm -rf "$work" "$disk_log_dir"
}
trap cleanup EXIT INT TERM

as_caller="/usr/bin/setpriv --reuid $caller --regid $caller --clear-groups"
BWRAP="$(command -v bwrap) --unshare-all --die-with-parent --new-session --cap-drop ALL --uid 1000 --gid 1000 \
--ro-bind /usr /usr --symlink usr/bin /bin --symlink usr/sbin /sbin --symlink usr/lib /lib \
--symlink usr/lib64 /lib64 --ro-bind /etc/ld.so.cache /etc/ld.so.cache --proc /proc --dev /dev \
--tmpfs /tmp --hostname sandbox /bin/true"
client="/usr/bin/env TIERBOX_SOCKET=$work/d.sock $(pwd)/build/tierbox"

start_daemon() {  # audit log path
  # Emptied here, not by the background job's redirection: that may come
  # after the loop below has read the last daemon's "listening".
  : >"$work/daemon.err"
  build/tierbox daemon --socket "$work/d.sock" --socket-mode 0666 --socket-group root --state-dir "$work/state" \
    --config-dir "$(pwd)/tools/bench" --audit-log "$1" --pool-size "$pool" 2>"$work/daemon.err" &
  daemon_pid=$!
  for _ in $(seq 100); do grep -q listening "$work/daemon.err" 2>/dev/null && return; sleep 0.1; done
  cat "$work/daemon.err" >&2; exit 1
}
# The daemon's own PSS, and what the sandboxes waiting in its pool (its child
# processes between runs) add: count, RSS and PSS in kB.
memory() {
  pss() { awk '/^Pss:/ {print $2}' "/proc/$1/smaps_rollup" 2>/dev/null || echo 0; }
  rss() { awk '/^Rss:/ {print $2}' "/proc/$1/smaps_rollup" 2>/dev/null || echo 0; }
  n=0 crss=0 cpss=0
  for child in $(cat /proc/"$daemon_pid"/task/*/children 2>/dev/null); do
    n=$((n + 1)) crss=$((crss + $(rss "$child"))) cpss=$((cpss + $(pss "$child")))
  done
  echo "daemon VmRSS after the runs: $(grep VmRSS /proc/$daemon_pid/status | tr -s ' ' | cut -d' ' -f2-), PSS $(pss "$daemon_pid") kB;" \
    "$n prepared sandboxes waiting: RSS $crss kB, PSS $cpss kB together"
}
stop_daemon() { kill -TERM "$daemon_pid"; wait "$daemon_pid" || true; daemon_pid=; }

echo "# $(uname -r), $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ), caller uid $caller, pool size $pool"
for where in disk tmpfs; do
  if [ "$where" = disk ]; then log="$disk_log_dir/audit.jsonl"; else log="/dev/shm/tbx-daemon-bench.$$/audit.jsonl"; fi
  start_daemon "$log"
  echo "## audit log on $where ($log)"
  build/launch_bench --runs "$runs" --parallel 4 --seconds "$seconds" \
    "daemon-untrusted=$as_caller $client run --tier untrusted -- /bin/true" \
    "bwrap-same-user=$as_caller $BWRAP"
  sleep 1  # the pool refills after the last run
  memory
  stop_daemon
  rm -rf "$(dirname "$log")"
done

echo "## where the time goes (medians; each line measured on its own)"
build/launch_bench --runs "$runs" --parallel 1 --seconds 1 \
  "setpriv-exec-true=$as_caller /bin/true" \
  "client-start(--version)=$as_caller $client --version" \
  "direct-root-untrusted=$(pwd)/build/tierbox run --config-dir $(pwd)/tools/bench --audit-log $work/direct.jsonl --tier untrusted -- /bin/true" \
  "bwrap-same-user=$as_caller $BWRAP"
echo "(daemon-side work = daemon-untrusted - client-start; audit write and fsync = disk - tmpfs;"
echo " the direct root path's steps: build/tierbox run -v --tier untrusted -- /bin/true)"
