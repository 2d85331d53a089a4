#!/bin/sh
# The daemon's memory with every shipped tier's warm pool filled: one run of
# /bin/true in each shipped tier that can be pooled, by an unprivileged
# caller through the daemon (a tier's first run is cold and sets what its
# pool prepares), then a wait until every pool holds its sandboxes; then the
# daemon's RSS and PSS and the waiting sandboxes' RSS and PSS summed. The
# same again with --pool-size 0, the same runs, for what the pool adds.
#
#   tools/bench/daemon_memory.sh [--pool-size N]   (default: tierbox.json's, 2 per tier)
#
# Shipped tiers left out, each with its reason printed: base (a base, not
# run directly), networked (network mode allowlist: never prepared ahead,
# and its matrix rule wants a confirmation at a terminal the bench has not), a sealed
# tier whose image is not in the store. The minimal image (sealed) is built
# into a store of the script's own (about a second, no network); the debian
# image (sealed-debian) only when TIERBOX_BENCH_DEBIAN=1 (one to two minutes,
# Debian's archive), or found in /var/lib/tierbox/rootfs.
#
# The daemon runs in a mount namespace of its own (unshare -m, private): the
# staged tier's layer is a tmpfs the daemon mounts, and it goes with the
# namespace. The caller is an unused uid (setpriv); nothing is created.
set -eu
cd "$(dirname "$0")/../.."
pool=
while [ $# -gt 0 ]; do
  case "$1" in
    --pool-size) pool="$2"; shift 2 ;;
    *) echo "usage: $0 [--pool-size N]" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "tools/bench/daemon_memory.sh: run as root (it starts the daemon)" >&2; exit 1; }
[ -x build/tierbox ] && [ -x build/tierbox-rootfs ] || tools/build.sh >/dev/null
caller=${TIERBOX_BENCH_UID:-61990}
. tools/bench/daemon_lib.sh
bench_setup daemon-memory

# The image store: the system's when it has the image, else the script's own.
store="$work/rootfs"
mkdir -p "$work/config" "$store"
chmod 0700 "$store"  # the store must be root's alone
if [ -f /var/lib/tierbox/rootfs/names/debian.json ]; then store=/var/lib/tierbox/rootfs; fi
printf '{"rootfs_dir": "%s"}\n' "$store" >"$work/config/tierbox.json"
tiers="untrusted readonly workspace-write workspace-staged"
echo "# $(uname -r), $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ), load $(cut -d' ' -f1-3 /proc/loadavg), caller uid $caller"
echo "skipped: base (a base for the others: \"not meant to be run directly\")"
echo "skipped: networked (network mode allowlist is never prepared ahead; every run is cold)"
if [ ! -f "$store/names/minimal.json" ]; then
  unshare -m --propagation private build/tierbox rootfs --config-dir "$work/config" build minimal >/dev/null 2>"$work/rootfs.err" ||
    { echo "skipped: sealed (tierbox rootfs build minimal failed: $(tail -1 "$work/rootfs.err"))"; }
fi
[ -f "$store/names/minimal.json" ] && tiers="$tiers sealed"
if [ ! -f "$store/names/debian.json" ] && [ "${TIERBOX_BENCH_DEBIAN:-0}" = 1 ]; then
  unshare -m --propagation private build/tierbox rootfs --config-dir "$work/config" build debian >/dev/null 2>"$work/rootfs.err" ||
    echo "(tierbox rootfs build debian failed: $(tail -1 "$work/rootfs.err"))"
fi
if [ -f "$store/names/debian.json" ]; then tiers="$tiers sealed-debian"
else echo "skipped: sealed-debian (no debian image; TIERBOX_BENCH_DEBIAN=1 builds it, one to two minutes from Debian's archive)"; fi

mkdir -p "$work/ws"
chown "$caller:$caller" "$work/ws"  # workspace-write needs a workspace the caller may write
client="/usr/bin/setpriv --reuid $caller --regid $caller --clear-groups /usr/bin/env TIERBOX_SOCKET=$work/d.sock $(pwd)/build/tierbox"

# The daemon's own process (unshare execs it: the same pid).
sandboxes() { cat /proc/"$daemon_pid"/task/*/children 2>/dev/null | wc -w; }
kb() { awk -v key="^$2:" '$0 ~ key {print $2}' "/proc/$1/smaps_rollup" 2>/dev/null || echo 0; }
report() {  # label
  n=0 rss=0 pss=0
  for child in $(cat /proc/"$daemon_pid"/task/*/children 2>/dev/null); do
    n=$((n + 1)) rss=$((rss + $(kb "$child" Rss))) pss=$((pss + $(kb "$child" Pss)))
  done
  echo "$1: daemon RSS $(kb "$daemon_pid" Rss) kB, PSS $(kb "$daemon_pid" Pss) kB; $n sandboxes waiting: RSS $rss kB, PSS $pss kB together;" \
    "daemon + sandboxes PSS $(( $(kb "$daemon_pid" Pss) + pss )) kB"
}

measure() {  # pool size, expected waiting sandboxes (0: none)
  # shellcheck disable=SC2086
  start_daemon d "unshare -m --propagation private build/tierbox" --config-dir "$work/config" \
    --audit-log "$work/audit.jsonl" ${1:+--pool-size "$1"}
  for tier in $tiers; do
    case "$tier" in workspace-*) ws="--workspace $work/ws" ;; *) ws= ;; esac
    # shellcheck disable=SC2086
    $client run --tier "$tier" $ws -- /bin/true 2>"$work/run.err" || { echo "run in $tier failed: $(tail -1 "$work/run.err")"; exit 1; }
  done
  for _ in $(seq 300); do [ "$(sandboxes)" -ge "$2" ] && break; sleep 0.1; done
  sleep 1  # nothing left mid-preparation
  report "pool size ${1:-2 (tierbox.json)}, tiers: $tiers"
  stop_daemons
}
count=$(echo "$tiers" | wc -w)
measure "$pool" $((count * ${pool:-2}))
measure 0 0
