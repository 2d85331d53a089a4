#!/bin/sh
# The guest's second stage, PID 1 on the overlay of the host's root (see
# initramfs-init.sh): a pure cgroup v2 machine like a fresh Debian install,
# then the tests, then power off. Every line the host reads starts with
# "tierbox-vm: " (tools/vm/run-guest.sh parses them); the first failure of
# the setup ends the guest without a "done" line, which fails the host.
set -u
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 TERM=dumb

say() { echo "tierbox-vm: $*"; }
echo  # the firmware leaves the console mid-line; the host reads whole lines
power_off() {
  sync
  echo 1 >/proc/sys/kernel/sysrq
  echo o >/proc/sysrq-trigger
  sleep 30
}
fail() { say "setup failed: $*"; power_off; }
param() { sed -n "s/.*tierbox\.$1=\([^ ]*\).*/\1/p" /proc/cmdline; }

mount -t proc proc /proc || fail "mount proc"
mount -t sysfs sysfs /sys || fail "mount sysfs"
mountpoint -q /dev || mount -t devtmpfs devtmpfs /dev || fail "mount devtmpfs"
mkdir -p /dev/pts /dev/shm
mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts || fail "mount devpts"
mount -t tmpfs tmpfs /dev/shm && mount -t tmpfs -o mode=755 tmpfs /run || fail "mount tmpfs"
# What udev would add: /dev/fd (tests pass results through /dev/fd/N) and friends.
ln -sf /proc/self/fd /dev/fd && ln -sf /proc/self/fd/0 /dev/stdin && ln -sf /proc/self/fd/1 /dev/stdout &&
  ln -sf /proc/self/fd/2 /dev/stderr || fail "link /dev/fd"
hostname tierbox-vm

source_dir=$(param source)
suites=$(param suites | tr ',' '|')
# The kernel's own modules (ext4 here; veth and nf_tables when a test asks)
# from the unpacked package, read over 9p; modprobe is the host's kmod.
mkdir -p "/lib/modules/$(uname -r)"
mount --bind "$(param modules)" "/lib/modules/$(uname -r)" || fail "bind the kernel's modules"
# /tmp on ext4, not tmpfs: idmapped mounts on tmpfs need Linux 6.3.
# No udev here: the disk's driver is loaded by hand, devtmpfs makes /dev/vda.
modprobe virtio_blk && modprobe ext4 || fail "modprobe virtio_blk ext4"
for attempt in 1 2 3 4 5 6 7 8 9 10; do [ -b /dev/vda ] && break; sleep 0.5; done
# A checkout under /tmp (CI may clone there) would vanish below the new /tmp:
# keep it reachable at its own path, since the build has it compiled in.
mkdir -p /run/tierbox-source && mount --bind "$source_dir" /run/tierbox-source ||
  fail "bind the source directory $source_dir"
mount -t ext4 /dev/vda /tmp && chmod 1777 /tmp || fail "mount the ext4 disk on /tmp"
case "$source_dir" in
  /tmp/*) mkdir -p "$source_dir" && mount --bind /run/tierbox-source "$source_dir" ||
            fail "bind the source directory back at $source_dir" ;;
esac
ip link set lo up
# QEMU's user-mode network: the tests need an address of the host's own that
# is not loopback (a service there that a sandbox must not reach).
modprobe virtio_net
for attempt in 1 2 3 4 5 6 7 8 9 10; do ip link show eth0 >/dev/null 2>&1 && break; sleep 0.5; done
ip link set eth0 up && ip addr add 10.0.2.15/24 dev eth0 && ip route add default via 10.0.2.2 ||
  fail "configure eth0 (QEMU user network)"

# Pure cgroup v2, as systemd sets it up: nsdelegate, init out of the root
# cgroup, the controllers handed down from the root.
mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup || fail "mount cgroup2"
mkdir /sys/fs/cgroup/init.scope && echo $$ >/sys/fs/cgroup/init.scope/cgroup.procs || fail "move init"
for controller in memory pids cpu io; do
  echo "+$controller" >/sys/fs/cgroup/cgroup.subtree_control || fail "enable the $controller controller"
done
say "ready after $(cut -d' ' -f1 /proc/uptime) s: $(uname -r), cgroup controllers: $(cat /sys/fs/cgroup/cgroup.subtree_control)"

# Runs "$@" in a new cgroup of its own below the root, as
# systemd-run --scope -p Delegate=yes would: tierbox is alone in it.
in_own_cgroup() {
  cgroup=/sys/fs/cgroup/$1
  shift
  mkdir -p "$cgroup"
  sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$cgroup" "$@"
}

cd "$source_dir" || fail "no source directory $source_dir"
readme_task() {
  started=$(cut -d' ' -f1 /proc/uptime)
  in_own_cgroup task-readme build/tierbox run --tier untrusted -- /bin/sh -c 'id; hostname; ls /; cat /proc/1/cmdline' ||
    return 1
  # "says what it could not apply": -v on stderr, the result file, the audit log.
  in_own_cgroup task-true build/tierbox run -v --result /tmp/result.json --tier untrusted -- true || return 1
  say "result landlock: $(python3 -c 'import json; print(json.dumps(json.load(open("/tmp/result.json"))["landlock"]))')"
  say "audit start landlock: $(python3 -c 'import json
records = [json.loads(line) for line in open("/var/log/tierbox/audit.jsonl")]
print(json.dumps([r for r in records if r["event"] == "start"][-1]["landlock"]))')"
  say "tierbox runs took $(awk -v started="$started" '{ printf "%.1f", $1 - started }' /proc/uptime) s"
}
if readme_task; then say "readme task: pass"; else say "readme task: FAIL"; fi

if [ -n "$suites" ]; then
  started=$(cut -d' ' -f1 /proc/uptime)
  # ctest in the root cgroup: the integration tests start tierbox from the
  # test process, so no cgroup below the root would hold tierbox alone (v2's
  # no-internal-processes rule); the root is exempt from that rule.
  echo $$ >/sys/fs/cgroup/cgroup.procs
  # Streamed, so a guest that runs out of time shows how far it got.
  (cd build && ctest -R "^integration\.($suites)_" --output-on-failure -j2 --timeout 600) 2>&1 | tee /tmp/ctest.log
  summary=$(grep -E '^[0-9]+% tests passed' /tmp/ctest.log || echo "no ctest summary")
  say "ctest: $summary"
  say "ctest took $(awk -v started="$started" '{ printf "%.1f", $1 - started }' /proc/uptime) s"
fi
say "done"
power_off
