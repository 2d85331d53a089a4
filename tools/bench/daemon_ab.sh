#!/bin/sh
# Before/after through the daemon: a daemon of an earlier tierbox binary
# (--before FILE) and one of build/tierbox, each with its own client binary,
# socket, state and audit log, and bwrap with daemon.sh's isolation, all
# started by the same unprivileged uid and interleaved in one launch_bench
# run, so the machine's load weighs on the three alike: median, p10/p90,
# ratio to bwrap, launches per second with 4 parallel callers.
#
#   tools/bench/daemon_ab.sh --before FILE [--pool-size N] [--runs N] [--seconds S] [--tmpfs] [--state-tmpfs] [--setpriv]
#
# The caller's uid is set by launch_bench in the forked child before its
# exec (--as-uid); --setpriv starts every command through setpriv instead,
# as daemon.sh does (about 1 ms more exec on every line). --tmpfs puts the
# audit logs on /dev/shm (default: /var/tmp, the disk). --state-tmpfs puts
# the daemons' state directories (run records, locks, control sockets) on
# /dev/shm, as the default /run/tierbox is on a host whose /run is tmpfs
# (default: under /tmp, which on some hosts, this VM's included, is a disk
# filesystem: each run then makes three inodes there). Without --before the
# first line is build/tierbox alone.
set -eu
cd "$(dirname "$0")/../.."
pool=2 runs=200 seconds=3 logs=/var/tmp before= setpriv= state_base=
while [ $# -gt 0 ]; do
  case "$1" in
    --before) before="$2"; shift 2 ;;
    --pool-size) pool="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    --tmpfs) logs=/dev/shm; shift ;;
    --state-tmpfs) state_base=/dev/shm; shift ;;
    --setpriv) setpriv=1; shift ;;
    *) echo "usage: $0 --before FILE [--pool-size N] [--runs N] [--seconds S] [--tmpfs] [--state-tmpfs] [--setpriv]" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "tools/bench/daemon_ab.sh: run as root (it starts the daemons)" >&2; exit 1; }
[ -x build/tierbox ] && [ -x build/launch_bench ] && command -v bwrap >/dev/null || tools/build.sh --tests >/dev/null
caller=${TIERBOX_BENCH_UID:-61990}
. tools/bench/daemon_lib.sh
bench_setup daemon-ab-bench
log_dir=$logs/tbx-daemon-ab-bench.$$
mkdir -p "$log_dir"
state=$work
if [ -n "$state_base" ]; then state=$(mktemp -d "$state_base/tbx-daemon-ab-state.XXXXXX"); chmod 0755 "$state"; fi
state_dir_base=$state
# (Not a command substitution that may fail: dash's set -e ends the script
# on an assignment whose substitution returned non-zero.)
extra_cleanup=$log_dir
if [ "$state" != "$work" ]; then extra_cleanup="$extra_cleanup $state"; fi

# The client must be executable by the caller: a copy in the bench's own
# directory (0755).
cp build/tierbox "$work/after"
names=after
if [ -n "$before" ]; then cp "$before" "$work/before"; names="before after"; fi
if [ -n "$setpriv" ]; then as_caller="/usr/bin/setpriv --reuid $caller --regid $caller --clear-groups"; uid_flag=
else as_caller=; uid_flag="--as-uid $caller"; fi
lines=
for name in $names; do
  start_daemon "$name" "$work/$name" --config-dir "$(pwd)/tools/bench" --audit-log "$log_dir/audit-$name.jsonl" --pool-size "$pool"
done
echo "# $(uname -r), $(nproc) cores, $(date -u +%Y-%m-%dT%H:%M:%SZ), load $(cut -d' ' -f1-3 /proc/loadavg), caller uid $caller" \
  "($([ -n "$setpriv" ] && echo setpriv || echo launch_bench --as-uid)), pool size $pool, audit logs in $log_dir, state in $state"
set --
for name in $names; do
  set -- "$@" "daemon-$name=TIERBOX_SOCKET=$work/$name.sock $as_caller $work/$name run --tier untrusted -- /bin/true"
done
# The daemons' own CPU time (utime + stime + that of their reaped children,
# the sandboxes and tasks), in clock ticks, before and after.
daemon_ticks() { awk '{print $14 + $15 + $16 + $17}' "/proc/$1/stat"; }
i=0; for pid in $pids; do i=$((i + 1)); eval "ticks_before_$i=$(daemon_ticks "$pid")"; done
# shellcheck disable=SC2086
build/launch_bench --runs "$runs" --parallel 4 --seconds "$seconds" $uid_flag "$@" "bwrap-same-user=$as_caller $BWRAP" | tee "$work/bench.out"
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
# CPU per launch on the daemon's side: its ticks over its launches (10
# warm-up + runs + launches/s x seconds of the parallel phase).
hz=$(getconf CLK_TCK)
i=0; for name in $names; do
  i=$((i + 1)); pid=$(echo $pids | cut -d' ' -f$i)
  eval "before_ticks=\$ticks_before_$i"
  rate=$(awk -v n="daemon-$name" '$1 == n {print $6}' "$work/bench.out")
  awk -v t0="$before_ticks" -v t1="$(daemon_ticks "$pid")" -v hz="$hz" -v runs="$runs" -v rate="$rate" -v s="$seconds" -v n="$name" \
    'BEGIN {l = 10 + runs + rate * s; printf "# daemon-%s: %.3f ms CPU per launch in the daemon (sandbox and task included), %d launches\n", n, (t1 - t0) * 1000 / hz / l, l}'
done
