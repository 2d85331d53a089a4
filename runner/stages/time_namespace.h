// Child side: a time namespace for the task. Inside it CLOCK_MONOTONIC and
// CLOCK_BOOTTIME count from the sandbox's start, so the task cannot read how
// long the host has been up: /proc/uptime, the boot time in /proc/stat, every
// process's start time in /proc/PID/stat and the two clocks themselves. The
// host's uptime dates its last reboot (and so its kernel patch level) and,
// with the boot id, tells sandboxes of one host apart from another's.
//
// unshare(CLONE_NEWTIME) puts only the child's future children in the new
// namespace (init stays in the host's, so its own clocks are the runner's);
// its offsets can be set until the first process enters it. The task, started
// with CLONE_VM|CLONE_VFORK, enters it at execve (Linux 6.0+; older kernels
// refuse CLONE_VM across time namespaces, and the task is started without it).
#pragma once

#include <time.h>

#include <cstddef>

#include "stages/child_failure.h"

namespace tierbox::stages {

// The sandbox's clocks read this many seconds (plus the host clocks'
// fraction) when the offsets are set. Not 0: init was created a moment
// before, and a start time before the namespace's zero would read as a huge
// unsigned number in /proc/1/stat (ps shows garbage).
inline constexpr long kSandboxClockStartSeconds = 1;

// The text written to /proc/self/timens_offsets for the host's clocks now:
// "monotonic -S 0\nboottime -S 0\n". Pure; fills buffer (no allocation: the
// child calls it after clone). Returns the text's length, 0 if it does not fit.
std::size_t format_time_offsets(const struct timespec& monotonic_now, const struct timespec& boottime_now,
                                char* buffer, std::size_t capacity) noexcept;

// unshare(CLONE_NEWTIME), then the offsets above. Needs CAP_SYS_ADMIN and
// CAP_SYS_TIME in the sandbox's user namespace (before capabilities drop),
// and a /proc of the sandbox's pid namespace.
bool enter_time_namespace_for_children(ChildFailure& failure) noexcept;

}  // namespace tierbox::stages
