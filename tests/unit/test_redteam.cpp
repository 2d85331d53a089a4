// `tierbox redteam`, pure parts: each scenario's expectation follows from the
// tier's plan (network mode and allowlist, max_data_class, workspace,
// seccomp, limits, allowed_commands), and the verdict from the evidence: a
// move that worked where the tier claims it is blocked is WEAKER, and so is
// an allowlist move the run's firewall did not refuse.
#include <boost/test/unit_test.hpp>

#include <algorithm>

#include "policy/profile_loader.h"
#include "redteam/scenarios.h"

using namespace tierbox;
using namespace tierbox::redteam;
using nlohmann::json;

namespace tierbox::redteam {
std::ostream& operator<<(std::ostream& out, Expect expect) { return out << to_string(expect); }
}  // namespace tierbox::redteam

namespace {

const std::filesystem::path kShipped = TIERBOX_SHIPPED_PROFILES;

redteam::HostContext host() { return {{"192.0.2.2"}, "tbxrtunit", "/root", false}; }

policy::LaunchPlan plan_of(const policy::Profile& profile) {
  policy::LaunchPlan plan;
  plan.tier = profile.name;
  plan.network = profile.network.mode;
  plan.seccomp = profile.seccomp;
  plan.workspace = policy::WorkspacePlan{"/tmp/ws", "/workspace", profile.workspace.writable};
  plan.cgroup_limits = profile.limits.cgroup;
  return plan;
}

const Scenario& find(const std::vector<Scenario>& scenarios, const std::string& id) {
  auto it = std::find_if(scenarios.begin(), scenarios.end(), [&](const Scenario& s) { return s.id == id; });
  BOOST_REQUIRE_MESSAGE(it != scenarios.end(), "no scenario " << id);
  return *it;
}

const Attempt& attempt(const Scenario& scenario, const std::string& prefix) {
  auto it = std::find_if(scenario.attempts.begin(), scenario.attempts.end(),
                         [&](const Attempt& a) { return a.argument.rfind(prefix, 0) == 0; });
  BOOST_REQUIRE_MESSAGE(it != scenario.attempts.end(), scenario.id << " has no attempt " << prefix);
  return *it;
}

Evidence launched(json attempts) {
  Evidence evidence;
  evidence.launched = true;
  evidence.attempts = std::move(attempts);
  return evidence;
}

json result(const std::string& text) { return {{"result", text}, {"detail", nullptr}}; }

}  // namespace

BOOST_AUTO_TEST_SUITE(redteam_expectations)

BOOST_AUTO_TEST_CASE(a_none_tier_expects_every_destination_blocked_and_its_loopback_working) {
  const auto profile = policy::load_tier("untrusted", {kShipped});
  const auto scenarios = plan_scenarios(profile, plan_of(profile), host());
  const auto& egress = find(scenarios, "network-egress");
  BOOST_TEST(attempt(egress, "connect:198.51.100.7").expect == Expect::blocked);
  BOOST_TEST(attempt(egress, "connect:198.51.100.7").destination.empty());  // no firewall report in mode none
  BOOST_TEST(attempt(egress, "loopback").expect == Expect::allowed);
  BOOST_TEST(attempt(find(scenarios, "cloud-metadata"), "connect:169.254.169.254:80").expect == Expect::blocked);
  BOOST_TEST(attempt(find(scenarios, "host-addresses"), "connect:192.0.2.2:22").expect == Expect::blocked);
  BOOST_TEST(attempt(find(scenarios, "dns-exfiltration"), "resolve:").expect == Expect::blocked);
  // untrusted denies inotify (seccomp deny+), so watching is claimed blocked.
  BOOST_TEST(attempt(find(scenarios, "host-file-watch"), "inotify:").expect == Expect::blocked);
  BOOST_TEST(attempt(find(scenarios, "pids-exhaustion"), "fork:").argument == "fork:136");
}

