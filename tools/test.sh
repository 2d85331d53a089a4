#!/bin/sh
# Installs missing dependencies, builds, and runs the whole test suite (unit
# and integration; integration tests create real sandboxes and need root).
set -eu
cd "$(dirname "$0")/.."
tools/build.sh
cd build
ctest --output-on-failure -j "$(nproc)" "$@"
