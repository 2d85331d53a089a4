// The child's side of a launch: what it is given, and the one function that
// carries out the plan in a fixed order (see docs/launch-sequence.md).
//
// Everything here was allocated by the parent before clone. After clone the
// child does not allocate, throw or log: it reports its first failure as
// {step, errno, detail} on the sync socket and _exits.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "launch/run_inputs.h"
#include "policy/launch_plan.h"
#include "stages/capabilities.h"
#include "stages/seccomp.h"

namespace tierbox::launch {

struct ChildContext {
  const policy::LaunchPlan* plan = nullptr;
  int sync_fd = -1;    // the child's end of the SEQPACKET pair
  int status_fd = -1;  // write end of the pipe init reports the task's status on
  // The container's exec socket, listening (the OCI runtime mode): init
  // serves `exec` on it (exec_server.h); -1: none. Not the task's.
  int exec_listener = -1;
  // Detached trees, one per plan->prepared_mounts: the tier's opened before
  // clone, the run's (-1 until then) filled in by the child from sync #1b.
  mutable std::vector<int> prepared_fds;
  // The plan's pass_fds come with sync #1b, after fds 0-2 (the daemon's
  // caller's), and the child dups each to its number; false: inherited there.
  bool pass_fds_sent = false;
  std::vector<int> own_fds;       // sorted: keep_fds and the prepared trees: all the child keeps of what clone3 copied
  std::vector<int> keep_fds;      // sorted: fds that survive "close inherited fds"
  std::vector<int> task_keep_fds;  // sorted: the sync fd and the fds the plan passes to the task
  const RunInputs* run = nullptr;  // argv, environment, cwd, rlimits: read after sync #1b
  stages::CapabilityInput capabilities;
  const stages::CompiledSeccomp* seccomp = nullptr;  // installed last, before the task starts
  bool have_mount_setattr = true;
  std::uint64_t ignored_signals = 0;  // bit N-1: signal N is SIG_IGN in the runner
  char* title_area = nullptr;     // the runner's argv+environ memory
  std::size_t title_size = 0;
};

[[noreturn]] void run_child(const ChildContext& context) noexcept;

}  // namespace tierbox::launch
