// `tierbox redteam` on the real host: every shipped tier passes (the
// scenario program really attempts each move in a real sandbox; the debian
// image's tier in test_rootfs_debian.cpp, label debian), a tier with
// allowed_commands and one with limits.output pass with those claims
// tested, and a
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
#include <map>
#include <set>
#include <sstream>

#include "audit/export.h"
#include "integration/harness.h"
#include "integration/net_harness.h"
#include "integration/redteam_fixture.h"

using namespace tierbox::testing;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

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
  const std::vector<std::string> tiers{"base", "readonly", "untrusted", "workspace-write", "workspace-staged"};
  const auto results = config.redteam(tiers, 0);
  BOOST_TEST_REQUIRE(results.size() == tiers.size());
  for (const auto& result : results) require_passed(result);
  // The controls the passes rest on: the moves were made, and failed for the right reason.
  const auto& untrusted = results[2];
  BOOST_TEST(scenario(untrusted, "terminal-injection")["observed"].get<std::string>().find("tiocsti -> EPERM") != std::string::npos);
  BOOST_TEST(scenario(untrusted, "privilege-gain")["observed"].get<std::string>().find("ptrace -> EPERM") != std::string::npos);
  BOOST_TEST(scenario(untrusted, "network-egress")["observed"].get<std::string>().find("loopback -> ok") != std::string::npos);
  BOOST_TEST(scenario(untrusted, "pids-exhaustion")["observed"].get<std::string>().find("fork:136 -> EAGAIN") != std::string::npos);
  // The report came over its own fd, which is therefore no leak.
  BOOST_TEST(scenario(untrusted, "mount-namespace-escape")["observed"].get<std::string>().find("leaked-fds -> none") != std::string::npos);
  // The run was stopped as `tierbox stop` does, and its grandchild did not outlive it.
  BOOST_TEST(scenario(untrusted, "survive-stop")["observed"].get<std::string>().find("stopped: run ") != std::string::npos);
  BOOST_TEST(scenario(untrusted, "survive-stop")["observed"].get<std::string>().find("nothing left on the host") != std::string::npos);
  for (const auto index : {3, 4})
    BOOST_TEST(scenario(results[index], "write-outside-workspace")["observed"].get<std::string>().find(
                   "write:/workspace/.tierbox-redteam-new -> ok") != std::string::npos);
  // workspace-staged claims its limits.disk (slow: see redteam_slow_scenarios).
  BOOST_TEST(scenario(results[4], "disk-exhaustion")["expected"].get<std::string>().find("limits.disk 2G") != std::string::npos);
  // Each result is kept for readiness.
  for (const auto& tier : tiers) BOOST_TEST(fs::exists(config.state / "redteam" / (tier + ".json")));
  // Audited: every record of the runs says it was a simulation, the stop
  // survive-stop made is a control record of its run, and the staged run's
  // layer was discarded (no layer is left behind).
  const auto records = log_records(config.log);
  int starts = 0;
  std::set<std::string> stopped, discarded;
  for (const auto& record : records) {
    BOOST_TEST(record.value("simulation", "") == "redteam", record.dump());
    if (record["event"] == "start") ++starts;
    if (record["event"] == "control" && record["action"] == "stop" && record["result"] == "ok") stopped.insert(record["run_id"]);
    if (record["event"] == "discard") discarded.insert(record["run_id"]);
  }
  BOOST_TEST(starts == 5);
  for (const auto& result : results) BOOST_TEST(stopped.count(result["run_id"].get<std::string>()) == 1u, result["tier"]);
  BOOST_TEST(discarded == std::set<std::string>{results[4]["run_id"].get<std::string>()});
  BOOST_TEST(!fs::exists(config.state / "staged" / results[4]["run_id"].get<std::string>()));
}

// A tier that lists its commands: the program not admitted is refused
// (unlisted-command, audited as the simulation's refusal); admitted by its
// digest for the simulation only (named in the start record's overrides),
// it runs every other scenario.
BOOST_AUTO_TEST_CASE(a_tier_with_allowed_commands_refuses_the_unlisted_program_and_runs_every_other_scenario) {
  const RedteamConfig config;
  config.dir.write("tiers/listed.json", "{\"extends\": \"untrusted\", " + std::string(kReviewed) +
                                            ", \"allowed_commands\": [\"sh\", \"/usr/bin/env\"]}");
  const auto results = config.redteam({"listed"}, 0);
  require_passed(results[0]);
  const auto command = scenario(results[0], "unlisted-command");
  BOOST_TEST(command["verdict"] == "pass");
  BOOST_TEST(command["observed"].get<std::string>().find("which tier 'listed' does not allow (allowed_commands: sh, /usr/bin/env)") !=
                 std::string::npos, command.dump());
  BOOST_TEST(scenario(results[0], "terminal-injection")["observed"].get<std::string>().find("tiocsti -> EPERM") != std::string::npos);
  int refusals = 0, admitted = 0;
  for (const auto& record : log_records(config.log)) {
    BOOST_TEST(record.value("simulation", "") == "redteam", record.dump());
    if (record["event"] == "profile_refused" && record["reason"].get<std::string>().find("does not allow") != std::string::npos) ++refusals;
    if (record["event"] == "start")
      for (const auto& line : record["overrides"])
        if (line.get<std::string>().find("admitted beside allowed_commands for this run only") != std::string::npos) ++admitted;
  }
  BOOST_TEST(refusals == 1);
  BOOST_TEST(admitted == 1);
}

