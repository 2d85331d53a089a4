// execve of a command name the way execvp(3) searches PATH, for the two
// places that start a process inside a sandbox after clone, where nothing
// may allocate: the task (child.cpp) and a process `tierbox oci exec` starts
// (exec_server.cpp). glibc's execvpe allocates, and takes PATH from the
// caller's environment rather than the one given.
#pragma once

namespace tierbox::launch {

// Tries each directory of search_path (":"-separated; an empty entry is the
// working directory) for file. Returns only on failure: EACCES when some
// candidate was found but not executable, the first other error than
// ENOENT/ENOTDIR at once (as execvp), else ENOENT. A file with a '/' is
// executed as it is. Async-signal-safe.
int exec_searching(const char* search_path, const char* file, char* const argv[], char* const envp[]) noexcept;

}  // namespace tierbox::launch
