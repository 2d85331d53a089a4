#!/bin/sh
# `exec` into a running container: `tierbox oci exec ID /bin/true` against
# `runc exec ID /bin/true`, each on a container of the same busybox-static
# root started by the runtime itself, interleaved one after the other (the
# machine is shared: both see the same load). tierbox's exec is answered by
# the sandbox's init and appends two audit records (exec, exec_end; fsync'ed,
# to /var/tmp/tierbox-bench); the container runs in tier `untrusted`.
# Everything lives in a temp directory and a private mount namespace.
#
#   tools/bench/oci_exec.sh [--runs N]
#
# Needs runc, python3 and busybox-static (tools/install-deps.sh --test).
set -eu
RUNS=60
[ "${1:-}" = "--runs" ] && RUNS="$2"
cd "$(dirname "$0")/../.."
ROOT="$(pwd)"
[ -x build/tierbox ] || tools/build.sh >/dev/null
for tool in runc python3 unshare; do
  command -v "$tool" >/dev/null || { echo "oci_exec.sh: $tool is not installed (tools/install-deps.sh --test)" >&2; exit 1; }
done
if [ -z "${OCI_BENCH_INNER:-}" ]; then
  OCI_BENCH_INNER=1 exec unshare -m --propagation private "$0" "$@"
fi

WORK="$(mktemp -d /tmp/tierbox-oci-exec-bench.XXXXXX)"
chmod 755 "$WORK"
TIERBOX="$ROOT/build/tierbox oci --config-dir $WORK/config --root $WORK/tierbox-state"
RUNC="runc --root $WORK/runc-state"
cleanup() {
  $TIERBOX delete --force bench-tierbox >/dev/null 2>&1 || true
  $RUNC delete --force bench-runc >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
export TIERBOX_AUDIT_LOG=/var/tmp/tierbox-bench/oci-audit.jsonl
mkdir -p "$WORK/config" "$WORK/bundle/rootfs/bin" "$WORK/bundle/rootfs/etc" "$WORK/bundle/rootfs/tmp" /var/tmp/tierbox-bench
cp /bin/busybox "$WORK/bundle/rootfs/bin/busybox"
for applet in sh true sleep; do ln -s busybox "$WORK/bundle/rootfs/bin/$applet"; done
echo '{}' >"$WORK/config/tierbox.json"
(cd "$WORK/bundle" && runc spec)
python3 - "$WORK/bundle/config.json" <<'EOF'
import json, sys
path = sys.argv[1]
config = json.load(open(path))
config["process"]["args"] = ["sleep", "3600"]
config["process"]["terminal"] = False
config["annotations"] = {"io.tierbox.tier": "untrusted"}
json.dump(config, open(path, "w"))
EOF
$TIERBOX run --detach --bundle "$WORK/bundle" bench-tierbox </dev/null >/dev/null 2>&1
$RUNC run --detach --bundle "$WORK/bundle" bench-runc </dev/null >/dev/null 2>&1
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$RUNS" "$TIERBOX exec bench-tierbox /bin/true" "$RUNC exec bench-runc /bin/true" <<'EOF'
import statistics, subprocess, sys, time
runs, commands = int(sys.argv[1]), {"tierbox oci exec": sys.argv[2].split(), "runc exec": sys.argv[3].split()}
times = {name: [] for name in commands}
for _ in range(runs):
    for name, argv in commands.items():
        start = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, check=True)
        times[name].append((time.perf_counter() - start) * 1000)
for name, values in times.items():
    values.sort()
    print(f"{name}: median {statistics.median(values):.1f} ms, p90 {values[int(len(values) * 0.9)]:.1f} ms ({runs} runs)")
EOF
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
