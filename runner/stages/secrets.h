// Child side: the per-run secrets directory. build_root has mounted an empty
// tmpfs at the plan's target (nosuid, nodev, noexec); here, after pivot_root,
// each secret becomes a file there, mode 0400 and owned by the task's uid,
// the directory 0500 and the task's, and the mount is made read-only. Only
// the task's uid can read them; nothing can change them.
#pragma once

#include <sys/types.h>

#include "policy/launch_plan.h"
#include "stages/child_failure.h"

namespace tierbox::stages {

bool write_secrets(const policy::SecretsPlan& secrets, uid_t task_uid, gid_t task_gid, ChildFailure& failure) noexcept;

}  // namespace tierbox::stages
