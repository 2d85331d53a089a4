#!/bin/sh
# Installs what tierbox needs from Debian 12's packages, skipping what is
# already there. Run as root.
#   tools/install-deps.sh          what building and running tierbox need
#   tools/install-deps.sh --test   that and what the tests, benchmarks,
#                                  fuzzer and kernel matrix need (tools/test.sh)
# gcc, git and python3 in the test set are the workload the integration tests
# run inside sandboxes (docs/seccomp.md).
set -eu

# libarchive-dev: tierbox-rootfs (image import), which the tierbox target
# builds with it.
RUN_PACKAGES="
  cmake g++ make pkg-config
  libcap-dev libseccomp-dev libmnl-dev libnftnl-dev libsodium-dev
  nlohmann-json3-dev libspdlog-dev libfmt-dev libcli11-dev
  libarchive-dev
"
# python3-jsonschema: tests/schema/check_schemas.py validates the shipped
# files against profiles/schema/. busybox-static: the shell of the `minimal`
# image (tierbox rootfs build minimal fetches it with apt-get download when
# absent) and of the kernel matrix's initramfs. mmdebstrap: builds the
# `debian` image (rootfs/debian.json) from Debian's archive. podman, containerd: the
# OCI runtime mode's engine tests (tests/integration/test_oci.cpp, suite
# oci_engines, which skips without them); containerd brings runc and podman
# crun, the runtimes tools/bench/oci_start.sh compares tierbox with.
TEST_PACKAGES="
  libboost-test-dev
  iproute2 nftables util-linux procps
  bubblewrap hyperfine
  clang libclang-rt-14-dev
  gcc git python3
  python3-jsonschema busybox-static mmdebstrap
  podman containerd
"
# The kernel matrix (tools/vm, docs/testing.md): QEMU, kmod's depmod and
# modprobe, mkfs.ext4 for the guests' /tmp.
VM_TEST_PACKAGES="qemu-system-x86 kmod e2fsprogs"

case "${1:-}" in
  "") packages="$RUN_PACKAGES" ;;
  --test) packages="$RUN_PACKAGES $TEST_PACKAGES $VM_TEST_PACKAGES" ;;
  *) echo "usage: tools/install-deps.sh [--test]" >&2; exit 2 ;;
esac

missing=""
for package in $packages; do
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
