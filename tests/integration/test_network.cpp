// Network modes with real traffic, only to test hosts this test creates in
// network namespaces of its own (net_harness.h). Every refusal is made for
// real and paired with a control that shows the same destination answers
// when asked from the host.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "integration/harness.h"
#include "integration/net_harness.h"

using namespace tierbox::testing;
using nlohmann::json;

namespace {

constexpr std::uint16_t kPort = 8080;
constexpr std::uint16_t kOtherPort = 8081;
constexpr std::uint16_t kUdpPort = 5353;

std::string port_text(std::uint16_t port) { return std::to_string(port); }

struct NetworkRun {
  ProcessResult process;
  json probe;
  json report;
};

std::vector<std::string> tierbox_run(const std::string& profile, const Workspace& workspace,
                                     const std::vector<std::string>& probe_args,
                                     const std::vector<std::string>& extra = {}) {
  std::vector<std::string> args = {"run", "-v", "--profile", profile, "--workspace", workspace.str()};
  args.insert(args.end(), extra.begin(), extra.end());
  args.push_back("--");
  args.push_back("./probe");
  args.insert(args.end(), probe_args.begin(), probe_args.end());
  return args;
}

NetworkRun run_network_probe(const std::string& profile, const std::vector<std::string>& probe_args,
                             const std::vector<std::string>& prefix = {}, const std::vector<std::string>& extra = {}) {
  Workspace workspace;
  std::vector<std::string> argv = prefix;
  argv.push_back(kTierbox);
  for (auto& arg : tierbox_run(profile, workspace, probe_args, extra)) argv.push_back(arg);
  NetworkRun run;
  run.process = run_process(argv);
  BOOST_TEST_REQUIRE(run.process.status == 0, "tierbox exited " << run.process.status << ": " << run.process.err);
  run.probe = json::parse(run.process.out, nullptr, false);
  BOOST_TEST_REQUIRE(!run.probe.is_discarded(), "probe output is not JSON: " << run.process.out);
  auto report = network_report_from(run.process.err);
  BOOST_TEST_REQUIRE(report.has_value(), "no network report in: " << run.process.err);
  run.report = *report;
  return run;
}

std::set<std::string> strings_of(const json& array) {
  std::set<std::string> values;
  for (const auto& item : array) values.insert(item.get<std::string>());
  return values;
}

void touch(const std::filesystem::path& path) { std::ofstream(path) << "go\n"; }

}  // namespace

BOOST_AUTO_TEST_SUITE(network_allowlist)

BOOST_AUTO_TEST_CASE(listed_destinations_connect_and_exchange_data) {
  TestHost host({"198.51.100"}, {kPort, kOtherPort}, {kUdpPort});
  TempDir config;
  const auto profile = write_network_profile(
      config, "allow-one", {{"mode", "allowlist"}, {"allow", {host.address() + ":" + port_text(kPort) + "/tcp",
                                                              host.address() + ":" + port_text(kUdpPort) + "/udp"}}});
  auto tcp = run_network_probe(profile, {"exchange", "tcp", host.address(), port_text(kPort)});
  BOOST_TEST(tcp.probe["exchanged"] == true, tcp.probe.dump());
  BOOST_TEST(host.received_bytes(kPort) > 0);
  BOOST_TEST(tcp.report["mode"] == "allowlist");
  BOOST_TEST(tcp.report["allowed_packets"].get<int>() >= 4, tcp.report.dump());  // handshake, data, echo, close
  BOOST_TEST(tcp.report["allowed_bytes"].get<int>() > 0);
  BOOST_TEST(tcp.report["dropped_packets"] == 0, tcp.report.dump());

  auto udp = run_network_probe(profile, {"exchange", "udp", host.address(), port_text(kUdpPort)});
  BOOST_TEST(udp.probe["exchanged"] == true, udp.probe.dump());
  BOOST_TEST(host.received_bytes(kUdpPort) > 0);
  BOOST_TEST(udp.report["allowed_packets"].get<int>() >= 2, udp.report.dump());
}

