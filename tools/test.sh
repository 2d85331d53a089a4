#!/bin/sh
# Installs missing dependencies (the test set too), builds everything, and runs the whole test suite (unit
# and integration; integration tests create real sandboxes and need root),
# then the kernel matrix: the kernel-dependent integration suites again in
# VMs on Debian 12's 6.1 and Debian's 6.12, pure cgroup v2 (tools/vm,
# docs/testing.md). Either failing fails the run. TIERBOX_SKIP_VM=1 skips the
# matrix (it says so), e.g. when running a few suites with ctest arguments.
set -eu
cd "$(dirname "$0")/.."
tools/build.sh --tests
host_status=0
(cd build && ctest --output-on-failure -j "$(nproc)" "$@") || host_status=$?
vm_status=0
if [ "${TIERBOX_SKIP_VM:-0}" = 1 ]; then
  echo "tierbox: the kernel matrix was skipped (TIERBOX_SKIP_VM=1)" >&2
else
  tools/vm/matrix.sh || vm_status=$?
fi
[ "$host_status" -eq 0 ] || echo "tierbox: the host's ctest failed" >&2
[ "$host_status" -eq 0 ] && [ "$vm_status" -eq 0 ]
