#!/bin/sh
# Installs missing dependencies, then builds into build/.
#   tools/build.sh           what running needs: tierbox and tierbox-net
#   tools/build.sh --tests   everything: the tests, the probe, the benchmarks
#                            (and their packages; tools/test.sh runs this)
set -eu
cd "$(dirname "$0")/.."
case "${1:-}" in
  "") tools/install-deps.sh
      cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
      # tierbox depends on tierbox-net, the only program a run starts.
      cmake --build build -j "$(nproc)" --target tierbox ;;
  --tests) tools/install-deps.sh --test
      cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTIERBOX_BUILD_TESTS=ON >/dev/null
      cmake --build build -j "$(nproc)" ;;
  *) echo "usage: tools/build.sh [--tests]" >&2; exit 2 ;;
esac
