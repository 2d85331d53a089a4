#!/bin/sh
# Fuzzes the daemon's request parser (framing, version, type, run and signal
# messages; runner/daemon/protocol.cpp) with libFuzzer, AddressSanitizer and
# UBSan, as tools/fuzz/profile_loader.sh does the profile loader.
#
#   tools/fuzz/daemon_request.sh [SECONDS]     (default 60)
exec "$(dirname "$0")/run.sh" daemon_request_fuzzer 65536 corpus-daemon daemon_request "$@"