BOOST_AUTO_TEST_CASE(the_sandbox_has_lo_and_eth0_and_no_ipv6) {
  TestHost host({"198.51.100"}, {kPort}, {});
  TempDir config;
  const auto profile = write_network_profile(
      config, "allow-one", {{"mode", "allowlist"}, {"allow", {host.address() + ":" + port_text(kPort) + "/tcp"}}});
  auto run = run_network_probe(profile, {"info"});
  std::set<std::string> names;
  for (const auto& interface : run.probe["interfaces"]) names.insert(interface["name"].get<std::string>());
  BOOST_TEST((names == std::set<std::string>{"lo", "eth0"}), run.probe["interfaces"].dump());
  int eth0_ipv4 = 0;
  for (const auto& address : run.probe["addresses"]) {
    if (address["interface"] != "eth0") continue;
    BOOST_TEST(address["family"] == "inet", "eth0 has " << address.dump() << ": sandboxes have no IPv6");
    ++eth0_ipv4;
  }
  BOOST_TEST(eth0_ipv4 == 1);
  // The host has IPv6 (fd00::2 here); the sandbox cannot reach any of it.
  Workspace workspace;
  auto ipv6_remote = run_tierbox(tierbox_run(profile, workspace, {"connect", "2001:db8::1", "443"}));
  BOOST_TEST(json::parse(ipv6_remote.out)["connect"] == "ENETUNREACH", ipv6_remote.out);
}

BOOST_AUTO_TEST_CASE(everything_else_is_refused_at_once_and_recorded) {
  TestHost listed({"198.51.100"}, {kPort, kOtherPort}, {});
  TestHost other({"203.0.113"}, {kPort}, {});
  TestHost private_host({"172.30.254"}, {kPort}, {});
  HostListener host_service;
  const std::string host_address = host_ipv4_address();
  BOOST_TEST_REQUIRE(!host_address.empty());
  // Controls: every one of these answers when asked from the host.
  BOOST_TEST_REQUIRE(connect_from_host(listed.address(), kOtherPort) == "ok");
  BOOST_TEST_REQUIRE(connect_from_host(other.address(), kPort) == "ok");
  BOOST_TEST_REQUIRE(connect_from_host(private_host.address(), kPort) == "ok");
  BOOST_TEST_REQUIRE(connect_from_host(host_address, host_service.port()) == "ok");
  BOOST_TEST_REQUIRE(listed.wait_for_connections(kOtherPort, 1));
  BOOST_TEST_REQUIRE(other.wait_for_connections(kPort, 1));
  BOOST_TEST_REQUIRE(private_host.wait_for_connections(kPort, 1));

  TempDir config;
  const auto profile = write_network_profile(
      config, "allow-one", {{"mode", "allowlist"}, {"allow", {listed.address() + ":" + port_text(kPort) + "/tcp"}}});
  const std::vector<std::string> refused = {
      listed.address() + ":" + port_text(kOtherPort),        // the listed host, another port
      other.address() + ":" + port_text(kPort),              // another host
      private_host.address() + ":" + port_text(kPort),       // a private address
      host_address + ":" + port_text(host_service.port()),   // the host's own address
      "169.254.169.254:80",                                  // cloud metadata
      "127.0.0.1:" + port_text(host_service.port()),         // (the sandbox's own lo: nothing listens)
  };
  std::vector<std::string> args = {"connect-many"};
  args.insert(args.end(), refused.begin(), refused.end());
  args.push_back("gateway:" + port_text(host_service.port()));  // the host, through the sandbox's gateway
  auto run = run_network_probe(profile, args);
  for (const auto& [target, outcome] : run.probe.items())
    BOOST_TEST(outcome == "ECONNREFUSED", target << ": " << outcome);
  BOOST_TEST(listed.connections(kOtherPort) == 1);  // the control's only
  BOOST_TEST(other.connections(kPort) == 1);
  BOOST_TEST(private_host.connections(kPort) == 1);

  const auto dropped = strings_of(run.report["dropped_destinations"]);
  for (std::size_t i = 0; i + 1 < refused.size(); ++i)
    BOOST_TEST(dropped.count(refused[i] + "/tcp") == 1u, refused[i] << " not in " << run.report.dump());
  BOOST_TEST(run.report["dropped_packets"].get<int>() >= 6, run.report.dump());
  BOOST_TEST(run.report["allowed_packets"] == 0, run.report.dump());
}

