#!/bin/sh
# The warm path (issue 19): launch-to-exit of /bin/true in `untrusted` through
# service::PooledLauncher, in process with its pool prepared ahead, next to
# the cold path in process (the same run_task, launch::launch behind it), the
# cold CLI (`tierbox run`: a fresh runner per launch, the direct root path)
# and bwrap with the same isolation (launch.sh's line), interleaved in one
# run (tools/bench/pool_bench.cpp). Root only.
#
#   tools/bench/pool.sh [--runs N]
#
# The audit log is on disk (/var/tmp) unless TIERBOX_AUDIT_LOG names another
# (e.g. one on tmpfs under /run).
set -eu
cd "$(dirname "$0")/../.."
[ -x build/tierbox ] && [ -x build/pool_bench ] && command -v bwrap >/dev/null || tools/build.sh --tests >/dev/null
export TIERBOX_CONFIG_DIR="$(pwd)/tools/bench"
export TIERBOX_AUDIT_LOG="${TIERBOX_AUDIT_LOG:-/var/tmp/tierbox-bench/audit.jsonl}"
mkdir -p "$(dirname "$TIERBOX_AUDIT_LOG")"

BWRAP="bwrap --unshare-all --die-with-parent --new-session --cap-drop ALL --uid 1000 --gid 1000 \
--ro-bind /usr /usr --symlink usr/bin /bin --symlink usr/sbin /sbin --symlink usr/lib /lib \
--symlink usr/lib64 /lib64 --ro-bind /etc/ld.so.cache /etc/ld.so.cache --proc /proc --dev /dev \
--tmpfs /tmp --hostname sandbox /bin/true"

echo "# $(uname -r), $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ), audit log $TIERBOX_AUDIT_LOG"
exec build/pool_bench "$@" --config-dir "$TIERBOX_CONFIG_DIR" --config-dir "$(pwd)/profiles" \
  --audit-log "$TIERBOX_AUDIT_LOG" \
  "tierbox-run-cold=$(pwd)/build/tierbox run --tier untrusted -- /bin/true" \
  "bwrap=$(command -v bwrap | sed 's|bwrap$||')${BWRAP}"
