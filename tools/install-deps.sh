#!/bin/sh
# Installs what tierbox needs from Debian 12's packages, skipping what is
# already there. Run as root.
#   tools/install-deps.sh          what building and running tierbox need
#   tools/install-deps.sh --test   that and what the tests, benchmarks and
#                                  fuzzer need (tools/test.sh)
# gcc, git and python3 in the test set are the workload the integration tests
# run inside sandboxes (docs/seccomp.md).
set -eu

RUN_PACKAGES="
  cmake g++ make pkg-config
  libcap-dev libseccomp-dev libmnl-dev libnftnl-dev libsodium-dev
  nlohmann-json3-dev libspdlog-dev libfmt-dev libcli11-dev
"
TEST_PACKAGES="
  libboost-test-dev
  iproute2 nftables util-linux procps
  bubblewrap hyperfine
  clang libclang-rt-14-dev
  gcc git python3
"

case "${1:-}" in
  "") packages="$RUN_PACKAGES" ;;
  --test) packages="$RUN_PACKAGES $TEST_PACKAGES" ;;
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