BOOST_AUTO_TEST_CASE(an_allowlist_tier_expects_its_listed_destination_reachable_and_the_rest_refused_by_its_firewall) {
  const auto profile = policy::load_tier("networked", {kShipped});
  auto plan = plan_of(profile);
  net::AllowRule rule;
  rule.block = *net::parse_ipv4_cidr("203.0.113.10");
  rule.ports = {443, 443};
  plan.egress = policy::EgressPlan{{rule}, {{"api.github.com", {*net::parse_ipv4("203.0.113.10")}}}};
  const auto scenarios = plan_scenarios(profile, plan, host());
  const auto& listed = attempt(find(scenarios, "allowlisted-destination"), "connect:");
  BOOST_TEST(listed.argument == "connect:203.0.113.10:443");
  BOOST_TEST(listed.expect == Expect::allowed);
  BOOST_TEST(listed.destination == "203.0.113.10:443/tcp");
  const auto& metadata = attempt(find(scenarios, "cloud-metadata"), "connect:");
  BOOST_TEST(metadata.destination == "169.254.169.254:80/tcp");
  BOOST_TEST(attempt(find(scenarios, "dns-exfiltration"), "udp:").destination == "8.8.8.8:53/udp");
  BOOST_TEST((attempt(find(scenarios, "dns-exfiltration"), "resolve:api.github.com").expect == Expect::allowed));
}

BOOST_AUTO_TEST_CASE(a_host_network_tier_claims_nothing_about_the_network) {
  auto profile = policy::load_tier("readonly", {kShipped});
  profile.network.mode = policy::NetworkMode::host;
  const auto scenarios = plan_scenarios(profile, plan_of(profile), host());
  BOOST_TEST((attempt(find(scenarios, "cloud-metadata"), "connect:").expect == Expect::not_claimed));
  BOOST_TEST(judge(find(scenarios, "cloud-metadata"), launched({{"connect:169.254.169.254:80", result("ok")}})).verdict ==
             "not claimed");
}

BOOST_AUTO_TEST_CASE(the_workspace_expectation_follows_workspace_writable) {
  const auto readonly = policy::load_tier("readonly", {kShipped});
  const auto writable = policy::load_tier("workspace-write", {kShipped});
  auto new_file = [&](const policy::Profile& profile) {
    return attempt(find(plan_scenarios(profile, plan_of(profile), host()), "write-outside-workspace"),
                   "write:/workspace/.tierbox-redteam-new").expect;
  };
  BOOST_TEST((new_file(readonly) == Expect::blocked));
  BOOST_TEST((new_file(writable) == Expect::allowed));
  // Protected paths stay blocked in a writable workspace.
  BOOST_TEST((attempt(find(plan_scenarios(writable, plan_of(writable), host()), "write-outside-workspace"),
                      "write:/workspace/.git/hooks/pre-commit").expect == Expect::blocked));
}

BOOST_AUTO_TEST_CASE(a_secret_class_tier_does_not_claim_to_keep_secrets_out) {
  auto profile = policy::load_tier("readonly", {kShipped});
  profile.data_access.max_data_class = policy::DataClass::secret;
  const auto secrets_all = plan_scenarios(profile, plan_of(profile), host());
  const auto& secrets = find(secrets_all, "secret-files");
  BOOST_TEST((attempt(secrets, "read:/etc/shadow").expect == Expect::not_claimed));
}

