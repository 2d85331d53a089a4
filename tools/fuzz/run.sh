#!/bin/sh
# What every fuzz script here does: builds build-fuzz/ with clang, libFuzzer,
# AddressSanitizer and UBSan, then runs one fuzzer from its checked-in corpus
# (new interesting inputs go to build-fuzz/OUT, so the checked-in corpus stays
# small) and prints libFuzzer's summary. A crash leaves its input in
# build-fuzz/crash-* and exits non-zero.
#
#   tools/fuzz/run.sh TARGET MAX_LEN OUT CORPUS [SECONDS]     (default 60)
set -eu
target=$1 max_len=$2 out=$3 corpus=$4 seconds="${5:-60}"
cd "$(dirname "$0")/../.."
command -v clang++ >/dev/null || { echo "tierbox: clang++ missing (tools/install-deps.sh --test)" >&2; exit 1; }
sanitize="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DTIERBOX_BUILD_TESTS=OFF -DTIERBOX_FUZZ=ON -DCMAKE_CXX_FLAGS="$sanitize" -DCMAKE_C_FLAGS="$sanitize" >/dev/null
cmake --build build-fuzz -j2 --target "$target" >/dev/null
mkdir -p "build-fuzz/$out"
cd build-fuzz
exec "./$target" -max_total_time="$seconds" -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 \
  -print_final_stats=1 "$out" "../tools/fuzz/corpus/$corpus"
