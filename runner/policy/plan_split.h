// A plan's two parts, for sandboxes prepared ahead of their request
// (launch/prepared_sandbox.h, service/pooled_launcher.h):
//   the per-tier part: everything a sandbox can be built from before the
//     request arrives (namespaces, the root from the tier's mounts, cgroups
//     with the tier's limits, the seccomp filters, Landlock, the hostname);
//   the per-run part: the request's own (argv, environment, cwd, rlimits, the
//     workspace and what is mounted at or below it, the stand-ins inside
//     trees, the placeholders, stdio), added when the request arrives.
// mount_ops[first_run_op...] are the per-run mount operations; the planner
// puts the workspace's there (and keeps the tree stand-ins last), so the
// per-tier part is one prefix. Pure code.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "policy/launch_plan.h"

namespace tierbox::policy {

// The first per-run mount op (plan.first_run_op, clamped to the list).
std::size_t first_run_op(const LaunchPlan& plan);

// For each of plan.prepared_mounts: true when a per-run op attaches it (the
// parent opens it when the request arrives), false when a per-tier op does
// (opened before clone) or none does.
std::vector<bool> run_trees(const LaunchPlan& plan);

// Why this plan cannot take a prepared sandbox ("" when it can): what a
// prepared sandbox cannot be given after the fact.
std::string why_not_preparable(const LaunchPlan& plan);

// The per-tier part alone: plan with everything of the request cleared
// (argv, environment, cwd, the file to execute, the requester, the
// workspace and the run's own trees' host paths, placeholders, secrets,
// rlimits, wall time, overrides, widening, data exposure, passed fds). A
// sandbox is prepared from this, so its memory holds nothing of the request
// that happened to set the pattern; prepared_key() is the same for both.
LaunchPlan tier_part(const LaunchPlan& plan);

// The digest of the per-tier part, hex: two plans with the same key build the
// same sandbox up to the request's own part, so a sandbox prepared from one
// may serve the other. Covers the tier and inventory digests, the image, every
// mount op (per-run ones too: their trees come per run, their operations are
// carried out as prepared), the prepared mounts' flags (and the sources of the
// per-tier ones), ids, hostname, network mode, root size, cgroup limits and
// parent, and the Landlock rules.
std::string prepared_key(const LaunchPlan& plan);

}  // namespace tierbox::policy
