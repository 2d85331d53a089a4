#include "launch/launch_cgroups.h"

#include <unistd.h>

#include "common/errors.h"
#include "common/logging.h"

namespace tierbox::launch {

stages::RunCgroups create_cgroups(const policy::LaunchPlan& plan, const policy::RunnerConfig& config,
                                  const std::string& id, stages::CgroupSyscalls& syscalls) {
  const auto host = stages::parse_host_cgroups(stages::read_host_cgroup_inputs(syscalls));
  const stages::RunCgroupsRequest request{id,       plan.tier,           plan.cgroup_limits,
                                          plan.cgroup_parent, config.cgroup_parent, ::getpid()};
  return stages::RunCgroups::create(request, host, syscalls);
}

nlohmann::json describe_for_record(const stages::RunCgroups& cgroups) {
  nlohmann::json dirs = nlohmann::json::array();
  for (const auto& [path, version] : cgroups.directories())
    dirs.push_back({{"path", path}, {"version", static_cast<int>(version)}});
  return {{"dirs", dirs}};
}

void log_cgroups(const stages::CgroupReport& report) {
  for (const auto& warning : report.warnings) logging::warn("{}", warning);
  if (!logging::verbose()) return;
  std::string controllers, limits;
  for (const auto& [name, version] : report.controllers) controllers += " " + name + "(" + stages::to_string(version) + ")";
  for (const auto& limit : report.enforced) limits += " " + limit.field + "=" + std::to_string(limit.value);
  logging::step("cgroups created ({}):{}; limits:{}; kill via {}", report.mode, controllers,
                limits.empty() ? " none" : limits, report.kill);
}

stages::CgroupUsage read_usage(stages::RunCgroups& cgroups, const SupervisionResult& tree) {
  auto usage = cgroups.usage();
  if (!usage.cpu_user_us) {
    usage.cpu_user_us = tree.cpu_user_us;
    usage.cpu_system_us = tree.cpu_system_us;
  }
  return usage;
}

void remove_cgroups(stages::RunCgroups& cgroups, RunRegistry::Entry& run_entry) {
  try {
    cgroups.destroy();
  } catch (const Error& error) {
    logging::warn("cgroup: {} (left for `tierbox gc`)", error.what());
    run_entry.keep_for_gc();
  }
}

void kill_through_cgroup(stages::RunCgroups& cgroups, const std::string& how) {
  try {
    if (cgroups.kill()) logging::step("task tree killed through its cgroup ({})", how);
  } catch (const Error& error) {
    logging::warn("cgroup: {} (killing through the pid namespace only)", error.what());
  }
}

}  // namespace tierbox::launch
