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
exec "$(dirname "$0")/run.sh" profile_loader_fuzzer 8192 corpus profile_loader "$@"
