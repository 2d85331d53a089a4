// The run's cgroups as the launch uses them (launcher.cpp): made for the
// plan, described in the run's record, logged, read, killed and removed,
// each failure handled as the launch needs it. The cgroup mechanics are
// stages/cgroup.h's.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "launch/run_registry.h"
#include "launch/supervisor.h"
#include "policy/launch_plan.h"
#include "policy/runner_config.h"
#include "stages/cgroup.h"

namespace tierbox::launch {

stages::RunCgroups create_cgroups(const policy::LaunchPlan& plan, const policy::RunnerConfig& config,
                                  const std::string& id, stages::CgroupSyscalls& syscalls);

// In the run's record, so that `tierbox gc` removes them if the runner dies.
nlohmann::json describe_for_record(const stages::RunCgroups& cgroups);

// Warnings always; with -v the controllers, limits and kill method.
void log_cgroups(const stages::CgroupReport& report);

// After the task tree is gone, so the numbers are final (init, still in the
// cgroups while it exits, adds nothing). CPU time comes from the tree's
// rusage where no cgroup counts it (cgroup v1 without a v2 cgroup: cpuacct is
// not made, since this is free and covers the same tree).
stages::CgroupUsage read_usage(stages::RunCgroups& cgroups, const SupervisionResult& tree);

// After init is reaped. A cgroup that cannot be removed keeps the run's
// registry entry for `gc`.
void remove_cgroups(stages::RunCgroups& cgroups, RunRegistry::Entry& run_entry);

// On the wall-clock limit, before init is killed: the cgroup kill gets every
// process even if one forks meanwhile. If it fails, init's SIGKILL still
// tears down the whole pid namespace.
void kill_through_cgroup(stages::RunCgroups& cgroups, const std::string& how);

}  // namespace tierbox::launch
