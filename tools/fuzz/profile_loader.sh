#!/bin/sh
# Fuzzes the profile loader (and the data-class inventory parser, the diff and
# the explainer on whatever loads) with libFuzzer, AddressSanitizer and UBSan.
#
#   tools/fuzz/profile_loader.sh [SECONDS]     (default 60)
#
# Builds build-fuzz/ with clang, starts from the corpus in
# tools/fuzz/corpus/profile_loader (new interesting inputs go to
# build-fuzz/corpus, so the checked-in corpus stays small), and prints
# libFuzzer's summary (execs, coverage). A crash leaves its input in
# build-fuzz/crash-* and exits non-zero.
set -eu
cd "$(dirname "$0")/../.."
seconds="${1:-60}"
command -v clang++ >/dev/null || { echo "tierbox: clang++ missing (tools/install-deps.sh --test)" >&2; exit 1; }
sanitize="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DTIERBOX_BUILD_TESTS=OFF -DTIERBOX_FUZZ=ON -DCMAKE_CXX_FLAGS="$sanitize" -DCMAKE_C_FLAGS="$sanitize" >/dev/null
cmake --build build-fuzz -j2 --target profile_loader_fuzzer >/dev/null
mkdir -p build-fuzz/corpus
cd build-fuzz
exec ./profile_loader_fuzzer -max_total_time="$seconds" -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
  -print_final_stats=1 corpus ../tools/fuzz/corpus/profile_loader
