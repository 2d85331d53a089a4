// make_plan: the pure heart of tierbox. Given a validated profile, the caller's
// request and facts about the host gathered beforehand, it returns the
// complete LaunchPlan, or throws Refusal naming the tier field that forbids
// what was asked. No syscalls here, so every decision is unit-testable.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

#include "policy/launch_plan.h"
#include "policy/profile.h"
#include "policy/request.h"

namespace tierbox::policy {

struct WorkspaceFacts {
  std::string canonical_path;
  bool is_directory = false;
  uid_t owner_uid = 0;
  gid_t owner_gid = 0;
};

// An fd the caller asks to pass to the task, as the runner found it.
struct PassedFdFacts {
  int fd = -1;
  bool open = false;
  bool directory = false;  // a directory, or an O_PATH fd: both lead to paths
};

// What the planner needs to know about the host (gathered by host_facts.cpp).
struct HostFacts {
  std::vector<PassedFdFacts> passed_fds;
  std::optional<WorkspaceFacts> workspace;
  int landlock_abi = 0;  // 0: the kernel has no Landlock
};

LaunchPlan make_plan(const Profile& profile, const TaskRequest& request, const HostFacts& host,
                     const std::string& run_id);

// Limits of `run --secret` values: each, and all of a launch together.
inline constexpr std::size_t kMaxSecretBytes = 64 * 1024;
inline constexpr std::size_t kMaxSecretsTotalBytes = 1024 * 1024;

// The default PATH inside a sandbox whose tier sets none.
inline constexpr const char* kDefaultPath = "/usr/local/bin:/usr/bin:/bin";

}  // namespace tierbox::policy