BOOST_AUTO_TEST_CASE(the_first_twenty_distinct_destinations_are_kept) {
  TestHost host({"198.51.100"}, {kPort}, {});
  TempDir config;
  const auto profile = write_network_profile(
      config, "allow-one", {{"mode", "allowlist"}, {"allow", {host.address() + ":" + port_text(kPort) + "/tcp"}}});
  std::vector<std::string> args = {"connect-many"};
  std::set<std::string> attempted;
  for (int port = 9001; port <= 9025; ++port) {
    args.push_back(host.address() + ":" + std::to_string(port));
    args.push_back(host.address() + ":" + std::to_string(port));  // twice: distinct ones are kept
    attempted.insert(host.address() + ":" + std::to_string(port) + "/tcp");
  }
  auto run = run_network_probe(profile, args);
  const auto dropped = strings_of(run.report["dropped_destinations"]);
  BOOST_TEST(dropped.size() == 20u, run.report.dump());
  for (const auto& destination : dropped) BOOST_TEST(attempted.count(destination) == 1u, destination);
  BOOST_TEST(run.report["dropped_packets"].get<int>() >= 50, run.report.dump());
}

BOOST_AUTO_TEST_CASE(the_task_cannot_change_its_firewall) {
  TestHost host({"198.51.100"}, {kPort, kOtherPort}, {});
  TempDir config;
  const auto profile = write_network_profile(
      config, "allow-one", {{"mode", "allowlist"}, {"allow", {host.address() + ":" + port_text(kPort) + "/tcp"}}});
  auto run = run_network_probe(profile, {"net-admin", host.address() + ":" + port_text(kOtherPort),
                                         host.address() + ":" + port_text(kPort)});
  BOOST_TEST(run.probe["link_down"] == "EPERM", run.probe.dump());
  BOOST_TEST(run.probe["nft_delete_table"] == "EPERM", run.probe.dump());
  BOOST_TEST(run.probe["afterwards"][host.address() + ":" + port_text(kOtherPort)] == "ECONNREFUSED");
  BOOST_TEST(run.probe["afterwards"][host.address() + ":" + port_text(kPort)] == "ok");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(network_names)

struct NamesFixture {
  TestHost pinned{{"198.51.100"}, {kPort}, {}};
  TestHost elsewhere{{"203.0.113"}, {kPort}, {}};
  TempDir files;
  std::string hosts_file;
  std::string nsswitch_file = files.write("nsswitch.conf", "hosts: files\n").string();

  void write_hosts(const std::string& svc_address) {
    // In place (same inode), so the bind mount of the private namespace sees it.
    hosts_file = files.write("hosts", "127.0.0.1 localhost\n" + svc_address + " svc.tierbox.test\n" +
                                          elsewhere.address() + " other.tierbox.test\n169.254.169.254 meta.tierbox.test\n")
                     .string();
  }
};

BOOST_FIXTURE_TEST_CASE(pinned_names_resolve_to_the_launch_address_and_nothing_else_resolves, NamesFixture) {
  write_hosts(pinned.address());
  const auto profile = write_network_profile(files, "named", {{"mode", "allowlist"}, {"names", "pinned"}, {"allow", {"svc.tierbox.test:8080/tcp"}}});
  const auto prefix = with_hosts_file(hosts_file, nsswitch_file);
  // By name: the pinned host answers; a name the host knows but the tier
  // does not list does not resolve at all.
  auto by_name = run_network_probe(profile, {"exchange", "tcp", "svc.tierbox.test", port_text(kPort)}, prefix);
  BOOST_TEST(by_name.probe["exchanged"] == true, by_name.probe.dump());
  auto unlisted = run_network_probe(profile, {"exchange", "tcp", "other.tierbox.test", port_text(kPort)}, prefix);
  BOOST_TEST(unlisted.probe["connect"] == "EAI_NONAME", unlisted.probe.dump());

  // The host's resolver changes its answer during the run; the sandbox keeps
  // the address pinned at launch.
  Workspace workspace;
  BackgroundRun run(tierbox_run(profile, workspace,
                                {"resolve-after", "/workspace/go", "svc.tierbox.test", "other.tierbox.test", "localhost"}),
                    prefix);
  BOOST_TEST_REQUIRE(!run.wait_for_line("probe: resolved").empty());
  write_hosts(elsewhere.address());
  std::vector<std::string> getent = prefix;
  getent.insert(getent.end(), {"/usr/bin/getent", "hosts", "svc.tierbox.test"});
  auto control = run_process(getent);
  BOOST_TEST(control.out.find(elsewhere.address()) != std::string::npos, "the host now says: " << control.out);
  touch(workspace.path() / "go");
  BOOST_TEST_REQUIRE(run.wait() == 0);
  auto report = json::parse(run.out());
  for (const char* phase : {"before", "after"}) {
    BOOST_TEST(report[phase]["svc.tierbox.test"] == json::array({pinned.address()}), report.dump());
    BOOST_TEST(report[phase]["other.tierbox.test"] == "EAI_NONAME", report.dump());
    BOOST_TEST(report[phase]["localhost"] == json::array({"127.0.0.1"}), report.dump());
  }
}

BOOST_FIXTURE_TEST_CASE(a_name_that_resolves_into_a_denied_range_is_refused, NamesFixture) {
  write_hosts(pinned.address());
  const auto profile = write_network_profile(files, "meta", {{"mode", "allowlist"}, {"names", "pinned"}, {"allow", {"meta.tierbox.test:80/tcp"}}});
  std::vector<std::string> argv = with_hosts_file(hosts_file, nsswitch_file);
  argv.insert(argv.end(), {kTierbox, "run", "--profile", profile, "--", "/bin/true"});
  auto result = run_process(argv);
  BOOST_TEST(result.status == 126, result.err);
  BOOST_TEST(result.err.find("resolves to 169.254.169.254") != std::string::npos, result.err);
}

BOOST_FIXTURE_TEST_CASE(a_name_that_does_not_resolve_fails_the_launch, NamesFixture) {
  write_hosts(pinned.address());
  const auto profile = write_network_profile(files, "missing", {{"mode", "allowlist"}, {"names", "pinned"}, {"allow", {"nowhere.tierbox.test:80/tcp"}}});
  std::vector<std::string> argv = with_hosts_file(hosts_file, nsswitch_file);
  argv.insert(argv.end(), {kTierbox, "run", "--profile", profile, "--", "/bin/true"});
  auto result = run_process(argv);
  BOOST_TEST(result.status == 125, result.err);
  BOOST_TEST(result.err.find("cannot resolve nowhere.tierbox.test") != std::string::npos, result.err);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(network_isolation)

// The probe holds a TCP connection to the test host, waits for a file, then
// uses the connection again and tries a new one.
json hold_connection(const std::string& profile, const TestHost& host, bool isolate) {
  Workspace workspace;
  BackgroundRun run(tierbox_run(profile, workspace, {"hold", host.address(), port_text(kPort), "/workspace/go"}));
  const auto registered = run.wait_for_line(" registered");
  const auto run_id = run_id_from(registered);
  BOOST_TEST_REQUIRE(!run_id.empty(), registered);
  BOOST_TEST_REQUIRE(!run.wait_for_line("probe: holding").empty());
  if (isolate) {
    auto cut = run_tierbox({"isolate-network", run_id});
    BOOST_TEST(cut.status == 0, cut.err);
    BOOST_TEST(cut.out.find("network cut") != std::string::npos, cut.out);
  }
  const long received_before = host.received_bytes(kPort);
  touch(workspace.path() / "go");
  BOOST_TEST_REQUIRE(run.wait() == 0);
  auto report = json::parse(run.out());
  report["server_received_after"] = host.received_bytes(kPort) - received_before;
  return report;
}

BOOST_AUTO_TEST_CASE(cutting_a_running_sandbox_stops_its_established_connection) {
  TestHost host({"198.51.100"}, {kPort}, {});
  TempDir config;
  const auto profile = write_network_profile(
      config, "allow-one", {{"mode", "allowlist"}, {"allow", {host.address() + ":" + port_text(kPort) + "/tcp"}}});
  // Control: without isolation the held connection keeps working.
  auto control = hold_connection(profile, host, false);
  BOOST_TEST(control["before"] == "ok", control.dump());
  BOOST_TEST(control["after"] == "ok", control.dump());
  BOOST_TEST(control["new_connection"] == "ok", control.dump());

  auto isolated = hold_connection(profile, host, true);
  BOOST_TEST(isolated["before"] == "ok", isolated.dump());
  BOOST_TEST(isolated["after"] != "ok", isolated.dump());
  BOOST_TEST(isolated["server_received_after"] == 0, isolated.dump());
  BOOST_TEST(isolated["new_connection"] == "ECONNREFUSED", isolated.dump());
}

BOOST_AUTO_TEST_CASE(only_running_runs_can_be_isolated) {
  auto unknown = run_tierbox({"isolate-network", "0123456789abcdef"});
  BOOST_TEST(unknown.status == 125);
  BOOST_TEST(unknown.err.find("no run") != std::string::npos, unknown.err);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(network_modes)

BOOST_AUTO_TEST_CASE(none_has_only_lo_and_reaches_no_test_host) {
  TestHost host({"198.51.100"}, {kPort}, {});
  BOOST_TEST_REQUIRE(connect_from_host(host.address(), kPort) == "ok");  // control
  BOOST_TEST_REQUIRE(host.wait_for_connections(kPort, 1));
  auto info = probe({"--tier", "untrusted"}, {"info"});
  BOOST_TEST(info["interfaces"].size() == 1u, info["interfaces"].dump());
  auto attempt = probe({"--tier", "untrusted"}, {"connect-many", host.address() + ":" + port_text(kPort), "gateway:22"});
  BOOST_TEST(attempt[host.address() + ":" + port_text(kPort)] == "ENETUNREACH", attempt.dump());
  BOOST_TEST(host.connections(kPort) == 1);
  auto loopback = probe({"--tier", "untrusted"}, {"loopback"});
  BOOST_TEST(loopback["exchanged"] == true);
  // Mode none starts no helper and reports its mode.
  auto verbose = run_tierbox({"run", "-v", "--tier", "untrusted", "--", "/bin/true"});
  BOOST_TEST(verbose.status == 0);
  BOOST_TEST(verbose.err.find("network helper") == std::string::npos, verbose.err);
  auto report = network_report_from(verbose.err);
  BOOST_TEST_REQUIRE(report.has_value());
  BOOST_TEST((*report)["mode"] == "none");
}

BOOST_AUTO_TEST_CASE(host_shares_the_hosts_network_and_check_warns) {
  TestHost host({"198.51.100"}, {kPort}, {});
  TempDir config;
  const auto profile = write_network_profile(config, "trusted-host", {{"mode", "host"}});
  auto check = run_tierbox({"profile", "check", profile});
  BOOST_TEST(check.status == 0, check.err);
  BOOST_TEST(check.err.find("warning") != std::string::npos, check.err);
  BOOST_TEST(check.err.find("shares the host's network") != std::string::npos, check.err);

  auto run = run_network_probe(profile, {"exchange", "tcp", host.address(), port_text(kPort)});
  BOOST_TEST(run.probe["exchanged"] == true, run.probe.dump());
  BOOST_TEST(run.report["mode"] == "host");
  struct stat own {};
  BOOST_TEST_REQUIRE(::stat("/proc/self/ns/net", &own) == 0);
  auto info = run_network_probe(profile, {"info"});
  BOOST_TEST(info.probe["namespaces"]["net"] == own.st_ino);
}

BOOST_AUTO_TEST_SUITE_END()
