#!/bin/sh
# Installs what tierbox needs to build and test, from Debian 12's packages,
# skipping what is already there. Run as root. gcc, git and python3 are the
# workload the integration tests run inside sandboxes (docs/seccomp.md).
set -eu

PACKAGES="
  cmake g++ make pkg-config
  libcap-dev libseccomp-dev libmnl-dev libnftnl-dev
  nlohmann-json3-dev libspdlog-dev libfmt-dev libcli11-dev
  libboost-test-dev libsodium-dev
  iproute2 nftables util-linux procps
  bubblewrap hyperfine
  clang libclang-rt-14-dev
  gcc git python3
"
# Test suite only: tests/schema/check_schemas.py validates the shipped files against profiles/schema/.
PACKAGES="$PACKAGES python3-jsonschema"
# Root filesystem images (issue 22): libarchive for tierbox-rootfs (import of
# tarballs and OCI archives); busybox-static, the shell of the `minimal` image
# (tierbox rootfs build minimal fetches it with apt-get download when absent).
PACKAGES="$PACKAGES libarchive-dev busybox-static"

# --- kernel matrix (tools/vm, docs/testing.md): QEMU, a static busybox for the
# guests' initramfs, kmod's depmod and modprobe, mkfs.ext4 for their /tmp.
VM_TEST_PACKAGES="qemu-system-x86 busybox-static kmod e2fsprogs"
# --- end kernel matrix

missing=""
for package in $PACKAGES $VM_TEST_PACKAGES; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $package"
  fi
done

if [ -n "$missing" ]; then
  echo "tierbox: installing:$missing" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
