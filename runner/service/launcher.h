// The launcher behind run_task(): the real one carries out the plan in a
// sandbox (launch/launcher.h); a test passes a fake, so the whole sequence
// of policy, approval and audit runs without root.
#pragma once

#include "launch/launcher.h"

namespace tierbox::service {

class Launcher {
 public:
  virtual ~Launcher() = default;
  // As launch::launch(): calls hooks.before_start once the sandbox exists,
  // hooks.start_durable before the task may start and hooks.after_end when
  // the task ended; throws Error when the launch fails.
  virtual launch::Outcome launch(const policy::LaunchPlan& plan, const policy::RunnerConfig& config,
                                 const launch::LaunchHooks& hooks) = 0;
};

// launch::launch(), the sandbox itself.
class SandboxLauncher final : public Launcher {
 public:
  launch::Outcome launch(const policy::LaunchPlan& plan, const policy::RunnerConfig& config,
                         const launch::LaunchHooks& hooks) override {
    return launch::launch(plan, config, hooks);
  }
};

}  // namespace tierbox::service
