// `tierbox redteam` in integration tests: a config directory of the test's
// own (state, governance, image store, an approval matrix that asks no one)
// and the checks every redteam test makes on its JSON result. Used by
// test_redteam.cpp and, for the debian image's tier, test_rootfs_debian.cpp.
#pragma once

#include <sys/stat.h>

#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/temp_dir.h"
#include "integration/harness.h"
#include "integration/net_harness.h"

namespace tierbox::testing {

inline constexpr const char* kReviewed = R"("owner": "redteam@example.com", "reviewed_by": "redteam@example.com", "reviewed_on": "2026-12-01", "review_by": "2099-06-01")";

// A config directory of the test's own: its state (results, registry), an
// approval matrix that needs no person for any tier (the simulations run
// without a terminal), and the audit log. A state directory of its own
// needs a network pool of its own (net_harness.h PoolClaim): on the default
// pool, an allowlist run here and one of another test process took the same
// subnet and names, and each one's setup removed the other's (the sandbox
// then had no route, ENETUNREACH, or no eth0, ENODEV, at its start).
struct RedteamConfig {
  PoolClaim pool{"tierbox-redteam-test-pool-"};
  HostIdRange ids;  // its 16 slots never blocked by other processes' runs
  TempDir dir{"tierbox-redteam-test"};
  std::filesystem::path log = dir.path() / "audit.jsonl";
  std::filesystem::path state = dir.path() / "state";

  explicit RedteamConfig(const std::string& approvers = "root", const std::string& operators = "") {
    nlohmann::json config{{"state_dir", state.string()}, {"governance_dir", (dir.path() / "gov").string()},
                          {"rootfs_dir", (dir.path() / "store").string()},
                          {"network_pool", "10.208." + std::to_string(pool.third_octet) + ".0/24"},
                          {"max_concurrent_runs", 16},
                          {"host_id_base", ids.base()}};
    if (!operators.empty()) config["operators_group"] = operators;
    dir.write("tierbox.json", config.dump());
    matrix({"*"}, approvers);
    std::filesystem::create_directories(dir.path() / "gov");
    ::chmod((dir.path() / "gov").c_str(), 0755);
  }
  void matrix(const std::vector<std::string>& tiers, const std::string& approvers) const {
    dir.write("approvals.json", nlohmann::json{{"owner", "redteam-test"}, {"tiers", tiers}, {"approvers", approvers},
                                     {"rules", nlohmann::json::array({{{"id", "all"}, {"require", "none"}}})}}
                                    .dump());
  }
  // One setting of tierbox.json changed (dns_upstream, rootfs_dir, ...).
  void set(const std::string& key, const nlohmann::json& value) const {
    std::ifstream current(dir.path() / "tierbox.json");
    auto settings = nlohmann::json::parse(current);
    settings[key] = value;
    dir.write("tierbox.json", settings.dump());
  }
  void tier(const std::string& name, const std::string& body) const {
    dir.write("tiers/" + name + ".json", "{\"extends\": \"base\", " + std::string(kReviewed) + ", " + body + "}");
  }
  [[nodiscard]] ProcessResult tierbox(std::vector<std::string> args, const std::vector<std::string>& prefix = {}) const {
    args.insert(args.begin() + 1, {"--config-dir", dir.str()});
    if (args[0] != "keys") args.insert(args.begin() + 1, {"--audit-log", log.string()});
    if (prefix.empty()) return run_tierbox(args, {.timeout = std::chrono::seconds(300)});
    std::vector<std::string> argv = prefix;
    argv.push_back(kTierbox);
    argv.insert(argv.end(), args.begin(), args.end());
    return run_process(argv, {.timeout = std::chrono::seconds(300)});
  }
  // `redteam --json TIERS`: the per-tier results.
  [[nodiscard]] nlohmann::json redteam(const std::vector<std::string>& tiers, int expected_status, const std::vector<std::string>& prefix = {}) const {
    std::vector<std::string> args{"redteam", "--json"};
    args.insert(args.end(), tiers.begin(), tiers.end());
    const auto result = tierbox(args, prefix);
    BOOST_TEST_REQUIRE(result.status == expected_status, "redteam exit " << result.status << "\n" << result.out << "\n" << result.err);
    auto parsed = nlohmann::json::parse(result.out, nullptr, false);
    BOOST_TEST_REQUIRE(parsed.is_array(), result.out);
    return parsed;
  }
};

inline nlohmann::json scenario(const nlohmann::json& tier_result, const std::string& id) {
  for (const auto& row : tier_result["scenarios"])
    if (row["scenario"] == id) return row;
  BOOST_FAIL("no scenario " << id << " in " << tier_result.dump());
  return {};
}

inline std::vector<nlohmann::json> log_records(const std::filesystem::path& log) {
  std::vector<nlohmann::json> records;
  std::ifstream in(log);
  for (std::string line; std::getline(in, line);) records.push_back(nlohmann::json::parse(line));
  return records;
}

// Every scenario of a tier that passed: none weaker, none left unrun.
inline void require_passed(const nlohmann::json& result) {
  BOOST_TEST_INFO("tier " << result["tier"]);
  BOOST_TEST(result["verdict"] == "pass", result.dump(2));
  for (const auto& row : result["scenarios"]) {
    BOOST_TEST_INFO(row["scenario"] << ": " << row["observed"]);
    BOOST_TEST((row["verdict"] == "pass" || row["verdict"] == "not claimed" || row["verdict"] == "skipped"));
  }
}

}  // namespace tierbox::testing
