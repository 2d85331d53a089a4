// The run's resolver (docs/network.md, "Names"), with real queries: a test
// DNS server of this test in a network namespace of its own (a TestHost
// answering UDP port 53 from a zone the test controls and counting what it
// is asked), test web hosts in other namespaces, and tierbox runs whose
// tierbox.json names that server as the upstream. No other address is used.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "integration/harness.h"
#include "integration/net_harness.h"

using namespace tierbox::testing;
using nlohmann::json;

namespace {

constexpr std::uint16_t kPort = 8080;
constexpr std::uint16_t kOtherPort = 8081;
constexpr std::uint16_t kDnsPort = 53;

// A zone: name -> addresses and TTL, changeable while the test runs, and a
// count of every name asked. Answers NXDOMAIN for names it does not hold.
class Zone {
 public:
  void set(const std::string& name, const std::vector<std::string>& addresses, std::uint32_t ttl = 300) {
    std::lock_guard lock(mutex_);
    records_[name] = {addresses, ttl};
  }
  int asked(const std::string& name) const {
    std::lock_guard lock(mutex_);
    auto it = asked_.find(name);
    return it == asked_.end() ? 0 : it->second;
  }
  int asked_with_suffix(const std::string& suffix) const {
    std::lock_guard lock(mutex_);
    int count = 0;
    for (const auto& [name, times] : asked_)
      if (name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) count += times;
    return count;
  }

