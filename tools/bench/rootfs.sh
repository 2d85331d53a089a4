#!/bin/sh
# Image tiers (docs/rootfs.md): launch of /bin/true in `sealed` (image
# minimal) and, when built, `sealed-debian` (image debian), against
# `untrusted` on the host's /usr, interleaved in one run
# (tools/bench/launch_bench.cpp; the reference, last, is untrusted). With
# --build-debian it first times `tierbox rootfs build debian` (mmdebstrap
# from Debian's archive, then the store's unpack and manifest).
#
#   tools/bench/rootfs.sh [--build-debian] [--runs N] [--seconds S]
#
# The images go to a store of the benchmark's own,
# /var/tmp/tierbox-bench/rootfs (kept between runs: a debian build once).
set -eu
cd "$(dirname "$0")/../.."
[ -x build/tierbox ] && [ -x build/tierbox-rootfs ] && [ -x build/launch_bench ] || tools/build.sh --tests >/dev/null
bench=/var/tmp/tierbox-bench
config="$bench/rootfs-config"
mkdir -p "$config"
# The benchmarks' approval matrix (their tiers need no approval) and a store.
sed 's/"tiers": \[[^]]*\]/"tiers": ["untrusted", "sealed", "sealed-debian"]/' tools/bench/approvals.json >"$config/approvals.json"
printf '{"rootfs_dir": "%s/rootfs"}\n' "$bench" >"$config/tierbox.json"
export TIERBOX_CONFIG_DIR="$config"
export TIERBOX_AUDIT_LOG="${TIERBOX_AUDIT_LOG:-$bench/audit.jsonl}"

echo "# $(uname -r), $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ), load $(cut -d' ' -f1-3 /proc/loadavg)"
if [ "${1:-}" = --build-debian ]; then
  shift
  start=$(date +%s%N)
  build/tierbox rootfs build debian | head -1
  end=$(date +%s%N)
  echo "rootfs build debian: $(( (end - start) / 1000000 )) ms wall"
fi
build/tierbox rootfs build minimal | head -1
tiers="sealed"
build/tierbox rootfs list | grep -q '^debian ' && tiers="sealed sealed-debian"
commands=""
for tier in $tiers; do
  commands="$commands $tier=$(pwd)/build/tierbox@run@--tier@$tier@--@/bin/true"
done
# launch_bench splits each command on spaces; @ stands for them here.
set -- "$@"
for command in $commands; do set -- "$@" "$(echo "$command" | tr @ ' ')"; done
exec build/launch_bench "$@" "untrusted=$(pwd)/build/tierbox run --tier untrusted -- /bin/true"
