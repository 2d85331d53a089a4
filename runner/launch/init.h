// The sandbox's pid 1 after the task is forked: a minimal init. It reaps every
// orphan re-parented to it (so zombies never pile up), forwards the signals
// the runner relays to the task's process group, and when the task itself
// exits it reports the task's wait status on status_fd and exits; the kernel
// then kills whatever else is left in the pid namespace.
#pragma once

#include <sys/types.h>

namespace tierbox::launch {

[[noreturn]] void run_init(pid_t task, int status_fd) noexcept;

}  // namespace tierbox::launch
