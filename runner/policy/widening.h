// Applies what a caller asks for at the command line beyond the tier (extra
// binds, network destinations, higher limits) to a copy of the tier, within
// the tier's `widening` section, and lists every such request. Pure.
//
// The host facts and the planner both work on the widened copy, so an extra
// bind goes through exactly the checks a tier's own bind does (data classes,
// protected paths, Landlock) and an extra destination through the allowlist
// machinery. The list (`LaunchPlan::widening`) is what the approval matrix
// matches on (`"widening": [...]` in approvals.json) and what the audit
// trail records.
#pragma once

#include <string>
#include <vector>

#include "policy/profile.h"
#include "policy/request.h"

namespace tierbox::policy {

// One thing a caller asked for at the command line that gives the task more
// than the tier alone would. kind is one of kWideningKinds.
struct Widening {
  std::string kind;
  std::string text;  // "--bind-rw /srv/data:/data", "--memory 8G (tier: 512M)"
};

// bind, bind_rw: an extra read-only / writable bind; network: an extra
// allowlist destination; memory, pids, cpu, wall_time: a limit above the
// tier's; env, secret, pass_fd: values, secret files and fds handed to the
// task (the tier allows them already; they are listed so the matrix can ask
// for an approval when they are used).
inline constexpr const char* kWideningKinds[] = {"bind",      "bind_rw", "network", "memory", "pids",
                                                 "cpu",       "wall_time", "env",   "secret", "pass_fd"};
bool is_widening_kind(const std::string& kind);

struct WidenedProfile {
  Profile profile;
  std::vector<Widening> items;
};

// Throws Refusal (126) when the tier's `widening` does not allow what was
// asked, naming the field; Error (125) for a malformed request.
WidenedProfile widen(const Profile& tier, const TaskRequest& request);

}  // namespace tierbox::policy
