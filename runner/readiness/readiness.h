// `tierbox readiness`: the launch-readiness report a security team and its
// auditor ask for (docs/governance.md, "Launch readiness"). Every item is
// ready or not, with the reason and the fix; the report is ready only when
// every item is. Sections:
//   host        what the kernel offers, and each tier the host cannot enforce
//   tiers       owner and review date of each tier in use; tiers the
//               approval matrix does not cover
//   people      the approvers groups and the operators group, with members
//   keys        each trusted signing key's owner and rotation date
//   audit       the log: where, how big, whether it verifies, last checkpoint
//   redteam     the last `tierbox redteam` result of each tier
//   tools       commands run per tier (audit log) against allowed_commands
//
// The tiers in use are the tier files of the config directories that the
// approval matrix lists (a tier it does not list cannot run).
#pragma once

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "audit/verify.h"
#include "policy/profile.h"
#include "service/launcher.h"

namespace tierbox::readiness {

struct Item {
  std::string section;
  std::string name;
  bool ready = true;
  std::string reason;  // why (not) ready, one line
  std::string fix;     // "" when ready
  nlohmann::json detail = nullptr;
};

struct Report {
  std::vector<Item> items;
  [[nodiscard]] bool ready() const;
};

struct Settings {
  std::vector<std::filesystem::path> config_dirs;
  std::string audit_log;  // as --audit-log; "" for the configured one
  audit::CheckpointCheck checkpoint_check;
  std::chrono::system_clock::time_point now = std::chrono::system_clock::now();
};

// The tier names in use (see above), sorted.
std::vector<std::string> tiers_in_use(const std::vector<std::filesystem::path>& config_dirs);

Report assess(const Settings& settings, service::Launcher& planner);

nlohmann::json to_json(const Report& report);

// The parts, each appending its items (readiness_*.cpp).
void check_host(const Settings& settings, const std::vector<policy::Profile>& tiers, service::Launcher& planner,
                Report& report);
void check_governance(const Settings& settings, const std::vector<policy::Profile>& tiers, Report& report);
void check_trail(const Settings& settings, const std::vector<policy::Profile>& tiers, Report& report);

}  // namespace tierbox::readiness
