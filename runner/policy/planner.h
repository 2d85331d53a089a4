// make_plan: the pure heart of tierbox. Given a validated profile, the caller's
// request and facts about the host gathered beforehand, it returns the
// complete LaunchPlan, or throws Refusal naming the tier field that forbids
// what was asked. No syscalls here, so every decision is unit-testable.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
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

// What the planner needs to know about the host (gathered by host_facts.cpp).
struct HostFacts {
  std::optional<WorkspaceFacts> workspace;
  // The caller's hard limits (RLIMIT_* -> value): a tier's rlimit above one
  // is lowered to it, since only CAP_SYS_RESOURCE on the host could raise it.
  std::map<int, std::uint64_t> rlimit_hard;
};

LaunchPlan make_plan(const Profile& profile, const TaskRequest& request, const HostFacts& host,
                     const std::string& run_id);

// The default PATH inside a sandbox whose tier sets none.
inline constexpr const char* kDefaultPath = "/usr/local/bin:/usr/bin:/bin";

}  // namespace tierbox::policy
