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
. tools/bench/daemon_lib.sh
bench_setup daemon-bench
disk_log_dir=/var/tmp/tbx-daemon-bench.$$
extra_cleanup=$disk_log_dir

as_caller="/usr/bin/setpriv --reuid $caller --regid $caller --clear-groups"
client="/usr/bin/env TIERBOX_SOCKET=$work/d.sock $(pwd)/build/tierbox"
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

echo "# $(uname -r), $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ), caller uid $caller, pool size $pool"
for where in disk tmpfs; do
  if [ "$where" = disk ]; then log="$disk_log_dir/audit.jsonl"; else log="/dev/shm/tbx-daemon-bench.$$/audit.jsonl"; fi
  start_daemon d build/tierbox --config-dir "$(pwd)/tools/bench" --audit-log "$log" --pool-size "$pool"
  echo "## audit log on $where ($log)"
  build/launch_bench --runs "$runs" --parallel 4 --seconds "$seconds" \
    "daemon-untrusted=$as_caller $client run --tier untrusted -- /bin/true" \
    "bwrap-same-user=$as_caller $BWRAP"
  sleep 1  # the pool refills after the last run
  memory
  stop_daemons
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
