// Child side: process-level settings of the sandbox that are not namespaces or
// mounts, one function each, in the order run_child() calls them.
#pragma once

#include <array>

#include <cstddef>

#include "policy/launch_plan.h"
#include "stages/child_failure.h"

namespace tierbox::stages {

// The child dies with the runner (SIGKILL), so no sandbox outlives it. Set
// again after every uid change: the kernel clears it on credential changes.
bool set_parent_death_signal(ChildFailure& failure) noexcept;

// A new session with no controlling terminal. TIOCSTI (pushing keystrokes into
// a terminal's input, CVE-2017-5226) works only on one's controlling terminal
// without CAP_SYS_ADMIN, so the task cannot type into the caller's shell even
// though its stdio may be that terminal.
bool start_new_session(ChildFailure& failure) noexcept;

bool set_no_new_privs(ChildFailure& failure) noexcept;

// A new, empty session keyring. Without it the sandbox would share the
// caller's session keyring, and "possessor" permissions would let the task
// read keys there (credentials, tokens) whatever their owner.
bool join_new_session_keyring(ChildFailure& failure) noexcept;

bool apply_rlimits(const policy::RlimitSetting* rlimits, std::size_t count, ChildFailure& failure) noexcept;

// Closes every fd except 0, 1, 2 and the sorted list keep (CVE-2024-21626: a
// leaked directory fd is a way back to the host's filesystem).
bool close_fds_except(const int* keep, std::size_t keep_count, ChildFailure& failure) noexcept;

// Parent, before the run's inputs are sent: these fds become the task's 0, 1
// and 2 (the daemon's are the caller's, received over its socket). A
// directory among them (a caller can hand one over) would be a path out of
// the new root, like the leaked fd of CVE-2024-21626; refuse it, an O_PATH fd
// (of no use as stdio, and fstat hides what it names) and a closed one.
// Throws Error.
void check_standard_fds(const std::array<int, 3>& fds);

// Overwrites the memory behind /proc/self/cmdline and /proc/self/environ (the
// runner's own argv and environment, inherited by the child) with title, so
// the sandbox's pid 1 shows neither the caller's command line nor its
// environment to the task.
void set_process_title(char* area, std::size_t area_size, const char* title) noexcept;

}  // namespace tierbox::stages
