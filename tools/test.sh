#!/bin/sh
# Installs missing dependencies (the test set too), builds everything, and runs
# the whole test suite (unit and integration; integration tests create real
# sandboxes and need root).
set -eu
cd "$(dirname "$0")/.."
tools/build.sh --tests
cd build
ctest --output-on-failure -j "$(nproc)" "$@"
