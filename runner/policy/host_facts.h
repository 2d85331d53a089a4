// Gathers the host facts the planner needs (the workspace's canonical path and
// owner), so make_plan itself stays free of syscalls.
#pragma once

#include "policy/planner.h"
#include "policy/request.h"

namespace tierbox::policy {

HostFacts gather_host_facts(const TaskRequest& request);

// The kernel's Landlock ABI (landlock_create_ruleset with
// LANDLOCK_CREATE_RULESET_VERSION), 0 when it has none or it is disabled.
int kernel_landlock_abi();

}  // namespace tierbox::policy
