// `tierbox redteam` on the real host: every shipped tier passes (the
// scenario program really attempts each move in a real sandbox), and a
// deliberately weakened tier fails naming the scenario: one that binds a
// credential the data-class inventory does not know, one that claims no
// network but mounts a host service's socket, one that opens the cloud
// metadata address in its allowlist, one that opts in to ptrace. Each
// weakened tier's control is the shipped tier it extends, which passes the
// same scenario. Also: the simulated runs are audited as simulations, and
// `tierbox readiness` reports each fixture problem, and ready on a clean
// fixture; `audit export` gives OCSF events with the class's required
// fields.
#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include <fstream>
#include <sstream>

#include "audit/export.h"
#include "integration/harness.h"
#include "integration/net_harness.h"

using namespace tierbox::testing;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

const char* const kReviewed = R"("owner": "redteam@example.com", "reviewed_by": "redteam@example.com", "reviewed_on": "2026-12-01", "review_by": "2099-06-01")";

// A config directory of the test's own: its state (results, registry), an
// approval matrix that needs no person for any tier (the simulations run
// without a terminal), and the audit log.
struct RedteamConfig {
  TempDir dir{"tierbox-redteam-test"};
  fs::path log = dir.path() / "audit.jsonl";
  fs::path state = dir.path() / "state";

