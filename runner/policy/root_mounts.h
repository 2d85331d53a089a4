// plan_root_mounts: the mount-op part of make_plan (planner.h), split out so
// the planner holds the checks and decisions and root_mounts.cpp the new
// root's layout. Pure: no syscalls; the child carries the ops out in order.
#pragma once

#include "policy/launch_plan.h"
#include "policy/planner.h"
#include "policy/profile.h"
#include "policy/request.h"

namespace tierbox::policy {

// Appends to plan, in the order the child carries them out, the mount ops
// and prepared mounts of the sandbox's root, plan.secrets, the placeholders
// of protected trees and first_run_op (the start of the per-run part,
// policy/plan_split.h). Reads what make_plan has already decided: the
// workspace, network mode and egress, hostname and rootfs image.
void plan_root_mounts(const Profile& profile, const TaskRequest& request, const HostFacts& host, LaunchPlan& plan);

}  // namespace tierbox::policy
