#include "readiness/readiness.h"

#include <algorithm>
#include <set>

#include "common/errors.h"
#include "policy/approval_matrix.h"
#include "policy/profile_loader.h"

namespace tierbox::readiness {

bool Report::ready() const {
  return std::all_of(items.begin(), items.end(), [](const Item& item) { return item.ready; });
}

std::vector<std::string> tiers_in_use(const std::vector<std::filesystem::path>& config_dirs) {
  std::set<std::string> names;
  for (const auto& dir : config_dirs) {
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(dir / "tiers", ec))
      if (entry.path().extension() == ".json") names.insert(entry.path().stem().string());
  }
  std::vector<std::string> out;
  try {
    const auto matrix = policy::load_approval_matrix(config_dirs);
    for (const auto& name : names)
      if (policy::matrix_knows_tier(matrix, name)) out.push_back(name);
  } catch (const Error&) {
    // No usable matrix: no tier can run. check_governance reports it.
  }
  return out;
}

Report assess(const Settings& settings, service::Launcher& planner) {
  Report report;
  std::vector<policy::Profile> tiers;
  for (const auto& name : tiers_in_use(settings.config_dirs)) {
    try {
      tiers.push_back(policy::load_tier(name, settings.config_dirs));
    } catch (const Error& error) {
      report.items.push_back({"tiers", name, false, error.what(), "fix the tier file (tierbox profile check " + name + ")"});
    }
  }
  check_host(settings, tiers, planner, report);
  check_governance(settings, tiers, report);
  check_trail(settings, tiers, report);
  return report;
}

nlohmann::json to_json(const Report& report) {
  nlohmann::json items = nlohmann::json::array();
  for (const auto& item : report.items)
    items.push_back({{"section", item.section}, {"item", item.name},  {"ready", item.ready},
                     {"reason", item.reason},   {"fix", item.fix.empty() ? nlohmann::json(nullptr) : nlohmann::json(item.fix)},
                     {"detail", item.detail}});
  return {{"ready", report.ready()}, {"items", items}};
}

}  // namespace tierbox::readiness
