#!/bin/sh
# Fuzzes the DNS parsing of the run's resolver (runner/net/dns_message.cpp)
# with libFuzzer, AddressSanitizer and UBSan, from the corpus in
# tools/fuzz/corpus/dns_message (new inputs go to build-fuzz/corpus-dns).
#
#   tools/fuzz/dns_message.sh [SECONDS]     (default 60)
#
# Shares build-fuzz/ with tools/fuzz/profile_loader.sh. A crash leaves its
# input in build-fuzz/crash-* and exits non-zero.
exec "$(dirname "$0")/run.sh" dns_message_fuzzer 4096 corpus-dns dns_message "$@"
