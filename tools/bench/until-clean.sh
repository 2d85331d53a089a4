#!/bin/sh
# Runs "$@" with its stdout and stderr on a pipe and returns when the pipe
# closes: for tierbox in mode allowlist that is when the network helper,
# which holds stderr, has removed the run's veth pair too.
"$@" 2>&1 | cat >/dev/null