  // A query as tierbox's resolver sends it: header, one question with
  // plain labels (it never compresses a query).
  std::optional<std::string> answer(const std::string& query) {
    if (query.size() < 17) return std::nullopt;
    std::string name;
    std::size_t at = 12;
    while (at < query.size() && query[at] != 0) {
      const auto length = static_cast<unsigned char>(query[at]);
      if (length > 63 || at + 1 + length >= query.size()) return std::nullopt;
      if (!name.empty()) name += '.';
      name += query.substr(at + 1, length);
      at += 1 + length;
    }
    const std::size_t question_end = at + 5;
    if (question_end > query.size()) return std::nullopt;
    const int type = static_cast<unsigned char>(query[at + 1]) << 8 | static_cast<unsigned char>(query[at + 2]);
    std::vector<std::string> addresses;
    std::uint32_t ttl = 0;
    bool known = false;
    {
      std::lock_guard lock(mutex_);
      ++asked_[name];
      if (auto it = records_.find(name); it != records_.end()) {
        known = true;
        addresses = it->second.first;
        ttl = it->second.second;
      }
    }
    std::string reply = query.substr(0, question_end);
    reply[2] = static_cast<char>(0x81);               // QR, RD
    reply[3] = static_cast<char>(known ? 0x80 : 0x83);  // RA; NOERROR or NXDOMAIN
    if (type != 1) addresses.clear();
    reply[6] = 0;
    reply[7] = static_cast<char>(addresses.size());
    reply[8] = reply[9] = reply[10] = reply[11] = 0;
    for (const auto& address : addresses) {
      in_addr bytes{};
      ::inet_pton(AF_INET, address.c_str(), &bytes);
      const unsigned char record[] = {0xc0, 0x0c, 0, 1, 0, 1,
                                      static_cast<unsigned char>(ttl >> 24), static_cast<unsigned char>(ttl >> 16),
                                      static_cast<unsigned char>(ttl >> 8), static_cast<unsigned char>(ttl), 0, 4};
      reply.append(reinterpret_cast<const char*>(record), sizeof record);
      reply.append(reinterpret_cast<const char*>(&bytes), 4);
    }
    return reply;
  }

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::pair<std::vector<std::string>, std::uint32_t>> records_;
  std::map<std::string, int> asked_;
};

// The test DNS server: a test host in 203.0.113.0/24 answering port 53 from a zone.
struct DnsServer {
  TestHost host{{"203.0.113"}, {}, {kDnsPort}};
  Zone zone;
  DnsServer() {
    host.set_datagram_handler(kDnsPort, [this](const std::string& query) { return zone.answer(query); });
  }
};

// A config directory whose tierbox.json sends the run's resolver to the
// test server, with TTLs clamped to 1 s - 1 h (so expiry can be tested).
struct DnsConfig {
  TempDir dir{"tierbox-dns-cfg"};
  explicit DnsConfig(const DnsServer& server, const json& extra = json::object()) {
    json config = {{"dns_upstream", server.host.address()}, {"dns_min_ttl_seconds", 1}};
    config.update(extra);
    dir.write("tierbox.json", config.dump());
  }
  std::string profile(const std::string& name, const std::vector<std::string>& allow) const {
    return write_network_profile(dir, name, {{"mode", "allowlist"}, {"allow", allow}});
  }
  std::vector<std::string> run_args(const std::string& profile, const Workspace& workspace,
                                    const std::vector<std::string>& probe_args) const {
    std::vector<std::string> args = {"run", "-v", "--config-dir", dir.str(), "--profile", profile,
                                      "--workspace", workspace.str(), "--", "./probe"};
    args.insert(args.end(), probe_args.begin(), probe_args.end());
    return args;
  }
};

struct DnsRun {
  ProcessResult process;
  json probe;
  json report;
};

// What a run printed, checked and parsed (on the test's main thread: a
// failed requirement throws).
DnsRun parse_run(ProcessResult process) {
  DnsRun run;
  run.process = std::move(process);
  BOOST_TEST_REQUIRE(run.process.status == 0, "tierbox exited " << run.process.status << ": " << run.process.err);
  run.probe = json::parse(run.process.out, nullptr, false);
  BOOST_TEST_REQUIRE(!run.probe.is_discarded(), "probe output is not JSON: " << run.process.out);
  auto report = network_report_from(run.process.err);
  BOOST_TEST_REQUIRE(report.has_value(), "no network report in: " << run.process.err);
  run.report = *report;
  BOOST_TEST_REQUIRE(run.report.contains("dns"), run.report.dump());
  return run;
}

DnsRun run_probe(const DnsConfig& config, const std::string& profile, const std::vector<std::string>& probe_args) {
  Workspace workspace;
  return parse_run(run_tierbox(config.run_args(profile, workspace, probe_args)));
}

// The outcomes the report gives for a name ("answered", "refused", ...).
std::set<std::string> outcomes_of(const json& report, const std::string& name) {
  std::set<std::string> outcomes;
  for (const auto& entry : report["dns"]["names"])
    if (entry["name"] == name) outcomes.insert(entry["outcome"].get<std::string>());
  return outcomes;
}

// The audit trail's end record of a run (the log is the test process's own).
json end_record(const DnsRun& run) {
  const auto run_id = run_id_from(run.process.err);
  BOOST_TEST_REQUIRE(!run_id.empty(), run.process.err);
  json end;
  std::ifstream log(std::getenv("TIERBOX_AUDIT_LOG"));
  for (std::string line; std::getline(log, line);) {
    const auto record = json::parse(line, nullptr, false);
    if (!record.is_discarded() && record.value("event", "") == "end" && record.value("run_id", "") == run_id) end = record;
  }
  BOOST_TEST_REQUIRE(!end.is_null(), "no end record for run " << run_id);
  return end;
}

std::set<std::string> opened_addresses(const json& report) {
  std::set<std::string> addresses;
  for (const auto& entry : report["dns"]["opened"]) addresses.insert(entry["address"].get<std::string>());
  return addresses;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(network_dns)

BOOST_AUTO_TEST_CASE(listed_names_and_wildcards_resolve_and_connect_and_nothing_else_leaves) {
  DnsServer server;
  TestHost web({"198.51.100"}, {kPort, kOtherPort}, {});
  server.zone.set("api.exact-dns.example", {web.address()});
  server.zone.set("a.b.wild-dns.example", {web.address()});
  server.zone.set("wild-dns.example", {web.address()});
  server.zone.set("unlisted-dns.example", {web.address()});
  DnsConfig config(server);
  const auto profile = config.profile("names", {"api.exact-dns.example:8080/tcp", "*.wild-dns.example:8080/tcp"});

  auto exact = run_probe(config, profile, {"exchange", "tcp", "api.exact-dns.example", "8080"});
  BOOST_TEST(exact.probe["exchanged"] == true, exact.probe.dump());
  BOOST_TEST(server.zone.asked("api.exact-dns.example") >= 1);
  BOOST_TEST(outcomes_of(exact.report, "api.exact-dns.example").count("answered") == 1u, exact.report.dump());
  BOOST_TEST(opened_addresses(exact.report).count(web.address()) == 1u, exact.report.dump());
  BOOST_TEST(exact.report["connected_destinations"].dump().find(web.address() + ":8080/tcp") != std::string::npos,
             exact.report.dump());

  // The audit trail's end record carries the same report.
  const auto end = end_record(exact);
  BOOST_TEST_REQUIRE(end.contains("network"), end.dump());
  BOOST_TEST(outcomes_of(end["network"], "api.exact-dns.example").count("answered") == 1u, end.dump());
  BOOST_TEST(opened_addresses(end["network"]).count(web.address()) == 1u, end.dump());

  auto wildcard = run_probe(config, profile, {"exchange", "tcp", "a.b.wild-dns.example", "8080"});
  BOOST_TEST(wildcard.probe["exchanged"] == true, wildcard.probe.dump());
  BOOST_TEST(server.zone.asked("a.b.wild-dns.example") >= 1);

  // Unlisted names and the wildcard's bare domain: refused by the run's
  // resolver, and the test server is never asked (the control: it holds
  // both names and answers the host).
  auto refused = run_probe(config, profile, {"resolve", "unlisted-dns.example", "wild-dns.example"});
  BOOST_TEST(refused.probe["unlisted-dns.example"].is_string(), refused.probe.dump());
  BOOST_TEST(refused.probe["wild-dns.example"].is_string(), refused.probe.dump());
  BOOST_TEST(server.zone.asked("unlisted-dns.example") == 0);
  BOOST_TEST(server.zone.asked("wild-dns.example") == 0);
  BOOST_TEST(outcomes_of(refused.report, "unlisted-dns.example").count("refused") == 1u, refused.report.dump());
  BOOST_TEST(refused.report["dns"]["refused"].get<int>() >= 2, refused.report.dump());
  const auto refusals = end_record(refused)["violations"].dump();
  BOOST_TEST(refusals.find("dns_refused") != std::string::npos, refusals);
  BOOST_TEST(refusals.find("unlisted-dns.example") != std::string::npos, refusals);

  // AAAA for a listed name: an empty answer from the run's resolver (no
  // IPv6 in sandboxes), never forwarded.
  const int asked_before = server.zone.asked("api.exact-dns.example");
  auto v6 = run_probe(config, profile, {"resolve6", "api.exact-dns.example"});
  BOOST_TEST(v6.probe["api.exact-dns.example"].is_string(), v6.probe.dump());
  BOOST_TEST(server.zone.asked("api.exact-dns.example") == asked_before);
  bool empty_aaaa = false;
  for (const auto& entry : v6.report["dns"]["names"])
    empty_aaaa |= entry["name"] == "api.exact-dns.example" && entry["type"] == "AAAA" && entry["outcome"] == "answered";
  BOOST_TEST(empty_aaaa, v6.report.dump());

  // An answer larger than 512 bytes (40 A records) comes whole: the task's
  // EDNS size (resolv.conf has edns0) is offered upstream.
  std::vector<std::string> many;
  for (int i = 1; i <= 40; ++i) many.push_back("198.51.100." + std::to_string(i));
  server.zone.set("many.wild-dns.example", many);
  auto large = run_probe(config, profile, {"resolve", "many.wild-dns.example"});
  BOOST_TEST(large.probe["many.wild-dns.example"].size() == 40u, large.probe.dump());
  BOOST_TEST(opened_addresses(large.report).size() == 40u, large.report.dump());

  // The listed name's other port stays closed (control: open from the host).
  auto other_port = run_probe(config, profile, {"exchange", "tcp", "api.exact-dns.example", "8081"});
  BOOST_TEST(other_port.probe["connect"] == "ECONNREFUSED", other_port.probe.dump());
  BOOST_TEST(web.connections(kOtherPort) == 0);
  BOOST_TEST(connect_from_host(web.address(), kOtherPort) == "ok");
  BOOST_TEST(other_port.report["dropped_destinations"].dump().find(web.address() + ":8081/tcp") != std::string::npos,
             other_port.report.dump());
}

BOOST_AUTO_TEST_CASE(an_expired_address_closes_and_the_new_answer_opens) {
  DnsServer server;
  TestHost web({"198.51.100", "203.0.113"}, {kPort}, {});
  server.zone.set("rotate-dns.example", {web.address(0)}, 1);
  DnsConfig config(server);
  const auto profile = config.profile("rotate", {"rotate-dns.example:8080/tcp"});
  Workspace workspace;
  BackgroundRun run(config.run_args(profile, workspace,
                                    {"exchange-after", "/workspace/go", "tcp", "rotate-dns.example", "8080", web.address(0)}));
  BOOST_TEST_REQUIRE(!run.wait_for_line("probe: exchanged").empty());
  server.zone.set("rotate-dns.example", {web.address(1)}, 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));  // the 1 s timeout, and the kernel's GC of the element
  std::ofstream(std::filesystem::path(workspace.str()) / "go") << "go\n";
  const auto report_line = run.wait_for_line("network report:");
  BOOST_TEST_REQUIRE(run.wait() == 0);
  const auto probe = json::parse(run.out(), nullptr, false);
  BOOST_TEST_REQUIRE(!probe.is_discarded());
  BOOST_TEST(probe["before"]["exchanged"] == true, probe.dump());
  BOOST_TEST(probe["after"]["exchanged"] == true, probe.dump());
  // The old address is closed again (control: it still answers the host).
  BOOST_TEST(probe["old"] == "ECONNREFUSED", probe.dump());
  BOOST_TEST(connect_from_host(web.address(0), kPort) == "ok");
  const auto report = network_report_from(report_line);
  BOOST_TEST_REQUIRE(report.has_value(), report_line);
  BOOST_TEST(opened_addresses(*report) == (std::set<std::string>{web.address(0), web.address(1)}), report->dump());
}

BOOST_AUTO_TEST_CASE(an_answer_into_a_denied_range_opens_nothing_unless_the_tier_lists_it) {
  DnsServer server;
  TestHost private_host({"172.30.254"}, {kPort}, {});
  const auto own = host_ipv4_address();
  BOOST_TEST_REQUIRE(!own.empty());
  server.zone.set("metadata-dns.example", {"169.254.169.254"});
  server.zone.set("self-dns.example", {own});
  server.zone.set("private-dns.example", {private_host.address()});
  DnsConfig config(server);
  const auto profile =
      config.profile("rebind", {"metadata-dns.example:80/tcp", "self-dns.example:8080/tcp", "private-dns.example:8080/tcp"});
  auto run = run_probe(config, profile, {"exchange", "tcp", "private-dns.example", "8080"});
  BOOST_TEST(run.probe["connect"] == "ECONNREFUSED", run.probe.dump());
  BOOST_TEST(private_host.connections(kPort) == 0);
  BOOST_TEST(outcomes_of(run.report, "private-dns.example").count("rebinding_refused") == 1u, run.report.dump());
  BOOST_TEST(opened_addresses(run.report).empty(), run.report.dump());

  auto others = run_probe(config, profile, {"resolve", "metadata-dns.example", "self-dns.example"});
  BOOST_TEST(outcomes_of(others.report, "metadata-dns.example").count("rebinding_refused") == 1u, others.report.dump());
  BOOST_TEST(outcomes_of(others.report, "self-dns.example").count("rebinding_refused") == 1u, others.report.dump());
  BOOST_TEST(opened_addresses(others.report).empty(), others.report.dump());
  BOOST_TEST(others.report["dns"]["rebinding_refused"] == 2, others.report.dump());
  // The audit trail's end record names them as violations.
  const auto violations = end_record(others)["violations"].dump();
  BOOST_TEST(violations.find("dns_rebinding_refused") != std::string::npos, violations);
  BOOST_TEST(violations.find("metadata-dns.example: 169.254.169.254") != std::string::npos, violations);

  // Control: the tier that lists the private block itself reaches it by name.
  const auto listed = config.profile("rebind-listed", {"private-dns.example:8080/tcp", "172.30.254.0/24:8080/tcp"});
  auto allowed = run_probe(config, listed, {"exchange", "tcp", "private-dns.example", "8080"});
  BOOST_TEST(allowed.probe["exchanged"] == true, allowed.probe.dump());
  BOOST_TEST(opened_addresses(allowed.report).count(private_host.address()) == 1u, allowed.report.dump());
}

BOOST_AUTO_TEST_CASE(a_flood_is_rate_limited_and_another_run_still_resolves) {
  DnsServer server;
  TestHost web({"198.51.100"}, {kPort}, {});
  server.zone.set("steady-dns.example", {web.address()});
  DnsConfig config(server, {{"dns_queries_per_second", 20}});
  const auto flood_profile = config.profile("flood", {"*.flood-dns.example:443/tcp"});
  const auto steady_profile = config.profile("steady", {"steady-dns.example:8080/tcp"});
  // Workspaces made before the thread starts (a workspace's probe copied
  // while another thread forks is busy for execve); the flooding run's
  // output is checked on this thread after the join.
  std::vector<Workspace> workspaces(4);
  ProcessResult flooding_process;
  std::thread flooding([&] {
    flooding_process = run_tierbox(config.run_args(flood_profile, workspaces[0], {"dns-flood", "5000", "flood-dns.example"}));
  });
  std::vector<ProcessResult> steady_processes;
  for (std::size_t i = 1; i < workspaces.size(); ++i)
    steady_processes.push_back(
        run_tierbox(config.run_args(steady_profile, workspaces[i], {"exchange", "tcp", "steady-dns.example", "8080"})));
  flooding.join();  // before any check that may throw
  const auto flood = parse_run(flooding_process);
  std::vector<DnsRun> steady;
  for (auto& process : steady_processes) steady.push_back(parse_run(process));
  for (const auto& run : steady) BOOST_TEST(run.probe["exchanged"] == true, run.probe.dump());
  BOOST_TEST(flood.probe["sent"].get<int>() > 1000, flood.probe.dump());
  BOOST_TEST(flood.report["dns"]["rate_limited"].get<int>() > 0, flood.report.dump());
  // At 20 a second with a burst of 40, the upstream saw a small part of it.
  BOOST_TEST(server.zone.asked_with_suffix(".flood-dns.example") < 200, server.zone.asked_with_suffix(".flood-dns.example"));
}

BOOST_AUTO_TEST_CASE(isolating_a_run_stops_its_resolver) {
  DnsServer server;
  TestHost web({"198.51.100"}, {kPort}, {});
  server.zone.set("cut-dns.example", {web.address()});
  DnsConfig config(server);
  const auto profile = config.profile("cut", {"cut-dns.example:8080/tcp"});
  Workspace workspace;
  BackgroundRun run(config.run_args(profile, workspace, {"exchange-after", "/workspace/go", "tcp", "cut-dns.example", "8080",
                                                         web.address()}));
  const auto registered = run.wait_for_line(" registered");
  const auto run_id = run_id_from(registered);
  BOOST_TEST_REQUIRE(!run_id.empty(), registered);
  BOOST_TEST_REQUIRE(!run.wait_for_line("probe: exchanged").empty());
  const int asked_before = server.zone.asked("cut-dns.example");
  BOOST_TEST_REQUIRE(asked_before >= 1);
  auto cut = run_tierbox({"isolate-network", run_id});
  BOOST_TEST(cut.status == 0, cut.err);
  std::ofstream(std::filesystem::path(workspace.str()) / "go") << "go\n";
  BOOST_TEST_REQUIRE(run.wait() == 0);
  const auto probe = json::parse(run.out(), nullptr, false);
  BOOST_TEST(probe["before"]["exchanged"] == true, probe.dump());
  // After the cut the name no longer resolves: the query never reaches the
  // resolver, and the upstream is not asked again.
  BOOST_TEST(probe["after"]["connect"] != "ok", probe.dump());
  BOOST_TEST(probe["after"]["exchanged"] == false, probe.dump());
  BOOST_TEST(server.zone.asked("cut-dns.example") == asked_before);
}

BOOST_AUTO_TEST_CASE(the_shipped_networked_tier_launches_without_working_dns) {
  // The upstream is a test host that answers nothing on port 53: no DNS at
  // all. The launch needs none; the name simply does not resolve.
  TestHost silent({"203.0.113"}, {}, {});
  TempDir dir{"tierbox-dns-cfg"};
  dir.write("tierbox.json", json{{"dns_upstream", silent.address()}}.dump());
  Workspace workspace;
  auto run = run_tierbox({"run", "-v", "--config-dir", dir.str(), "--tier", "networked", "--workspace", workspace.str(), "--",
                          "./probe", "resolve", "api.github.com"});
  BOOST_TEST_REQUIRE(run.status == 0, run.err);
  const auto probe = json::parse(run.out, nullptr, false);
  BOOST_TEST(probe["api.github.com"].is_string(), probe.dump());  // an error, not addresses
  const auto report = network_report_from(run.err);
  BOOST_TEST_REQUIRE(report.has_value(), run.err);
  BOOST_TEST((*report)["dns"]["failed"].get<int>() >= 1, report->dump());
  BOOST_TEST(opened_addresses(*report).empty(), report->dump());
}

BOOST_AUTO_TEST_SUITE_END()
