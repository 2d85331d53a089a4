// `tierbox redteam`'s launches: for each tier, plans the scenarios
// (scenarios.h), runs tierbox-redteam-agent inside the tier through the one
// launch path (service::run_task, audited as a simulation), judges what it
// observed, and keeps the result under the state directory for `tierbox
// readiness`. The program runs in a fresh workspace of its own with stdin
// /dev/null (a TIOCSTI that got through would type into nothing) and its
// stdout in a private file.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "policy/request.h"
#include "redteam/scenarios.h"
#include "service/launcher.h"

namespace tierbox::redteam {

struct RedteamSettings {
  std::vector<std::filesystem::path> config_dirs;
  std::string audit_log;            // as `run --audit-log`; "" for the configured one
  std::filesystem::path agent;      // tierbox-redteam-agent on the host
  bool slow = false;                // also the memory and disk exhaustion scenarios
};

struct TierResult {
  std::string tier;
  std::string profile_sha256;
  std::string at;      // RFC 3339, when the run ended
  std::string run_id;  // of the simulated run, "" when none was launched
  std::string error;   // why nothing could be planned or launched, "" otherwise
  std::vector<Row> rows;
  [[nodiscard]] bool weaker() const;
};

// The request of a simulated run (redteam, readiness's planning): the
// caller's identity and environment, the tier, the workspace, argv.
policy::TaskRequest simulated_request(const std::string& tier, const std::filesystem::path& workspace,
                                      const std::vector<std::string>& argv);

TierResult redteam_tier(const std::string& tier, const RedteamSettings& settings, service::Launcher& launcher);

nlohmann::json to_json(const TierResult& result);
// STATE_DIR/redteam/TIER.json (0644 in a 0755 directory: results are no secret).
void store_result(const std::filesystem::path& state_dir, const TierResult& result);
// The stored result of tier, nullopt when there is none or it does not parse.
std::optional<nlohmann::json> load_result(const std::filesystem::path& state_dir, const std::string& tier);


}  // namespace tierbox::redteam
