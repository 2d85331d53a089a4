// What `tierbox redteam` adds to the plan of its own simulated runs
// (TaskRequest::simulation, docs/redteam.md "What a simulation adds"): the
// scenario program's report fd, and the program itself admitted by its
// digest in a tier with allowed_commands. Nothing else of the plan changes.
// Each addition is one line of the plan's overrides, which the request and
// start records carry, so the audit trail says what the simulation added.
#pragma once

#include "policy/launch_plan.h"
#include "policy/planner.h"
#include "policy/request.h"

namespace tierbox::policy {

// Throws Error when the report fd is no fd a task may get (0-2, closed, a
// directory or O_PATH fd, or one the caller passes as well).
void plan_simulation(const TaskRequest& request, const HostFacts& host, LaunchPlan& plan);

}  // namespace tierbox::policy
