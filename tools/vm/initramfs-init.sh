#!/bin/busybox sh
# The guest's first stage (PID 1 in the initramfs): mount the host's root,
# shared read-only over 9p, under a tmpfs overlay (so the guest may write
# where it likes, in its own memory), and switch to it. The second stage,
# tools/vm/guest-init.sh, comes from the host's root. Any failure powers
# the guest off at once: the host sees no result line and fails.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc 2>/dev/null || { mkdir -p /proc && mount -t proc proc /proc; }
mkdir -p /sys /dev /lower /upper /newroot
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

fail() {
  echo "tierbox-vm: initramfs: $*"
  echo 1 >/proc/sys/kernel/sysrq
  echo o >/proc/sysrq-trigger
  sleep 10
}

for module in virtio_pci 9pnet_virtio 9p overlay; do
  modprobe "$module" 2>/dev/null || grep -q "/$module.ko" "/lib/modules/$(uname -r)/modules.builtin" 2>/dev/null ||
    [ -d "/sys/module/$module" ] || fail "modprobe $module failed"
done
# cache=loose: the host's files do not change during a run; 9p without a
# cache makes every stat a round trip through the emulated virtio queue.
mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=512000 hostroot /lower || fail "mount 9p hostroot"
mount -t tmpfs -o size=1500m tmpfs /upper || fail "mount tmpfs /upper"
mkdir -p /upper/upper /upper/work
mount -t overlay -o lowerdir=/lower,upperdir=/upper/upper,workdir=/upper/work overlay /newroot || fail "mount overlay"
stage2=$(sed -n 's/.*tierbox.stage2=\([^ ]*\).*/\1/p' /proc/cmdline)
[ -x "/newroot$stage2" ] || fail "no stage 2 at $stage2"
umount /sys /proc
mount --move /dev /newroot/dev 2>/dev/null || umount /dev
exec switch_root /newroot "$stage2"
