// `tierbox readiness [--json]`: the launch-readiness report
// (runner/readiness); exit 1 when anything is not ready, so CI can gate on it.
#include <cstdio>

#include "cli/commands.h"
#include "common/errors.h"
#include "policy/runner_config.h"
#include "readiness/readiness.h"

namespace tierbox::cli {
namespace {

struct ReadinessOptions {
  std::string audit_log;
  bool json = false;
};

void print_readiness(const readiness::Report& report) {
  std::string section;
  for (const auto& item : report.items) {
    if (item.section != section) {
      section = item.section;
      std::printf("%s%s\n", section == report.items.front().section ? "" : "\n", section.c_str());
    }
    std::printf("  %-9s %s: %s\n", item.ready ? "ready" : "NOT READY", item.name.c_str(), item.reason.c_str());
    if (!item.ready && !item.fix.empty()) std::printf("            fix: %s\n", item.fix.c_str());
  }
  std::printf("\n%s\n", report.ready() ? "READY" : "NOT READY");
}

int run_readiness(const ReadinessOptions& options, const CommonOptions& common) {
  readiness::Settings settings;
  const auto dirs = search_dirs(common);
  settings.config_dirs.assign(dirs.begin(), dirs.end());
  settings.audit_log = options.audit_log;
  settings.checkpoint_check = checkpoint_checker(policy::load_runner_config(settings.config_dirs).governance_dir);
  service::SandboxLauncher planner;  // dry runs only: nothing is launched
  const auto report = readiness::assess(settings, planner);
  if (options.json) std::printf("%s\n", readiness::to_json(report).dump(2).c_str());
  else print_readiness(report);
  return report.ready() ? 0 : 1;
}

}  // namespace

std::function<int()> add_readiness_command(CLI::App& app, CommonOptions& common) {
  auto options = std::make_shared<ReadinessOptions>();
  auto* command = app.add_subcommand("readiness", "Launch readiness: host, tiers, people, keys, audit log, redteam results, "
                                                  "tools run (exit 1 when anything is not ready)");
  command->add_option("--config-dir", common.config_dir, "Directory searched first for tiers and tierbox.json");
  command->add_option("--audit-log", options->audit_log, "The audit log to check");
  command->add_flag("--json", options->json, "Print JSON");
  return [options, &common] { return run_readiness(*options, common); };
}

}  // namespace tierbox::cli
