#!/bin/sh
# Fuzzes the daemon's request parser (framing, version, type, run and signal
# messages; runner/daemon/protocol.cpp) with libFuzzer, AddressSanitizer and
# UBSan, as tools/fuzz/profile_loader.sh does the profile loader.
#
#   tools/fuzz/daemon_request.sh [SECONDS]     (default 60)
set -eu
cd "$(dirname "$0")/../.."
seconds="${1:-60}"
command -v clang++ >/dev/null || { echo "tierbox: clang++ missing (tools/install-deps.sh --test)" >&2; exit 1; }
sanitize="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DTIERBOX_BUILD_TESTS=OFF -DTIERBOX_FUZZ=ON -DCMAKE_CXX_FLAGS="$sanitize" -DCMAKE_C_FLAGS="$sanitize" >/dev/null
cmake --build build-fuzz -j2 --target daemon_request_fuzzer >/dev/null
mkdir -p build-fuzz/corpus-daemon
cd build-fuzz
exec ./daemon_request_fuzzer -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
  -print_final_stats=1 corpus-daemon ../tools/fuzz/corpus/daemon_request
