// The parent's side of a launch: carries out a LaunchPlan and reports the
// Outcome. The order is written once, in launch() (docs/launch-sequence.md).
#pragma once

#include "launch/outcome.h"
#include "policy/launch_plan.h"
#include "policy/runner_config.h"

namespace tierbox::launch {

// Throws tierbox::Error when the parent's own preparation fails; failures in
// the child are reported in Outcome::failure.
Outcome launch(const policy::LaunchPlan& plan, const policy::RunnerConfig& config);

// The runner's argv and environment memory, recorded by main(): the child
// overwrites it so the sandbox's pid 1 does not show the caller's command
// line or environment.
void set_process_title_area(char* area, std::size_t size);

}  // namespace tierbox::launch
