// The sandbox's pid 1 after the task is forked: a minimal init. It reaps every
// orphan re-parented to it (so zombies never pile up), forwards the signals
// the runner relays to the task's process group, and when the task itself
// exits it reports the task's wait status on status_fd and exits; the kernel
// then kills whatever else is left in the pid namespace.
#pragma once

#include <sys/types.h>

#include <cstdint>

namespace tierbox::launch {

// What init writes on status_fd when the task has exited.
struct TaskExit {
  int status = 0;                  // the task's wait status
  std::uint64_t reaped_at_ns = 0;  // CLOCK_MONOTONIC when init reaped it
};

[[noreturn]] void run_init(pid_t task, int status_fd) noexcept;

}  // namespace tierbox::launch
