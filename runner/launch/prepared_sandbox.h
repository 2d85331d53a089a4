// A sandbox made as far as its plan's per-tier part allows (policy/plan_split.h):
// run slot, cgroups (the v2 part, which clone3 enters), the tier's host trees
// opened and sealed, the seccomp filters compiled, the namespaces made by
// clone3, the id maps written and sync #1 sent; the child builds the tier's
// part of the root and then waits for sync #1b, the run's inputs. A launch is
// prepare() then run_prepared(): launch::launch() does both at once (the cold
// path), a pool (service/pooled_launcher.h) prepares ahead of its requests.
// A prepared sandbox serves exactly one run; destroying it unused kills and
// reaps its child and removes what it made. docs/launch-sequence.md.
#pragma once

#include <memory>
#include <string>

#include "launch/launcher.h"

namespace tierbox::launch {

class PreparedSandbox {
 public:
  // Parent steps 1-7. id names its cgroups (tierbox-ID): the run's own id on
  // the cold path, which registers the run at once (step 2); a fresh one for
  // a sandbox prepared ahead, whose run is registered when it comes. Throws
  // Error as launch() does.
  // exec_listener: the container's exec socket (LaunchHooks), cold path only.
  // pass_fds_sent: the plan's pass_fds are not this process's fds at those
  // numbers but come with the run (LaunchHooks::pass_fd_sources; the
  // daemon), and the child places them.
  static std::unique_ptr<PreparedSandbox> prepare(const policy::LaunchPlan& plan, const policy::RunnerConfig& config,
                                                   const std::string& id, int exec_listener = -1,
                                                   bool pass_fds_sent = false);
  ~PreparedSandbox();
  PreparedSandbox(const PreparedSandbox&) = delete;
  PreparedSandbox& operator=(const PreparedSandbox&) = delete;

  // True while the child waits for its run: it has neither exited nor sent
  // anything (a failure in the tier's part of the root).
  [[nodiscard]] bool waiting() const;
  [[nodiscard]] const std::string& id() const;

  struct State;

 private:
  explicit PreparedSandbox(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
  friend Outcome run_prepared(std::unique_ptr<PreparedSandbox> sandbox, const policy::LaunchPlan& plan,
                              const policy::RunnerConfig& config, const LaunchHooks& hooks);
};

// Parent steps 7b-14 for plan, whose prepared_key (policy/plan_split.h) must be
// the one the sandbox was prepared with: the run's own trees and inputs (sync
// #1b), the run's record, the audit hook, sync #2, supervision, cleanup.
Outcome run_prepared(std::unique_ptr<PreparedSandbox> sandbox, const policy::LaunchPlan& plan,
                     const policy::RunnerConfig& config, const LaunchHooks& hooks);

}  // namespace tierbox::launch