// limits.output: the program floods stdout past the limit; the run's
// result shows the cut and no more than the limit reached the runner.
// Control: the same tier without the limit makes no claim.
BOOST_AUTO_TEST_CASE(a_tier_with_an_output_limit_cuts_the_flood) {
  const RedteamConfig config;
  config.dir.write("tiers/output-limited.json",
                   "{\"extends\": \"untrusted\", " + std::string(kReviewed) + ", \"limits\": {\"output\": \"64K\"}}");
  const auto results = config.redteam({"output-limited", "untrusted"}, 0);
  require_passed(results[0]);
  const auto output = scenario(results[0], "output-exhaustion");
  BOOST_TEST(output["verdict"] == "pass", output.dump());
  BOOST_TEST(output["observed"].get<std::string>().find("result output {limit_bytes 65536, bytes 1114112, cut true}, 65536 bytes reached the runner") !=
                 std::string::npos, output.dump());
  BOOST_TEST(scenario(results[1], "output-exhaustion")["verdict"] == "not claimed");
}

// Every tier shipped in profiles/tiers/ is run by a redteam test: this list,
// checked against the directory, names the test case that covers each.
BOOST_AUTO_TEST_CASE(every_shipped_tier_is_covered_by_a_redteam_test) {
  const std::map<std::string, std::string> covered{
      {"base", "every_host_tier_passes_every_scenario_and_is_audited_as_a_simulation"},
      {"readonly", "every_host_tier_passes_every_scenario_and_is_audited_as_a_simulation"},
      {"untrusted", "every_host_tier_passes_every_scenario_and_is_audited_as_a_simulation"},
      {"workspace-write", "every_host_tier_passes_every_scenario_and_is_audited_as_a_simulation"},
      {"workspace-staged", "every_host_tier_passes_every_scenario_and_is_audited_as_a_simulation"},
      {"networked", "networked_passes_with_its_resolver"},
      {"sealed", "sealed_passes_once_its_image_is_built"},
      {"sealed-debian", "rootfs_debian/redteam_passes_on_sealed_debian (label debian)"}};
  std::set<std::string> shipped;
  for (const auto& entry : fs::directory_iterator(fs::path(TIERBOX_SOURCE_DIR) / "profiles" / "tiers"))
    if (entry.path().extension() == ".json") shipped.insert(entry.path().stem().string());
  BOOST_TEST(shipped.size() >= 8u);
  for (const auto& tier : shipped) BOOST_TEST(covered.count(tier) == 1u, "shipped tier " << tier << " is run by no redteam test");
}

// An allowlist tier passes like any other, and its metadata control holds.
// (A "stricter" row used to be let through here: under parallel load the
// sandbox was seen without a route at its first connect. The cause was the
// shared default network pool, redteam_fixture.h; no longer tolerated.)
void require_allowlist_passed(const json& result) {
  require_passed(result);
  BOOST_TEST(scenario(result, "cloud-metadata")["verdict"] == "pass");
}

// The shipped tier answers names through the run's own resolver
// (docs/network.md); its upstream here is a port on loopback where nothing
// answers, so no query of the simulation leaves the host. The unlisted name
// the agent asks is refused by the resolver itself.
BOOST_AUTO_TEST_CASE(networked_passes_with_its_resolver) {
  const RedteamConfig config;
  config.set("dns_upstream", "127.0.0.1:9");
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

// workspace-staged's limits.disk (2G): the fill of the workspace stops with
// ENOSPC at the limit, in the run's layer (memory); the real
// workspace on the host never holds the file and the host's free space does
// not fall by what was written. (The controls, a fill past the limit, on the
// host or with the free space gone, fail it in unit.redteam_verdicts; a
// writable workspace without a staged limit is not filled at all.)
BOOST_AUTO_TEST_CASE(a_staged_workspace_fill_stops_at_limits_disk_and_stays_off_the_host) {
  const RedteamConfig config;
  const auto result = config.tierbox({"redteam", "--json", "--slow", "workspace-staged"});
  BOOST_TEST_REQUIRE(result.status == 0, result.out << result.err);
  const auto slow = json::parse(result.out);
  require_passed(slow[0]);
  const auto disk = scenario(slow[0], "disk-exhaustion");
  BOOST_TEST(disk["verdict"] == "pass", disk.dump());
  const auto observed = disk["observed"].get<std::string>();
  BOOST_TEST(observed.find("fill-keep:/workspace/.tierbox-redteam-fill:2148532224 -> ENOSPC") != std::string::npos, observed);
  // Exactly the limit, less what the layer already holds: the placeholders
  // of the workspace's missing protected paths live in it (a page each).
  const auto at = observed.find(" were written");
  BOOST_TEST_REQUIRE(at != std::string::npos, observed);
  const auto begin = observed.rfind(' ', at - 1) + 1;
  const auto written = std::stoull(observed.substr(begin, at - begin));
  BOOST_TEST(written <= 2147483648ULL, observed);
  BOOST_TEST(written >= 2147483648ULL - 64 * 1024, observed);
  BOOST_TEST(observed.find("the file is in the real workspace") == std::string::npos, observed);
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
