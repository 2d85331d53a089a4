// What a person approves: a summary of a LaunchPlan (tier, command, writable
// paths, network destinations, data classes, limits, what the caller asked
// for beyond the tier) and its digest. Pure.
//
// The digest binds approvals and grants to a plan: SHA-256 of the summary's
// canonical JSON. It covers what decides what the task can do and see, and
// leaves out what differs between two invocations of the same request (the
// run id, the caller's environment values, rlimits lowered to the caller's
// own, addresses a name resolves to, which protected paths exist yet).
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "policy/launch_plan.h"

namespace tierbox::policy {

nlohmann::json plan_summary(const LaunchPlan& plan);
std::string plan_digest(const LaunchPlan& plan);
// The summary for a person, one "label: value" line each.
std::vector<std::string> plan_summary_lines(const LaunchPlan& plan);

}  // namespace tierbox::policy
