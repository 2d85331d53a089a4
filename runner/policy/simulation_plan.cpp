#include "policy/simulation_plan.h"

#include <algorithm>

#include "common/errors.h"

namespace tierbox::policy {

void plan_simulation(const TaskRequest& request, const HostFacts& host, LaunchPlan& plan) {
  if (!request.simulation) return;
  const std::string prefix = "simulation " + request.simulation->name + ": ";
  if (const auto& report = host.simulation_report_fd) {
    const std::string what = prefix + "report fd " + std::to_string(report->fd);
    // The same rules as a caller's --pass-fd (planner.cpp check_passed_fds).
    if (report->fd <= 2 || !report->open || report->directory)
      throw Error(what + ": not an open, non-directory fd from 3 up", exit_code::runner_failed);
    if (std::find(plan.pass_fds.begin(), plan.pass_fds.end(), report->fd) != plan.pass_fds.end())
      throw Error(what + ": also passed by the caller", exit_code::runner_failed);
    plan.pass_fds.push_back(report->fd);
    std::sort(plan.pass_fds.begin(), plan.pass_fds.end());
    plan.overrides.push_back(prefix + "fd " + std::to_string(report->fd) +
                             " passed to the task as the scenario program's report channel (beside the tier's pass_fds)");
  }
  if (host.command && host.command->admitted_for_simulation)
    plan.overrides.push_back(prefix + host.command->candidate + " (sha256 " + host.command->verified_sha256 +
                             ") admitted beside allowed_commands for this run only");
}

}  // namespace tierbox::policy