BOOST_AUTO_TEST_CASE(opting_in_to_a_dangerous_item_does_not_lower_the_floor) {
  auto profile = policy::load_tier("readonly", {kShipped});
  profile.seccomp.allow_dangerous = {"ptrace"};
  const auto privilege_all = plan_scenarios(profile, plan_of(profile), host());
  const auto& privilege = find(privilege_all, "privilege-gain");
  BOOST_TEST((attempt(privilege, "ptrace").expect == Expect::blocked));
  BOOST_TEST(privilege.expected.find("opts in to allow_dangerous ptrace") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(slow_scenarios_are_skipped_unless_asked_for) {
  const auto profile = policy::load_tier("untrusted", {kShipped});
  auto fast = host();
  const auto memory_all = plan_scenarios(profile, plan_of(profile), fast);
  const auto& memory = find(memory_all, "memory-exhaustion");
  BOOST_TEST(judge(memory, launched(json::object())).verdict == "skipped");
  fast.slow = true;
  const auto scenarios = plan_scenarios(profile, plan_of(profile), fast);
  BOOST_TEST(attempt(find(scenarios, "memory-exhaustion"), "allocate:").argument ==
             "allocate:" + std::to_string((512ull << 20) + (64ull << 20)));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(redteam_verdicts)

BOOST_AUTO_TEST_CASE(a_blocked_move_that_worked_is_weaker_and_names_the_attempt) {
  const auto profile = policy::load_tier("untrusted", {kShipped});
  const auto secrets_all = plan_scenarios(profile, plan_of(profile), host());
  const auto& secrets = find(secrets_all, "secret-files");
  json attempts = json::object();
  for (const auto& a : secrets.attempts) attempts[a.argument] = result("ENOENT");
  BOOST_TEST(judge(secrets, launched(attempts)).verdict == "pass");
  attempts["read-tree:/root/.ssh"] = {{"result", "ok"}, {"detail", {"/root/.ssh/id_rsa"}}};
  const auto row = judge(secrets, launched(attempts));
  BOOST_TEST(row.verdict == "WEAKER");
  BOOST_TEST(is_weaker(row));
  BOOST_TEST(row.observed.find("read-tree:/root/.ssh -> ok [\"/root/.ssh/id_rsa\"]") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(an_allowlist_move_counts_as_blocked_only_when_the_firewall_refused_it) {
  const auto profile = policy::load_tier("networked", {kShipped});
  auto plan = plan_of(profile);
  plan.egress = policy::EgressPlan{};
  const auto metadata_all = plan_scenarios(profile, plan, host());
  const auto& metadata = find(metadata_all, "cloud-metadata");
  auto evidence = launched({{"connect:169.254.169.254:80", result("timeout")}});
  // A timeout alone may be a dead route: not proof of the control.
  BOOST_TEST(judge(metadata, evidence).verdict == "WEAKER");
  evidence.dropped_destinations = {"169.254.169.254:80/tcp"};
  BOOST_TEST(judge(metadata, evidence).verdict == "pass");
  // No route inside the sandbox's namespace blocks it too (not a dead route upstream).
  BOOST_TEST(judge(metadata, launched({{"connect:169.254.169.254:80", result("ENETUNREACH")}})).verdict == "pass");
}

BOOST_AUTO_TEST_CASE(a_process_left_after_the_run_is_weaker) {
  const auto profile = policy::load_tier("untrusted", {kShipped});
  const auto stop_all = plan_scenarios(profile, plan_of(profile), host());
  const auto& stop = find(stop_all, "survive-stop");
  auto evidence = launched({{"double-fork:tbxrtunit", result("spawned")}});
  // Not stopped: the scenario did not test stop.
  BOOST_TEST(judge(stop, evidence).verdict == "not run");
  evidence.stopped = "SIGTERM sent";
  BOOST_TEST(judge(stop, evidence).verdict == "pass");
  evidence.survivors = {4242};
  const auto row = judge(stop, evidence);
  BOOST_TEST(row.verdict == "WEAKER");
  BOOST_TEST(row.observed.find("pid 4242") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_killed_attempt_is_blocked_and_a_missing_report_is_not_a_pass) {
  const auto profile = policy::load_tier("untrusted", {kShipped});
  const auto terminal_all = plan_scenarios(profile, plan_of(profile), host());
  const auto& terminal = find(terminal_all, "terminal-injection");
  BOOST_TEST(judge(terminal, launched({{"tiocsti", result("killed:SYS")}})).verdict == "pass");
  BOOST_TEST(judge(terminal, launched({{"other", result("ok")}})).verdict == "WEAKER");
  Evidence none;
  none.launch_error = "no image";
  BOOST_TEST(judge(terminal, none).verdict == "not run");
}

// The unlisted launch (the program without the simulation's admission) is
// judged apart from the admitted run, which carries the other scenarios.
BOOST_AUTO_TEST_CASE(allowed_commands_are_judged_by_the_launch_refusal) {
  auto profile = policy::load_tier("untrusted", {kShipped});
  profile.commands.allowed = std::vector<policy::AllowedCommand>{{"sh", "", "t.json:/allowed_commands/0"}};
  const auto command_all = plan_scenarios(profile, plan_of(profile), host());
  const auto& command = find(command_all, "unlisted-command");
  auto evidence = launched({{"x", result("ok")}});
  BOOST_TEST(judge(command, evidence).verdict == "not run");  // not attempted
  evidence.unlisted = UnlistedLaunch{false, "refused: ... allowed_commands: sh"};
  BOOST_TEST(judge(command, evidence).verdict == "pass");
  evidence.unlisted = UnlistedLaunch{true, ""};
  BOOST_TEST(judge(command, evidence).verdict == "WEAKER");
  evidence.unlisted = UnlistedLaunch{false, "no image named minimal"};
  BOOST_TEST(judge(command, evidence).verdict == "not run");
  // The admitted run's scenarios are judged as in any tier.
  BOOST_TEST(judge(find(command_all, "terminal-injection"), launched({{"tiocsti", result("EPERM")}})).verdict == "pass");
}

BOOST_AUTO_TEST_CASE(a_staged_workspace_fill_must_stop_at_limits_disk_and_stay_off_the_host) {
  const auto profile = policy::load_tier("workspace-staged", {kShipped});
  auto plan = plan_of(profile);
  plan.workspace->staged = true;
  plan.workspace->layer_size_bytes = 2ULL << 30;
  auto slow = host();
  slow.slow = true;
  const auto all = plan_scenarios(profile, plan, slow);
  const auto& disk = find(all, "disk-exhaustion");
  BOOST_TEST(disk.disk_host_check);
  const auto& fill = attempt(disk, "fill-keep:/workspace/");
  BOOST_TEST(fill.argument == "fill-keep:/workspace/.tierbox-redteam-fill:" + std::to_string((2ULL << 30) + (1ULL << 20)));
  BOOST_TEST(disk.expected.find("limits.disk 2G") != std::string::npos, disk.expected);
  const json written = {{"result", "ENOSPC"}, {"detail", {{"written", 2LL << 30}}}};
  auto evidence = launched({{fill.argument, written}});
  // Not looked at from the host: no pass.
  BOOST_TEST(judge(disk, evidence).verdict == "not run");
  evidence.disk = DiskEvidence{"/tmp/ws", 4096, false};
  BOOST_TEST(judge(disk, evidence).verdict == "pass");
  evidence.disk = DiskEvidence{"/tmp/ws", 1LL << 30, false};  // the writes reached the host's disk
  BOOST_TEST(judge(disk, evidence).verdict == "WEAKER");
  evidence.disk = DiskEvidence{"/tmp/ws", 0, true};  // the file is in the real workspace
  BOOST_TEST(judge(disk, evidence).verdict == "WEAKER");
  evidence.disk = DiskEvidence{"/tmp/ws", 0, false};
  evidence.attempts[fill.argument] = {{"result", "ok"}, {"detail", {{"written", (2LL << 30) + (1LL << 20)}}}};
  BOOST_TEST(judge(disk, evidence).verdict == "WEAKER");  // past the limit
}

BOOST_AUTO_TEST_CASE(a_workspace_without_a_staged_disk_limit_is_not_claimed) {
  const auto writable = policy::load_tier("workspace-write", {kShipped});
  auto slow = host();
  slow.slow = true;
  const auto all = plan_scenarios(writable, plan_of(writable), slow);
  const auto& disk = find(all, "disk-exhaustion");
  BOOST_TEST(!disk.disk_host_check);
  BOOST_TEST(disk.expected.find("the workspace: the tier sets no limits.disk") != std::string::npos, disk.expected);
  BOOST_TEST(std::none_of(disk.attempts.begin(), disk.attempts.end(),
                          [](const Attempt& a) { return a.argument.find("/workspace/") != std::string::npos; }));
}

BOOST_AUTO_TEST_CASE(output_exhaustion_is_judged_by_the_runs_result) {
  const auto profile = policy::load_tier("untrusted", {kShipped});
  BOOST_TEST(find(plan_scenarios(profile, plan_of(profile), host()), "output-exhaustion").expected ==
             "not claimed: the tier sets no limits.output");
  auto plan = plan_of(profile);
  plan.output_limit_bytes = 64 * 1024;
  const auto all = plan_scenarios(profile, plan, host());
  const auto& output = find(all, "output-exhaustion");
  BOOST_TEST(output.not_run.empty());  // small: not slow
  const auto& flood = attempt(output, "flood:");
  BOOST_TEST(flood.argument == "flood:" + std::to_string(64 * 1024 + (1 << 20)));
  auto evidence = launched({{flood.argument, {{"result", "ok"}, {"detail", {{"written", 64 * 1024 + (1 << 20)}}}}}});
  // The program's word alone is no pass: no relay in the result is weaker.
  BOOST_TEST(judge(output, evidence).verdict == "WEAKER");
  evidence.output = OutputEvidence{64 * 1024, 64 * 1024 + (1 << 20), true, 64 * 1024};
  BOOST_TEST(judge(output, evidence).verdict == "pass");
  evidence.output = OutputEvidence{64 * 1024, 64 * 1024 + (1 << 20), true, 64 * 1024 + 1};  // more reached the caller
  BOOST_TEST(judge(output, evidence).verdict == "WEAKER");
  evidence.output = OutputEvidence{64 * 1024, 64 * 1024 + (1 << 20), false, 64 * 1024};  // past the limit, not cut
  BOOST_TEST(judge(output, evidence).verdict == "WEAKER");
  plan.output_limit_bytes = 1ULL << 30;  // a flood of a GiB waits for --slow
  BOOST_TEST(find(plan_scenarios(profile, plan, host()), "output-exhaustion").not_run == "slow (tierbox redteam --slow)");
}

BOOST_AUTO_TEST_SUITE_END()
