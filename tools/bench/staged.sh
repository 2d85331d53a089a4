#!/bin/sh
# Staged workspaces (docs/staged-writes.md), two numbers:
# 1. launch overhead: `tierbox run` of /bin/true with the workspace staged
#    (workspace-staged: the layer's tmpfs, its record, the overlay) against
#    the same tier unstaged (workspace-write: same limits and protected
#    paths), the same tier with its workspace read-only (same-readonly,
#    written here: workspace-write with "writable": false, so no protected
#    path placeholders either) and the shipped readonly tier (smaller
#    limits), interleaved by launch_bench;
# 2. `tierbox changes RUN --json` on a 10,000-file workspace where the task
#    changed 100 files (50 modified, 25 added, 25 deleted), median of 20.
#
#   tools/bench/staged.sh [--state-on-disk] [--runs N]
#
# TIERBOX_BENCH_BASELINE=PATH (another build's tierbox, e.g. of main) adds
# its staged run to the same interleaved launches: a before/after in one run.
# Runs use a state directory of their own, a tmpfs mounted for the run in
# this script's mount namespace (the default STATE_DIR, /run/tierbox, is on
# tmpfs on a default install); --state-on-disk keeps it a plain directory
# under /var/tmp instead (where /run is a disk, as on some VMs: every record
# written there can wait for the journal commit of the audit log's fsync).
# Every layer the runs made is discarded at the end.
set -eu
# Every layer the runs mount lives in a private mount namespace of this
# script, never in the host's.
[ -n "${TIERBOX_BENCH_UNSHARED:-}" ] || exec env TIERBOX_BENCH_UNSHARED=1 unshare -m --propagation private "$0" "$@"
STATE_ON_DISK=
if [ "${1:-}" = "--state-on-disk" ]; then STATE_ON_DISK=1; shift; fi
BENCH_ARGS="$*"  # --runs N and the like, for launch_bench
cd "$(dirname "$0")/../.."
[ -x build/tierbox ] && [ -x build/launch_bench ] || tools/build.sh --tests >/dev/null
TB="$(pwd)/build/tierbox"
WORK=$(mktemp -d /tmp/tierbox-bench-staged.XXXXXX)
STATE=/var/tmp/tierbox-bench-staged-$$
cleanup() {
  for layer in "$STATE"/staged/*; do
    [ -d "$layer" ] && "$TB" discard --config-dir "$WORK/config" "$(basename "$layer")" >/dev/null 2>&1 || true
  done
  [ -n "$STATE_ON_DISK" ] || umount "$STATE" 2>/dev/null || true
  rm -rf "$WORK" "$STATE"
}
trap cleanup EXIT
mkdir -p "$WORK/config/tiers" "$WORK/ws" "$STATE"
# Mounted in this script's private mount namespace only.
[ -n "$STATE_ON_DISK" ] || mount -t tmpfs -o mode=0755 tierbox-bench-state "$STATE"
printf '{"extends": "workspace-write", "description": "bench: workspace-write with the workspace read-only", "workspace": {"target": "/workspace", "writable": false}}\n' \
  > "$WORK/config/tiers/same-readonly.json"
printf '{"state_dir": "%s", "audit_log": "/var/tmp/tierbox-bench/audit-staged.jsonl"}\n' "$STATE" > "$WORK/config/tierbox.json"
printf '{"tiers": ["workspace-staged", "workspace-write", "same-readonly", "readonly"], "rules": [{"id": "benchmark", "require": "none"}]}\n' > "$WORK/config/approvals.json"
echo "# $(uname -r), $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ), load $(cut -d' ' -f1-3 /proc/loadavg), state dir on $(findmnt -no FSTYPE -T "$STATE")"

echo "## launch: staged against read-only workspace"
echo hello > "$WORK/ws/file"
set --
if [ -n "${TIERBOX_BENCH_BASELINE:-}" ]; then
  set -- "staged-baseline=$TIERBOX_BENCH_BASELINE run --config-dir $WORK/config --tier workspace-staged --workspace $WORK/ws -- /bin/true"
fi
build/launch_bench $BENCH_ARGS "$@" \
  "staged=$TB run --config-dir $WORK/config --tier workspace-staged --workspace $WORK/ws -- /bin/true" \
  "write=$TB run --config-dir $WORK/config --tier workspace-write --workspace $WORK/ws -- /bin/true" \
  "same-readonly=$TB run --config-dir $WORK/config --tier same-readonly --workspace $WORK/ws -- /bin/true" \
  "readonly=$TB run --config-dir $WORK/config --tier readonly --workspace $WORK/ws -- /bin/true"
cleanup_layers() {
  for layer in "$STATE"/staged/*; do
    [ -d "$layer" ] && "$TB" discard --config-dir "$WORK/config" "$(basename "$layer")" >/dev/null 2>&1 || true
  done
}
cleanup_layers

echo "## changes on 10,000 files with 100 changes"
rm -rf "$WORK/ws" && mkdir -p "$WORK/ws"
python3 - "$WORK/ws" <<'PY'
import os, sys
root = sys.argv[1]
for d in range(100):
    os.makedirs(f"{root}/d{d:03}", exist_ok=True)
    for f in range(100):
        with open(f"{root}/d{d:03}/f{f:03}.txt", "w") as out:
            out.write(f"line {d} {f}\n" * 20)
PY
sleep 0.1
RUN=$("$TB" run --config-dir "$WORK/config" --tier workspace-staged --workspace "$WORK/ws" -- /bin/sh -c '
  for d in 000 001 002 003 004; do for f in 000 001 002 003 004 005 006 007 008 009; do echo more >> d$d/f$f.txt; done; done
  for f in 000 001 002 003 004 005 006 007 008 009 010 011 012 013 014 015 016 017 018 019 020 021 022 023 024; do
    echo new > d050/new$f.txt; rm d060/f$f.txt; done' 2>&1 | sed -n 's/.*tierbox changes \([0-9a-f]*\).*/\1/p')
"$TB" changes --config-dir "$WORK/config" --json "$RUN" | python3 -c 'import json,sys; print("changes listed:", len(json.load(sys.stdin)["changes"]))'
python3 - "$TB" "$WORK/config" "$RUN" <<'PY'
import subprocess, sys, time
tb, config, run = sys.argv[1:]
samples = []
for _ in range(20):
    start = time.perf_counter()
    subprocess.run([tb, "changes", "--config-dir", config, "--json", run], check=True, stdout=subprocess.DEVNULL)
    samples.append((time.perf_counter() - start) * 1000)
samples.sort()
print(f"tierbox changes --json: median {samples[10]:.1f} ms, min {samples[0]:.1f} ms, max {samples[-1]:.1f} ms (20 runs, whole process)")
PY
