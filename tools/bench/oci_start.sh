#!/bin/sh
# Container start-to-exit through an engine, tierbox as the OCI runtime next
# to crun and runc, in one run (hyperfine): `podman run --rm` of /bin/true in
# a busybox-static image imported from a local tarball, and `ctr run --rm` of
# the same root with --runc-binary. Everything (podman storage, containerd's
# root, state and socket) lives in a temp directory and a private mount
# namespace, removed at the end.
#
#   tools/bench/oci_start.sh [--runs N]
#
# tierbox runs the container in tier `untrusted` (annotation io.tierbox.tier);
# its audit log goes to /var/tmp/tierbox-bench (the fsyncs are part of the
# cost, as in launch.sh). --ulimit: podman asks for nofile and nproc limits above
# the hard limits of a session with lowered ones, which crun and runc then fail
# to set. Needs podman, containerd, runc, crun, hyperfine and
# busybox-static (tools/install-deps.sh --test).
set -eu
RUNS=20
[ "${1:-}" = "--runs" ] && RUNS="$2"
cd "$(dirname "$0")/../.."
ROOT="$(pwd)"
[ -x build/tierbox ] || tools/build.sh >/dev/null
for tool in podman containerd ctr runc crun hyperfine unshare; do
  command -v "$tool" >/dev/null || { echo "oci_start.sh: $tool is not installed (tools/install-deps.sh --test)" >&2; exit 1; }
done
if [ -z "${OCI_BENCH_INNER:-}" ]; then
  # The mounts podman and containerd make stay in a namespace of our own.
  OCI_BENCH_INNER=1 exec unshare -m --propagation private "$0" "$@"
fi

WORK="$(mktemp -d /tmp/tierbox-oci-bench.XXXXXX)"
chmod 755 "$WORK"
cleanup() {
  [ -n "${CONTAINERD_PID:-}" ] && kill "$CONTAINERD_PID" 2>/dev/null && wait "$CONTAINERD_PID" 2>/dev/null
  ${PODMAN:-true} rm -a -f >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -p "$WORK/config" "$WORK/rootfs/bin" "$WORK/rootfs/etc" "$WORK/rootfs/tmp" /var/tmp/tierbox-bench
cp /bin/busybox "$WORK/rootfs/bin/busybox"
for applet in sh true; do ln -s busybox "$WORK/rootfs/bin/$applet"; done
echo '{}' >"$WORK/config/tierbox.json"
cat >"$WORK/tierbox-runc" <<EOF
#!/bin/sh
export TIERBOX_AUDIT_LOG=/var/tmp/tierbox-bench/oci-audit.jsonl
exec "$ROOT/build/tierbox" oci --config-dir "$WORK/config" --root "$WORK/tierbox-state" "\$@"
EOF
chmod 755 "$WORK/tierbox-runc"

PODMAN="podman --root $WORK/storage --runroot $WORK/run --storage-driver vfs --cgroup-manager cgroupfs --events-backend file"
tar -C "$WORK/rootfs" -cf "$WORK/image.tar" .
$PODMAN import "$WORK/image.tar" localhost/tierbox-oci-bench:1 >/dev/null
IMAGE="--network none --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 --annotation io.tierbox.tier=untrusted localhost/tierbox-oci-bench:1 /bin/true"

printf 'version = 2\ndisabled_plugins = ["io.containerd.grpc.v1.cri"]\n' >"$WORK/containerd.toml"
containerd --root "$WORK/croot" --state "$WORK/cstate" --address "$WORK/c.sock" --config "$WORK/containerd.toml" \
  >"$WORK/containerd.log" 2>&1 &
CONTAINERD_PID=$!
for i in $(seq 100); do [ -S "$WORK/c.sock" ] && break; sleep 0.1; done
CTR="ctr -a $WORK/c.sock run --rm"

echo "# $(uname -r), $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ); podman $(podman --version | cut -d' ' -f3), containerd $(containerd --version | cut -d' ' -f3)"
# Each line once first: a runtime that cannot run here (crun 1.8 refuses a
# cgroup-hybrid host) is left out with its error, not timed.
set --
try() {
  name="$1"
  shift
  if "$@" >"$WORK/try.out" 2>&1; then
    set -- "$@"
    ARGS="$ARGS -n '$name' '$*'"
  else
    echo "# left out: $name: $(tail -1 "$WORK/try.out")"
  fi
}
ARGS=""
try "podman + tierbox" $PODMAN --runtime "$WORK/tierbox-runc" run --rm $IMAGE
try "podman + crun" $PODMAN --runtime /usr/bin/crun run --rm $IMAGE
try "podman + runc" $PODMAN --runtime /usr/bin/runc run --rm $IMAGE
try "ctr + tierbox" $CTR --runc-binary "$WORK/tierbox-runc" --rootfs "$WORK/rootfs" tierbox-bench-t /bin/true
try "ctr + runc" $CTR --runc-binary /usr/bin/runc --rootfs "$WORK/rootfs" tierbox-bench-r /bin/true
try "ctr + crun" $CTR --runc-binary /usr/bin/crun --rootfs "$WORK/rootfs" tierbox-bench-c /bin/true
eval "hyperfine -N --warmup 2 --runs $RUNS --style basic $ARGS"
