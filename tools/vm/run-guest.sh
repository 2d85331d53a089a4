#!/bin/sh
# Boots one of Debian's kernels under QEMU (software emulation: KVM is not
# usable here) with the host's root shared read-only, and runs README's first
# task and the given integration suites of the already-built build/ inside
# (tools/vm/guest-init.sh). Exits 0 only when the guest reported that every
# one passed; a guest that does not boot or does not finish in time fails with
# its console log.
#
# usage: tools/vm/run-guest.sh NAME SUITE [CTEST_SUITES]
#   NAME: a label (its files go to build/vm/NAME)
#   SUITE: the Debian suite the kernel comes from (tools/vm/fetch-kernel.sh)
#   CTEST_SUITES: comma-separated integration suites, e.g. sandbox,limits
# Environment: TIERBOX_VM_TIMEOUT (seconds, default 1500).
set -eu
name=$1
suite=$2
suites=${3:-}
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$root/build/vm/$name
timeout=${TIERBOX_VM_TIMEOUT:-1500}
case $root in *" "*) echo "run-guest: the source path '$root' has a space (the kernel command line splits on it)" >&2; exit 2 ;; esac
[ -x "$root/build/tierbox" ] || { echo "run-guest: build/tierbox is missing (fix: tools/build.sh first)" >&2; exit 2; }
command -v qemu-system-x86_64 >/dev/null || { echo "run-guest: qemu-system-x86_64 is missing (fix: tools/install-deps.sh)" >&2; exit 2; }

mkdir -p "$work"
"$root/tools/vm/fetch-kernel.sh" "$suite" "$work/kernel"
"$root/tools/vm/make-initramfs.sh" "$work/kernel" "$work/initrd"
# The guest's /tmp: a fresh ext4 image (sparse) on every boot.
rm -f "$work/tmp.img"
truncate -s 4G "$work/tmp.img"
mkfs.ext4 -q -F "$work/tmp.img"

started=$(date +%s)
status=0
# One host thread for both vCPUs (thread=single): with thread=multi a 6.12
# guest died of "Oops: int3" in __schedule while the kernel patched its own
# code (a static key flipped by a test): one vCPU ran the stale breakpoint
# after the patch had been synchronised, which multi-threaded TCG does not
# guarantee against. TIERBOX_VM_ACCEL overrides it.
timeout --kill-after=10 "$timeout" qemu-system-x86_64 -accel "${TIERBOX_VM_ACCEL:-tcg,thread=single}" -cpu max -m 2G -smp 2 -nographic \
  -no-reboot -nic user,model=virtio-net-pci \
  -kernel "$work/kernel/vmlinux" -initrd "$work/initrd" \
  -append "console=ttyS0 panic=-1 quiet tierbox.stage2=$root/tools/vm/guest-init.sh tierbox.source=$root tierbox.suites=$suites tierbox.modules=$work/kernel/modules" \
  -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
  -drive file="$work/tmp.img",format=raw,if=virtio \
  </dev/null >"$work/console.log" 2>&1 || status=$?
elapsed=$(($(date +%s) - started))

# Only the guest's own lines count: an early failure prints none of them.
grep -a '^tierbox-vm: ' "$work/console.log" | tr -d '\r' >"$work/report.txt" || true
version=$(cat "$work/kernel/version")
failed=""
[ "$status" -eq 0 ] || failed="qemu exited with $status (124: timed out after $timeout s)"
grep -q '^tierbox-vm: done' "$work/report.txt" || failed="${failed:+$failed; }the guest did not finish"
grep -q '^tierbox-vm: readme task: pass' "$work/report.txt" || failed="${failed:+$failed; }README's task failed"
if [ -n "$suites" ] && ! grep -q '^tierbox-vm: ctest: 100% tests passed' "$work/report.txt"; then
  failed="${failed:+$failed; }ctest failed"
fi
sed "s/^tierbox-vm: /[$name $version] /" "$work/report.txt"
if [ -n "$failed" ]; then
  echo "---- console log of $name ($work/console.log), last 200 lines ----"
  tail -n 200 "$work/console.log"
  echo "[$name $version] FAILED after $elapsed s: $failed"
  exit 1
fi
echo "[$name $version] passed in $elapsed s"
