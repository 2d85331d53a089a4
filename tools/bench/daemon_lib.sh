# Sourced by the benches that go through `tierbox daemon` (daemon.sh,
# daemon_ab.sh, daemon_pool.sh, daemon_memory.sh): their work directory,
# the daemons they start and stop, and bwrap with the same isolation as the
# `untrusted` tier, so every script measures against the same line.
#
#   bench_setup NAME      work=/tmp/tbx-NAME.XXXXXX (0755: the caller's client
#                         copies and sockets live there); removed on exit with
#                         every daemon still running
#   start_daemon NAME BINARY [ARGS...]
#                         BINARY daemon --socket $work/NAME.sock --state-dir
#                         ${state_dir_base:-$work}/state-NAME ARGS..., stderr
#                         in $work/NAME.err;
#                         returns once it listens; its pid is added to $pids
#                         and kept in $daemon_pid
#   stop_daemons          SIGTERM to each, then wait
# A caller runs a daemon's client with TIERBOX_SOCKET=$work/NAME.sock.

BWRAP="$(command -v bwrap || echo bwrap) --unshare-all --die-with-parent --new-session --cap-drop ALL --uid 1000 --gid 1000 \
--ro-bind /usr /usr --symlink usr/bin /bin --symlink usr/sbin /sbin --symlink usr/lib /lib \
--symlink usr/lib64 /lib64 --ro-bind /etc/ld.so.cache /etc/ld.so.cache --proc /proc --dev /dev \
--tmpfs /tmp --hostname sandbox /bin/true"
pids=
daemon_pid=
extra_cleanup=

bench_setup() {
  work=$(mktemp -d "/tmp/tbx-$1.XXXXXX")
  chmod 0755 "$work"
  trap bench_cleanup EXIT INT TERM
}

bench_cleanup() {
  stop_daemons
  rm -rf "$work" $extra_cleanup
}

start_daemon() {
  name=$1 binary=$2
  shift 2
  # Emptied here, not by the background job's redirection: that may come
  # after the loop below has read an earlier daemon's "listening".
  : >"$work/$name.err"
  $binary daemon --socket "$work/$name.sock" --socket-mode 0666 --socket-group root --state-dir "${state_dir_base:-$work}/state-$name" \
    "$@" 2>"$work/$name.err" &
  daemon_pid=$!
  pids="$pids $daemon_pid"
  for _ in $(seq 100); do grep -q listening "$work/$name.err" 2>/dev/null && return; sleep 0.1; done
  cat "$work/$name.err" >&2
  exit 1
}

stop_daemons() {
  for pid in $pids; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in $pids; do wait "$pid" 2>/dev/null || true; done
  pids=
  daemon_pid=
}
