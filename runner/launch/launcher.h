// The parent's side of a launch: carries out a LaunchPlan and reports the
// Outcome. The order is written once, in launch() (docs/launch-sequence.md).
#pragma once

#include <array>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "audit/run_trail.h"
#include "launch/outcome.h"
#include "policy/launch_plan.h"
#include "policy/runner_config.h"

namespace tierbox::launch {

// What the caller does at fixed points of the launch (the audit trail).
struct LaunchHooks {
  // Kept in the run's registry record as resources["audit"] before
  // before_start runs, so `tierbox gc` can append the end record of a run
  // whose runner died; the run's control records go to its log (none:
  // nothing kept, control records go to the configured log).
  std::optional<audit::RunTrail> audit_trail;
  // Called once the sandbox exists (its pid and cgroup directories) and
  // before sync #2, so the task cannot start before it returns; when it
  // throws, the sandbox is killed and the launch fails with that error
  // (fail closed: a start record that cannot be written stops the task).
  std::function<void(pid_t pid, const std::vector<std::string>& cgroups)> before_start;
  // Called after sync #2 and before sync #2b, which the child waits for
  // before its seccomp filters and the task's execve: blocks until what
  // before_start began is durable (the start record's fsync, which runs
  // meanwhile) and until the task may start; throwing kills the sandbox
  // and fails the launch, as before_start does. None: #2b follows #2.
  std::function<void()> start_durable;
  // Called with the final outcome of a task that ran, while the run is still
  // registered (so a runner killed before it returns leaves the run for
  // `tierbox gc`, which then records the end itself). Must not throw.
  std::function<void(const Outcome& outcome)> after_end;
  std::array<int, 3> stdio{0, 1, 2};  // the task's fds 0-2 (the daemon passes the caller's)
  // Empty: the task inherits plan.pass_fds at their own numbers (a direct
  // run: they are its caller's fds). Else one per plan.pass_fds, in its
  // order: this process's fd whose file the task gets at that number (the
  // daemon, whose fd numbers its sessions share: the fd goes with sync #1b
  // and the child dups it into place).
  std::vector<int> pass_fd_sources;
  // false: the entry point relays the caller's signals itself (the daemon,
  // whose own SIGTERM must stop the daemon, not one of its tasks); true: the
  // runner blocks the relayed signals and forwards them (supervisor.h).
  bool relay_signals = true;
  // The OCI runtime mode: the container's exec socket, listening; the
  // sandbox's init serves `exec` on it (exec_server.h). -1: none.
  int exec_listener = -1;
};

// Throws tierbox::Error when the parent's own preparation fails; failures in
// the child are reported in Outcome::failure.
Outcome launch(const policy::LaunchPlan& plan, const policy::RunnerConfig& config, const LaunchHooks& hooks = {});

// The runner's argv and environment memory, recorded by main(): the child
// overwrites it so the sandbox's pid 1 does not show the caller's command
// line or environment.
void set_process_title_area(char* area, std::size_t size);

}  // namespace tierbox::launch
