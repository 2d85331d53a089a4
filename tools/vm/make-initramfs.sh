#!/bin/sh
# Builds the guest's initramfs: Debian's static busybox, the modules that
# mount the host's root (virtio, 9p, overlay: the dependency closure from
# the kernel package's modules.dep, .ko.xz decompressed because busybox
# cannot read it) and tools/vm/initramfs-init.sh as /init.
#
# usage: tools/vm/make-initramfs.sh KERNEL_DIR OUTPUT
#   KERNEL_DIR: what fetch-kernel.sh wrote
set -eu
kernel_dir=$1
output=$2
here=$(cd "$(dirname "$0")" && pwd)
version=$(cat "$kernel_dir/version")
modules=$kernel_dir/modules
tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT

busybox=$(command -v busybox || true)
[ -n "$busybox" ] && file -L "$busybox" | grep -q 'statically linked' ||
  { echo "make-initramfs: a static busybox is needed (fix: apt-get install busybox-static)" >&2; exit 1; }
mkdir -p "$tree/bin" "$tree/lib/modules/$version"
cp "$busybox" "$tree/bin/busybox"
cp "$here/initramfs-init.sh" "$tree/init"
chmod 755 "$tree/init"

# The modules' paths in load order: each module after its dependencies.
closure() {
  awk -v wanted="$*" '
    BEGIN { split(wanted, names, " ") }
    { file = $1; sub(/:$/, "", file); base = file; sub(/.*\//, "", base); sub(/\.ko(\.xz|\.zst)?$/, "", base)
      gsub(/-/, "_", base); deps[base] = ""; path[base] = file
      for (i = NF; i >= 2; i--) { d = $i; sub(/.*\//, "", d); sub(/\.ko(\.xz|\.zst)?$/, "", d); gsub(/-/, "_", d); deps[base] = deps[base] " " d } }
    function visit(name,   list, n, i) {
      if (name in seen || !(name in path)) return
      seen[name] = 1
      n = split(deps[name], list, " ")
      for (i = 1; i <= n; i++) visit(list[i])
      print path[name]
    }
    END { for (i = 1; i in names; i++) visit(names[i]) }' "$modules/modules.dep"
}

# virtio_pci is built in on 6.12 and a module on 6.1: closure skips what is built in.
for module in $(closure virtio_pci 9pnet_virtio 9p overlay); do
  mkdir -p "$tree/lib/modules/$version/$(dirname "$module")"
  case $module in
    *.xz) xz -dc "$modules/$module" >"$tree/lib/modules/$version/${module%.xz}" ;;
    *.zst) zstd -dcq "$modules/$module" >"$tree/lib/modules/$version/${module%.zst}" ;;
    *) cp "$modules/$module" "$tree/lib/modules/$version/$module" ;;
  esac
done
for index in modules.builtin modules.builtin.modinfo modules.order; do
  [ ! -e "$modules/$index" ] || cp "$modules/$index" "$tree/lib/modules/$version/"
done
depmod -b "$tree" "$version"
(cd "$tree" && find . | busybox cpio -o -H newc 2>/dev/null) | gzip -1 >"$output"
