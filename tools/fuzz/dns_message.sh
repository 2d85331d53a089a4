#!/bin/sh
# Fuzzes the DNS parsing of the run's resolver (runner/net/dns_message.cpp)
# with libFuzzer, AddressSanitizer and UBSan, from the corpus in
# tools/fuzz/corpus/dns_message (new inputs go to build-fuzz/corpus-dns).
#
#   tools/fuzz/dns_message.sh [SECONDS]     (default 60)
#
# Shares build-fuzz/ with tools/fuzz/profile_loader.sh. A crash leaves its
# input in build-fuzz/crash-* and exits non-zero.
set -eu
cd "$(dirname "$0")/../.."
seconds="${1:-60}"
command -v clang++ >/dev/null || { echo "tierbox: clang++ missing (tools/install-deps.sh --test)" >&2; exit 1; }
sanitize="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DTIERBOX_BUILD_TESTS=OFF -DTIERBOX_FUZZ=ON -DCMAKE_CXX_FLAGS="$sanitize" -DCMAKE_C_FLAGS="$sanitize" >/dev/null
cmake --build build-fuzz -j2 --target dns_message_fuzzer >/dev/null
mkdir -p build-fuzz/corpus-dns
cd build-fuzz
exec ./dns_message_fuzzer -max_total_time="$seconds" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
  -print_final_stats=1 corpus-dns ../tools/fuzz/corpus/dns_message
