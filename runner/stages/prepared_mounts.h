// Parent side of the mounts concern: opens every host path the plan binds as
// a detached tree (open_tree(OPEN_TREE_CLONE)) and sets its attributes while it
// is still detached: read-only, nosuid, nodev, recursively, and for the
// workspace an idmapping. The child later only attaches these trees, so it
// never resolves a host path, and no tree is ever attached writable by
// mistake, not even for a moment.
#pragma once

#include <sys/types.h>

#include <vector>

#include "common/unique_fd.h"
#include "policy/launch_plan.h"

namespace tierbox::stages {

struct PreparedMounts {
  std::vector<UniqueFd> trees;  // one per plan.prepared_mounts; invalid: optional and missing
  [[nodiscard]] std::vector<int> raw_fds() const;
};

// task_host_uid/gid: the task's ids on the host, target of the workspace's
// idmapping. Throws SysError naming the source path.
// only: when given, the mounts to open (one flag per plan.prepared_mounts);
// the others stay invalid fds.
PreparedMounts prepare_mounts(const policy::LaunchPlan& plan, uid_t task_host_uid, gid_t task_host_gid,
                              bool have_mount_setattr, const std::vector<bool>* only = nullptr);

// Whether this kernel has mount_setattr(2) (Linux 5.12).
bool kernel_has_mount_setattr();

}  // namespace tierbox::stages
