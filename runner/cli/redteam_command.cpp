// `tierbox redteam [TIER...] [--json] [--slow]`: runs the red-team scenarios
// in each tier (runner/redteam) and prints, per tier, each scenario with what
// the tier claims, what was observed and the verdict. docs/redteam.md.
#include <unistd.h>

#include <climits>
#include <cstdio>

#include "cli/commands.h"
#include "common/errors.h"
#include "policy/runner_config.h"
#include "readiness/readiness.h"
#include "redteam/runner.h"

namespace tierbox::cli {
namespace {

struct RedteamOptions {
  std::vector<std::string> tiers;
  std::string audit_log;
  bool json = false;
  bool slow = false;
};

// tierbox-redteam-agent beside this program (as tierbox-rootfs).
std::filesystem::path redteam_agent_path() {
  char self[PATH_MAX];
  const auto length = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (length < 0) throw_sys_error("readlink(\"/proc/self/exe\")");
  return std::filesystem::path(std::string(self, static_cast<std::size_t>(length))).parent_path() /
         "tierbox-redteam-agent";
}

void print_redteam_table(const redteam::TierResult& result) {
  std::printf("tier %s (profile sha256 %.12s)%s\n", result.tier.c_str(), result.profile_sha256.c_str(),
              result.run_id.empty() ? "" : (", run " + result.run_id).c_str());
  if (!result.error.empty()) {
    std::printf("  NOT RUN: %s\n\n", result.error.c_str());
    return;
  }
  for (const auto& row : result.rows) {
    std::printf("  %-24s %s\n", row.scenario.c_str(), row.verdict.c_str());
    std::printf("    expected: %s\n", row.expected.c_str());
    std::printf("    observed: %s\n", row.observed.c_str());
  }
  std::printf("  => %s\n\n", result.weaker() ? "WEAKER than the profile claims" : "no scenario weaker than claimed");
}

int run_redteam(const RedteamOptions& options, const CommonOptions& common) {
  redteam::RedteamSettings settings;
  const auto dirs = search_dirs(common);
  settings.config_dirs.assign(dirs.begin(), dirs.end());
  settings.audit_log = options.audit_log;
  settings.agent = redteam_agent_path();
  settings.slow = options.slow;
  const auto config = policy::load_runner_config(settings.config_dirs);
  const auto tiers = options.tiers.empty() ? readiness::tiers_in_use(settings.config_dirs) : options.tiers;
  service::SandboxLauncher launcher;
  nlohmann::json all = nlohmann::json::array();
  bool weaker = false;
  bool incomplete = false;
  for (const auto& tier : tiers) {
    const auto result = redteam::redteam_tier(tier, settings, launcher);
    redteam::store_result(config.state_dir, result);
    weaker = weaker || result.weaker();
    const auto summary = redteam::to_json(result);
    incomplete = incomplete || summary["verdict"] != "pass";
    if (options.json) all.push_back(summary);
    else print_redteam_table(result);
    std::fflush(stdout);
  }
  if (options.json) std::printf("%s\n", all.dump(2).c_str());
  return weaker ? 1 : incomplete ? 3 : 0;
}

}  // namespace

std::function<int()> add_redteam_command(CLI::App& app, CommonOptions& common) {
  auto options = std::make_shared<RedteamOptions>();
  auto* command = app.add_subcommand(
      "redteam", "Run safe simulations of a misbehaving agent in each tier and compare with what the tier claims "
                 "(exit 1: a tier is weaker than it claims; 3: something could not be run)");
  command->add_option("tiers", options->tiers, "Tiers to test (default: every tier the approval matrix lists)");
  command->add_option("--config-dir", common.config_dir, "Directory searched first for tiers and tierbox.json");
  command->add_option("--audit-log", options->audit_log, "Audit log to record the simulated runs in");
  command->add_flag("--json", options->json, "Print JSON");
  command->add_flag("--slow", options->slow, "Also the slow scenarios: memory and disk exhaustion");
  return [options, &common] { return run_redteam(*options, common); };
}

}  // namespace tierbox::cli
