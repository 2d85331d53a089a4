// The parent <-> child channel: a SOCK_SEQPACKET socketpair, one fixed-size
// message per sync point, so a message is never split or merged. The numbers
// are the sync points of docs/launch-sequence.md, the same on both sides:
//   #1 parent -> child: id maps written
//   #1b parent -> child: the run's inputs: the task's fds 0-2 and the run's
//      own trees (SCM_RIGHTS, in one message or more of kMaxSyncFds fds), its
//      argv, environment, cwd and rlimits in the shared block (run_inputs.h).
//      Sent at once on the cold path; when the request comes for a sandbox
//      prepared ahead (prepared_sandbox.h)
//   #2 parent -> child: network ready; carries the cgroup v1 `tasks` fds the
//      child joins its cgroups through (stages/cgroup_join.h)
//   #2b parent -> child: the run's start record is on disk (its fsync ran
//      while the child did the steps after #2); the child installs its
//      seccomp filters and starts the task only after it
//   #3 child  -> parent: setup done, about to exec
//   failure   child  -> parent: {step, errno, detail}; the child then exits
// After #3 the child's end is close-on-exec: EOF means exec succeeded; a
// failure message instead means exec failed.
#pragma once

#include <cstddef>
#include <cstdint>

#include "launch/child_step.h"

namespace tierbox::launch {

enum class SyncKind : std::uint32_t {
  ids_mapped = 1,
  network_ready = 2,
  set_up = 0x2a,  // child -> parent: every step before the task's is done
  start_allowed = 0x2b,
  ready_to_exec = 3,
  run_inputs = 0x1b,
  failure = 0xfa11,
};

struct SyncMessage {
  SyncKind kind = SyncKind::failure;
  ChildStep step = ChildStep::count;
  std::int32_t err = 0;
  // #3: init's seccomp listener fd number (count_denials), -1 for none;
  // the parent takes a copy with pidfd_getfd.
  std::int32_t seccomp_listener = -1;
  // #1b: how many fds the parent sends in all (its messages each carry up to
  // kMaxSyncFds), and which of the run's trees are missing (bit N: the Nth
  // per-run attach op's optional source does not exist).
  std::uint32_t fds_total = 0;
  std::uint64_t missing_trees = 0;
  // CLOCK_MONOTONIC at the end of each child step, for `run -v`.
  std::uint64_t step_done_ns[kChildStepCount] = {};
  char detail[256] = {};
};

// Child side: no allocation, no exceptions. Return false when the socket
// failed or the parent went away (EOF).
bool send_sync(int fd, const SyncMessage& message) noexcept;
bool receive_sync(int fd, SyncKind expected) noexcept;

// The same with file descriptors attached (SCM_RIGHTS), at most kMaxSyncFds.
// Received fds are close-on-exec; *count says how many arrived.
inline constexpr std::size_t kMaxSyncFds = 8;
bool send_sync_with_fds(int fd, const SyncMessage& message, const int* fds, std::size_t count) noexcept;
bool receive_sync_with_fds(int fd, SyncKind expected, int* fds, std::size_t* count) noexcept;
// The same, keeping the message (#1b's counts).
bool receive_sync_message(int fd, SyncKind expected, SyncMessage& message, int* fds, std::size_t* count) noexcept;

}  // namespace tierbox::launch
