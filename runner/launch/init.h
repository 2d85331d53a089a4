// The sandbox's pid 1 after the task is forked: a minimal init. It reaps every
// orphan re-parented to it (so zombies never pile up) and forwards the signals
// the runner relays to the task's process group. When the task itself exits,
// init kills every other process of the sandbox, reaps them all, reports the
// task's wait status and the whole tree's CPU time on status_fd, and exits.
// The report thus means "nothing of the task runs any more": the runner writes
// the end record while the kernel tears the namespaces down.
#pragma once

#include <sys/time.h>
#include <sys/types.h>

#include <cstdint>

namespace tierbox::launch {

// What init writes on status_fd when the task has exited.
struct TaskExit {
  int status = 0;                  // the task's wait status
  std::uint64_t reaped_at_ns = 0;  // CLOCK_MONOTONIC when init reaped it
  // CPU time of the whole tree (every process init reaped, and init itself),
  // in microseconds: what init's rusage would give its parent at its exit.
  std::uint64_t cpu_user_us = 0;
  std::uint64_t cpu_system_us = 0;
};

// A rusage time in microseconds, the unit TaskExit and the run's usage use.
inline std::uint64_t microseconds(const struct timeval& time) noexcept {
  return static_cast<std::uint64_t>(time.tv_sec) * 1'000'000ULL + static_cast<std::uint64_t>(time.tv_usec);
}

[[noreturn]] void run_init(pid_t task, int status_fd) noexcept;

// The task has exited with this wait status: every other process of the
// sandbox is killed and reaped, the report written on status_fd, and init
// exits (run_init's end, and exec_server.h's).
[[noreturn]] void finish_after_task(int status_fd, int status) noexcept;

}  // namespace tierbox::launch