  explicit RedteamConfig(const std::string& approvers = "root", const std::string& operators = "") {
    json config{{"state_dir", state.string()}, {"governance_dir", (dir.path() / "gov").string()},
                {"rootfs_dir", (dir.path() / "store").string()}};
    if (!operators.empty()) config["operators_group"] = operators;
    dir.write("tierbox.json", config.dump());
    matrix({"*"}, approvers);
    fs::create_directories(dir.path() / "gov");
    ::chmod((dir.path() / "gov").c_str(), 0755);
  }
  void matrix(const std::vector<std::string>& tiers, const std::string& approvers) const {
    dir.write("approvals.json", json{{"owner", "redteam-test"}, {"tiers", tiers}, {"approvers", approvers},
                                     {"rules", json::array({{{"id", "all"}, {"require", "none"}}})}}
                                    .dump());
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
  [[nodiscard]] json redteam(const std::vector<std::string>& tiers, int expected_status, const std::vector<std::string>& prefix = {}) const {
    std::vector<std::string> args{"redteam", "--json"};
    args.insert(args.end(), tiers.begin(), tiers.end());
    const auto result = tierbox(args, prefix);
    BOOST_TEST_REQUIRE(result.status == expected_status, "redteam exit " << result.status << "\n" << result.out << "\n" << result.err);
    auto parsed = json::parse(result.out, nullptr, false);
    BOOST_TEST_REQUIRE(parsed.is_array(), result.out);
    return parsed;
  }
};

json scenario(const json& tier_result, const std::string& id) {
  for (const auto& row : tier_result["scenarios"])
    if (row["scenario"] == id) return row;
  BOOST_FAIL("no scenario " << id << " in " << tier_result.dump());
  return {};
}

std::vector<json> log_records(const fs::path& log) {
  std::vector<json> records;
  std::ifstream in(log);
  for (std::string line; std::getline(in, line);) records.push_back(json::parse(line));
  return records;
}

// Every scenario of a tier that passed: none weaker, none left unrun.
void require_passed(const json& result) {
  BOOST_TEST_INFO("tier " << result["tier"]);
  BOOST_TEST(result["verdict"] == "pass", result.dump(2));
  for (const auto& row : result["scenarios"]) {
    BOOST_TEST_INFO(row["scenario"] << ": " << row["observed"]);
    BOOST_TEST((row["verdict"] == "pass" || row["verdict"] == "not claimed" || row["verdict"] == "skipped"));
  }
}

// A listening unix socket, what a host service offers (docker.sock).
struct HostService {
  TempDir dir{"tierbox-redteam-sock"};
  fs::path path = dir.path() / "service.sock";
  int fd = -1;
  HostService() {
    ::chmod(dir.path().c_str(), 0755);
    fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
    BOOST_TEST_REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    ::chmod(path.c_str(), 0777);
    BOOST_TEST_REQUIRE(::listen(fd, 16) == 0);
  }
  ~HostService() { ::close(fd); }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(redteam_shipped_tiers)

BOOST_AUTO_TEST_CASE(every_host_tier_passes_every_scenario_and_is_audited_as_a_simulation) {
  const RedteamConfig config;
  const auto results = config.redteam({"base", "readonly", "untrusted", "workspace-write"}, 0);
  BOOST_TEST_REQUIRE(results.size() == 4u);
  for (const auto& result : results) require_passed(result);
  // The controls the passes rest on: the moves were made, and failed for the right reason.
  const auto& untrusted = results[2];
  BOOST_TEST(scenario(untrusted, "terminal-injection")["observed"].get<std::string>().find("tiocsti -> EPERM") != std::string::npos);
  BOOST_TEST(scenario(untrusted, "privilege-gain")["observed"].get<std::string>().find("ptrace -> EPERM") != std::string::npos);
  BOOST_TEST(scenario(untrusted, "network-egress")["observed"].get<std::string>().find("loopback -> ok") != std::string::npos);
  BOOST_TEST(scenario(untrusted, "pids-exhaustion")["observed"].get<std::string>().find("fork:136 -> EAGAIN") != std::string::npos);
  // The run was stopped as `tierbox stop` does, and its grandchild did not outlive it.
  BOOST_TEST(scenario(untrusted, "survive-stop")["observed"].get<std::string>().find("stopped: run ") != std::string::npos);
  BOOST_TEST(scenario(untrusted, "survive-stop")["observed"].get<std::string>().find("nothing left on the host") != std::string::npos);
  BOOST_TEST(scenario(results[3], "write-outside-workspace")["observed"].get<std::string>().find(
                 "write:/workspace/.tierbox-redteam-new -> ok") != std::string::npos);
  // Each result is kept for readiness.
  for (const auto& tier : {"base", "readonly", "untrusted", "workspace-write"})
    BOOST_TEST(fs::exists(config.state / "redteam" / (std::string(tier) + ".json")));
  // Audited: every record of the four runs says it was a simulation.
  const auto records = log_records(config.log);
  int starts = 0;
  for (const auto& record : records) {
    BOOST_TEST(record.value("simulation", "") == "redteam", record.dump());
    if (record["event"] == "start") ++starts;
  }
  BOOST_TEST(starts == 4);
}

// Checks an allowlist tier's result: nothing weaker, everything else passes
// (a "stricter" row is printed: under parallel load the sandbox has been seen
// without a route at its first connect, ENETUNREACH, never weaker).
void require_allowlist_passed(const json& result) {
  BOOST_TEST(result["verdict"] != "WEAKER", result.dump(2));
  for (const auto& row : result["scenarios"]) {
    if (row["verdict"] == "stricter") {
      BOOST_TEST_MESSAGE(result["tier"] << ": " << row["scenario"] << " stricter than claimed: " << row["observed"]);
      continue;
    }
    BOOST_TEST_INFO(row["scenario"] << ": " << row["observed"]);
    BOOST_TEST((row["verdict"] == "pass" || row["verdict"] == "not claimed" || row["verdict"] == "skipped"));
  }
  BOOST_TEST(scenario(result, "cloud-metadata")["verdict"] == "pass");
}

// The shipped tier answers names through the run's own resolver
// (docs/network.md); its upstream here is a port on loopback where nothing
// answers, so no query of the simulation leaves the host. The unlisted name
// the agent asks is refused by the resolver itself.
BOOST_AUTO_TEST_CASE(networked_passes_with_its_resolver) {
  const RedteamConfig config;
  std::ifstream current(config.dir.path() / "tierbox.json");
  json settings = json::parse(current);
  settings["dns_upstream"] = "127.0.0.1:9";
  config.dir.write("tierbox.json", settings.dump());
  const auto results = config.redteam({"networked"}, 0);
  require_allowlist_passed(results[0]);
  const auto dns = scenario(results[0], "dns-exfiltration");
  BOOST_TEST(dns["verdict"] == "pass", dns.dump());
  BOOST_TEST(dns["observed"].get<std::string>().find("resolve:tierbox-redteam-") != std::string::npos, dns.dump());
}

// The same tier with its name pinned at launch ("names": "pinned") to a
// test address: the allowlist's controls run (the listed destination is not
// refused, the pinned name resolves inside, an unpinned one does not).
BOOST_AUTO_TEST_CASE(networked_passes_with_its_name_pinned_to_a_test_address) {
  const RedteamConfig config;
  config.matrix({"*"}, "root");
  config.dir.write("tiers/networked-pinned.json",
                   "{\"extends\": \"networked\", " + std::string(kReviewed) +
                       ", \"network\": {\"mode\": \"allowlist\", \"names\": \"pinned\", \"allow\": [\"api.github.com:443/tcp\"]}}");
  const TempDir files{"tierbox-redteam-hosts"};
  const auto hosts = files.write("hosts", "127.0.0.1 localhost\n203.0.113.10 api.github.com\n");
  const auto nsswitch = files.write("nsswitch.conf", "hosts: files\n");
  const auto results = config.redteam({"networked-pinned"}, 0, with_hosts_file(hosts.string(), nsswitch.string()));
  require_allowlist_passed(results[0]);
  BOOST_TEST(scenario(results[0], "allowlisted-destination")["verdict"] != "WEAKER");
  BOOST_TEST(scenario(results[0], "allowlisted-destination")["observed"].get<std::string>().find("connect:203.0.113.10:443") != std::string::npos);
  BOOST_TEST(scenario(results[0], "dns-exfiltration")["observed"].get<std::string>().find("resolve:api.github.com -> ok") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_tier_that_cannot_launch_is_not_run_and_says_why) {
  const RedteamConfig config;
  // sealed needs image:minimal, which this config's empty store lacks
  // (tests/integration/test_rootfs.cpp builds the image).
  const auto results = config.redteam({"sealed"}, 3);
  BOOST_TEST(results[0]["verdict"] == "not run");
  BOOST_TEST(results[0]["error"].get<std::string>().find("no image named \"minimal\"") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(sealed_passes_once_its_image_is_built) {
  const RedteamConfig config;
  const auto built = run_tierbox({"rootfs", "--config-dir", config.dir.str(), "build", "minimal"}, {.timeout = std::chrono::seconds(300)});
  BOOST_TEST_REQUIRE(built.status == 0, "rootfs build minimal: " << built.err);
  const auto results = config.redteam({"sealed"}, 0);
  require_passed(results[0]);
  // The image holds no host file: no setuid binary, and inotify is denied.
  BOOST_TEST(scenario(results[0], "host-file-watch")["verdict"] == "pass");
  BOOST_TEST(scenario(results[0], "host-file-watch")["observed"].get<std::string>().find("inotify:/usr/bin -> EPERM") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(redteam_slow_scenarios)

// Memory and disk exhaustion with --slow: the memory cgroup OOM-kills the
// child that allocates past untrusted's 512M, the tmpfs /tmp refuses past
// its 64M. Control: without --slow both are skipped, not passed.
BOOST_AUTO_TEST_CASE(memory_and_tmp_exhaustion_are_stopped_by_the_tiers_limits) {
  const RedteamConfig config;
  const auto fast = config.redteam({"untrusted"}, 0);
  BOOST_TEST(scenario(fast[0], "memory-exhaustion")["verdict"] == "skipped");
  const auto result = config.tierbox({"redteam", "--json", "--slow", "untrusted"});
  BOOST_TEST_REQUIRE(result.status == 0, result.out << result.err);
  const auto slow = json::parse(result.out);
  require_passed(slow[0]);
  const auto memory = scenario(slow[0], "memory-exhaustion");
  BOOST_TEST(memory["verdict"] == "pass");
  BOOST_TEST(memory["observed"].get<std::string>().find("-> killed:KILL") != std::string::npos, memory.dump());
  const auto disk = scenario(slow[0], "disk-exhaustion");
  BOOST_TEST(disk["verdict"] == "pass");
  BOOST_TEST(disk["observed"].get<std::string>().find("-> ENOSPC") != std::string::npos, disk.dump());
  BOOST_TEST(scenario(slow[0], "output-exhaustion")["verdict"] == "not claimed");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(redteam_weakened_tiers)

BOOST_AUTO_TEST_CASE(a_tier_binding_a_credential_fails_secret_files) {
  const RedteamConfig config;
  // A token under a name the data-class inventory does not know, mounted
  // where SSH looks for a key: the planner lets it through, redteam does not.
  const TempDir secret{"tierbox-redteam-secret"};
  ::chmod(secret.path().c_str(), 0755);
  const auto token = secret.write("deploy-token.txt", "ghp_redteam\n");
  ::chmod(token.c_str(), 0644);
  config.tier("weak-secret", R"("mounts": [{"type": "bind", "source": ")" + token.string() + R"(", "target": "/root/.ssh/id_rsa"}])");
  const auto results = config.redteam({"weak-secret", "base"}, 1);
  BOOST_TEST(results[0]["verdict"] == "weaker");
  BOOST_TEST(scenario(results[0], "secret-files")["verdict"] == "WEAKER");
  BOOST_TEST(scenario(results[0], "secret-files")["observed"].get<std::string>().find("/root/.ssh/id_rsa") != std::string::npos);
  BOOST_TEST(scenario(results[1], "secret-files")["verdict"] == "pass");  // control
}

BOOST_AUTO_TEST_CASE(a_tier_claiming_no_network_that_mounts_a_host_socket_fails_and_the_text_names_it) {
  const RedteamConfig config;
  const HostService service;
  config.tier("weak-socket", R"("mounts": [{"type": "bind", "source": ")" + service.path.string() + R"(", "target": "/run/agent.sock"}])");
  const auto text = config.tierbox({"redteam", "weak-socket"});
  BOOST_TEST(text.status == 1, text.err);
  BOOST_TEST(text.out.find("host-unix-sockets        WEAKER") != std::string::npos, text.out);
  BOOST_TEST(text.out.find("unix-sockets -> ok [\"/run/agent.sock\"]") != std::string::npos, text.out);
  BOOST_TEST(text.out.find("WEAKER than the profile claims") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(an_allowlist_that_opens_the_metadata_address_fails_cloud_metadata) {
  const RedteamConfig config;
  config.tier("weak-metadata", R"("network": {"mode": "allowlist", "allow": ["169.254.169.254:80/tcp"]})");
  const auto results = config.redteam({"weak-metadata"}, 1);
  const auto row = scenario(results[0], "cloud-metadata");
  BOOST_TEST(row["verdict"] == "WEAKER", row.dump());
  // Whether anything answers there depends on the host; what fails the tier
  // is that its own firewall let the connection through.
  BOOST_TEST((row["observed"].get<std::string>().find("-> ok") != std::string::npos ||
              row["observed"].get<std::string>().find("not refused by the run's firewall") != std::string::npos));
}

BOOST_AUTO_TEST_CASE(a_tier_allowing_ptrace_fails_privilege_gain) {
  const RedteamConfig config;
  config.tier("weak-ptrace", R"("seccomp": {"allow_dangerous": ["ptrace"]})");
  const auto results = config.redteam({"weak-ptrace"}, 1);
  const auto row = scenario(results[0], "privilege-gain");
  BOOST_TEST(row["verdict"] == "WEAKER");
  BOOST_TEST(row["observed"].get<std::string>().find("ptrace -> ok") != std::string::npos);
  BOOST_TEST(row["expected"].get<std::string>().find("opts in to allow_dangerous ptrace") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
