#!/bin/sh
# The kernel matrix CI runs after the host's ctest (tools/test.sh): each of
# Debian's kernels below boots in a VM with pure cgroup v2 and runs README's
# first task and the integration suites that exercise kernel-dependent code
# (docs/testing.md says which are left out, and why). One line per kernel
# with its pass count; exits non-zero if any guest failed.
set -u
cd "$(dirname "$0")/../.."

# The integration suites (ctest's integration.<prefix>_*) run in every guest.
SUITES=${TIERBOX_VM_SUITES:-sandbox,limits,control,seccomp,landlock,network,oci}

# name, Debian suite of its kernel
KERNELS="
debian12-6.1 bookworm
debian12-bpo-6.12 bookworm-backports
"

status=0
summary=""
echo "$KERNELS" | {
  while read -r name suite; do
    [ -n "$name" ] || continue
    if tools/vm/run-guest.sh "$name" "$suite" "$SUITES"; then result=passed; else result=FAILED; status=1; fi
    counts=$(sed -n 's/^tierbox-vm: ctest: //p' "build/vm/$name/report.txt" 2>/dev/null)
    summary="$summary
  $name ($(cat "build/vm/$name/kernel/version" 2>/dev/null)): $result; ${counts:-no ctest summary}"
  done
  echo "tierbox kernel matrix (suites: $SUITES):$summary"
  exit $status
}
