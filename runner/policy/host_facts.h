// Gathers the host facts the planner needs (the workspace's canonical path and
// owner), so make_plan itself stays free of syscalls.
#pragma once

#include "policy/planner.h"
#include "policy/request.h"

namespace tierbox::policy {

HostFacts gather_host_facts(const TaskRequest& request);

}  // namespace tierbox::policy
