// The last steps before execve of a process started inside a sandbox, after
// clone, where nothing may allocate: the task (child.cpp) and a process
// `tierbox oci exec` starts (exec_server.cpp) take the same two.
#pragma once

#include <cstdint>

namespace tierbox::launch {

// Every signal in ignored (bit N-1 for signal N) back to SIG_DFL, and none
// blocked: SIG_IGN survives execve (handlers do not), so the process would
// otherwise inherit what the runner's caller ignored. Raw rt_sigaction,
// because glibc's sigaction refuses the two real-time signals it reserves,
// which a caller may have ignored too.
void reset_signals(std::uint64_t ignored) noexcept;

// execve of a command name the way execvp(3) searches PATH (glibc's
// execvpe allocates, and takes PATH from the caller's environment rather
// than the one given).

// Tries each directory of search_path (":"-separated; an empty entry is the
// working directory) for file. Returns only on failure: EACCES when some
// candidate was found but not executable, the first other error than
// ENOENT/ENOTDIR at once (as execvp), else ENOENT. A file with a '/' is
// executed as it is. Async-signal-safe.
int exec_searching(const char* search_path, const char* file, char* const argv[], char* const envp[]) noexcept;

}  // namespace tierbox::launch
