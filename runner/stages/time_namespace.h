// Child side: a time namespace for the task, the one namespace the sandbox
// otherwise shared with the host. Inside it CLOCK_MONOTONIC and
// CLOCK_BOOTTIME count from the sandbox's start, and so do /proc/uptime, the
// boot time in /proc/stat and every process's start time in /proc/PID/stat:
// what tools print is the sandbox's, not the host's uptime (which dates the
// host's last reboot, and so its kernel patch level). It is not a secret kept:
// the kernel shows every process its namespace's offsets in
// /proc/self/timens_offsets, world-readable and beyond a mount's reach, and
// they are the host's uptime, negated (docs/threat-model.md).
//
// unshare(CLONE_NEWTIME) puts only the child's future children in the new
// namespace (init stays in the host's, so its own clocks are the runner's);
// its offsets can be set until the first process enters it. The task, started
// with CLONE_VM|CLONE_VFORK, enters it at execve (Linux 6.0+; older kernels
// refuse CLONE_VM across time namespaces, and the task is started without it).
#pragma once

#include <time.h>

#include <cstddef>
#include <cstdint>

#include "stages/child_failure.h"

namespace tierbox::stages {

// The sandbox's clocks read this many seconds (plus the host clocks'
// fraction) when the offsets are set. Not 0: init was created a moment
// before, and a start time before the namespace's zero would read as a huge
// unsigned number in /proc/1/stat (ps shows garbage).
inline constexpr long kSandboxClockStartSeconds = 1;

// A time namespace's offsets, as /proc/PID/timens_offsets shows them.
struct ClockOffsets {
  std::int64_t monotonic_ns = 0;
  std::int64_t boottime_ns = 0;
};

// Pure: parses that file's text ("monotonic S NS" and "boottime S NS" lines,
// any spacing); false when it is not that. No allocation (the child calls it
// after clone).
bool parse_time_offsets(const char* text, std::size_t length, ClockOffsets& out) noexcept;

// The text written to /proc/self/timens_offsets: "monotonic -S 0\nboottime
// -S 0\n", offsets that make the sandbox's clocks read
// kSandboxClockStartSeconds now. The clocks were read in a namespace with
// offsets `current` (zero in the host's); the kernel applies a namespace's
// offsets to the host's clocks, so `current` comes off first (tierbox run
// inside a time namespace of its own). Pure; fills buffer. Returns the text's
// length, 0 if it does not fit.
std::size_t format_time_offsets(const struct timespec& monotonic_now, const struct timespec& boottime_now,
                                const ClockOffsets& current, char* buffer, std::size_t capacity) noexcept;

// unshare(CLONE_NEWTIME), then the offsets above. Needs CAP_SYS_ADMIN and
// CAP_SYS_TIME in the sandbox's user namespace (before capabilities drop),
// and a /proc of the sandbox's pid namespace.
bool enter_time_namespace_for_children(ChildFailure& failure) noexcept;

}  // namespace tierbox::stages
