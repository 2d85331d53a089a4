// Child side of cgroup v1 placement: the child moves itself into the run's
// cgroups right after sync #2, before anything of the task runs and before
// it enters its cgroup namespace (cgroup v2 needs none: clone3 put it there
// with CLONE_INTO_CGROUP).
//
// Why the child and not the parent, and `tasks` rather than cgroup.procs:
// moving another process, or a whole thread group, write-locks the kernel's
// global cgroup_threadgroup_rwsem, which waits for an RCU grace period
// (measured 5-13 ms on this machine under load). A single thread moving
// itself ("0" written to `tasks`) skips that lock; the child is one thread.
// The parent opened the files (as root) and sent them with sync #2: the
// kernel checks the opener's credentials, so the child, in its own user
// namespace, may write them. It closes them at once: an fd opened by root on
// a `tasks` file could move any process.
#pragma once

#include <cstddef>

#include "stages/child_failure.h"

namespace tierbox::stages {

// Writes "0" to each fd (a `tasks` file) and closes it.
bool join_cgroups(const int* fds, std::size_t count, ChildFailure& failure) noexcept;

}  // namespace tierbox::stages
