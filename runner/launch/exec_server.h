// Child side: the sandbox's init serving `exec` requests (exec_protocol.h)
// between the task's start and its end. A new process is init's child, so
// it inherits, by construction, everything the task got: the namespaces,
// the cgroups, the rlimits, the Landlock domain, no capabilities,
// no_new_privs, the task's uid and gid, the seccomp filter. It gets only
// what the request names besides: argv, environment (filtered by the client
// through the tier's environment rules), working directory and fds 0-2. It
// runs in a session of its own (the container's signals go to the task's
// process group); when the task ends, init ends it with the rest of the tree.
//
// No heap, no exceptions: a static buffer and table.
#pragma once

#include <sys/types.h>

#include <cstdint>

namespace tierbox::launch {

struct ExecServer {
  int listener = -1;      // the container's exec socket, listening
  int signal_fd = -1;     // signalfd of every signal (all are blocked in init)
  std::uint64_t ignored_signals = 0;  // reset to default in each new process
};

// init's loop with exec requests served: as run_init (init.h), waiting on
// signal_fd and listener together.
[[noreturn]] void run_init_serving_exec(pid_t task, int status_fd, const ExecServer& server) noexcept;

}  // namespace tierbox::launch
