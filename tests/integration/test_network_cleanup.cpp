// Nothing of an allowlist run stays on the host: after runs that end
// normally (one after the other and many at once), after a runner that is
// killed (its helper cleans up), and after both are killed (`tierbox gc`).
// These runs use a state directory and network pool of their own, so that
// "nothing left in the pool" is exact even while other tests run.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "integration/harness.h"
#include "integration/net_harness.h"

using namespace tierbox::testing;
using nlohmann::json;

namespace {

constexpr std::uint16_t kPort = 8080;

// A tierbox.json with its own state dir and a /24 pool named after this
// process, and the way to find anything tierbox made in that pool.
struct PrivatePool {
  HostIdRange ids;  // its runs take slot 0 (and its subnet) first, whatever other processes run
  TempDir config{"tierbox-netcfg"};
  const unsigned third_octet = 16 + static_cast<unsigned>(::getpid()) % 200;
  const std::string state_dir = "/run/tierbox-test-" + std::to_string(::getpid());
  std::string tag_prefix;  // hex of 10.209.X: the first 6 hex digits of every run's tag
  std::string profile;

  explicit PrivatePool(const TestHost& host) {
    char hex[16];
    std::snprintf(hex, sizeof hex, "0ad1%02x", third_octet);
    tag_prefix = hex;
    // A name too, so every run has a resolver and name sets to clean up;
    // its upstream is the test host (nothing here asks it anything).
    config.write("tierbox.json", json{{"state_dir", state_dir},
                                      {"network_pool", "10.209." + std::to_string(third_octet) + ".0/24"},
                                      {"host_id_base", ids.base()},
                                      {"max_concurrent_runs", 64},
                                      {"dns_upstream", host.address()}}
                                     .dump());
    profile = write_network_profile(config, "cleanup",
                                    {{"mode", "allowlist"},
                                     {"allow", {host.address() + ":" + std::to_string(kPort) + "/tcp", "cleanup-dns.example:443/tcp"}}});
  }
  ~PrivatePool() {
    std::error_code ec;
    std::filesystem::remove_all(state_dir, ec);
  }

  std::vector<std::string> run_args(const Workspace& workspace, const std::vector<std::string>& probe_args) const {
    std::vector<std::string> args = {"run", "-v", "--config-dir", config.str(), "--profile", profile,
                                     "--workspace", workspace.str(), "--", "./probe"};
    args.insert(args.end(), probe_args.begin(), probe_args.end());
    return args;
  }

  // Every interface, route, nft chain or element of this pool's runs.
  std::vector<std::string> leftovers() const {
    std::vector<std::string> found;
    const auto scan = [&](const std::vector<std::string>& argv, const std::string& what) {
      std::istringstream lines(run_process(argv).out);
      for (std::string line; std::getline(lines, line);)
        if (line.find("tbx" + tag_prefix) != std::string::npos || line.find("sandbox-" + tag_prefix) != std::string::npos ||
            line.find("10.209." + std::to_string(third_octet) + ".") != std::string::npos)
          found.push_back(what + ": " + line);
    };
    scan({"/usr/sbin/ip", "-o", "link", "show"}, "link");
    scan({"/usr/sbin/ip", "-o", "-4", "address", "show"}, "address");
    scan({"/usr/sbin/ip", "-4", "route", "show", "table", "all"}, "route");
    for (const auto& line : nft_lines_of_pool(tag_prefix, {"tbx" + tag_prefix, "10.209." + std::to_string(third_octet) + "."}))
      found.push_back("nft: " + line);
    return found;
  }

  // Leftovers that the kernel may still be removing (a veth of a namespace
  // that is being torn down) get a few seconds.
  std::vector<std::string> leftovers_after(std::chrono::seconds patience) const {
    const auto deadline = std::chrono::steady_clock::now() + patience;
    auto found = leftovers();
    while (!found.empty() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      found = leftovers();
    }
    return found;
  }
};

std::string joined(const std::vector<std::string>& lines) {
  std::string text;
  for (const auto& line : lines) text += line + "\n";
  return text;
}

// Clock ticks since boot, the unit of a process's start time in /proc/PID/stat.
std::uint64_t ticks_since_boot() {
  std::ifstream uptime("/proc/uptime");
  double seconds = 0;
  uptime >> seconds;
  return static_cast<std::uint64_t>(seconds * static_cast<double>(::sysconf(_SC_CLK_TCK)));
}

// Field 22 of /proc/PID/stat; max when unreadable (the process is gone).
std::uint64_t start_ticks(const std::filesystem::path& process) {
  const std::string text = read_proc_file((process / "stat").string());
  const auto paren = text.rfind(')');
  if (paren == std::string::npos) return UINT64_MAX;
  std::istringstream fields(text.substr(paren + 2));
  std::string field;
  for (int i = 3; i <= 22 && fields >> field; ++i)
    if (i == 22) return std::stoull(field);
  return UINT64_MAX;
}

// Processes whose namespace or open fds refer to network namespace inode,
// counting only those that started before the namespace's run ended: the
// kernel reuses a freed namespace's inode number, and the concurrent tests
// of other suites make new namespaces all the time. A process that kept the
// run's namespace alive must have existed while the run did.
int references_to_network_namespace(std::uint64_t inode, std::uint64_t run_ended_ticks) {
  const std::string wanted = "net:[" + std::to_string(inode) + "]";
  int count = 0;
  std::error_code ec;
  for (const auto& process : std::filesystem::directory_iterator("/proc", ec)) {
    const auto name = process.path().filename().string();
    if (name.empty() || !std::isdigit(static_cast<unsigned char>(name[0]))) continue;
    bool refers = false;
    std::error_code link_error;
    if (std::filesystem::read_symlink(process.path() / "ns/net", link_error).string() == wanted) refers = true;
    for (const auto& fd : std::filesystem::directory_iterator(process.path() / "fd", link_error))
      if (std::filesystem::read_symlink(fd.path(), link_error).string() == wanted) refers = true;
    if (refers && start_ticks(process.path()) <= run_ended_ticks) ++count;
  }
  return count;
}

// Whether pid has ended (gone, or a zombie waiting for its new parent to reap it).
bool has_ended(pid_t pid, std::chrono::seconds patience) {
  const auto deadline = std::chrono::steady_clock::now() + patience;
  while (true) {
    const std::string text = read_proc_file("/proc/" + std::to_string(pid) + "/stat");
    const auto paren = text.rfind(')');
    if (text.empty() || (paren != std::string::npos && paren + 2 < text.size() && (text[paren + 2] == 'Z' || text[paren + 2] == 'X')))
      return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

std::optional<pid_t> helper_pid_from(const std::string& err) {
  std::smatch match;
  static const std::regex pattern("network helper started \\(pid ([0-9]+)\\)");
  if (!std::regex_search(err, match, pattern)) return std::nullopt;
  return static_cast<pid_t>(std::stol(match[1].str()));
}

}  // namespace

// An allowlist run whose task holds a connection to the test host open,
// and the pid of its network helper.
struct HeldRun {
  TestHost host{{"198.51.100"}, {kPort}, {}};
  PrivatePool pool{host};
  Workspace workspace;
  BackgroundRun run{pool.run_args(workspace, {"hold", host.address(), std::to_string(kPort), "/workspace/go"})};
  pid_t helper = -1;

  HeldRun() {
    auto started = run.wait_for_line("network helper started");
    auto pid = helper_pid_from(started);
    BOOST_TEST_REQUIRE(pid.has_value(), started);
    helper = *pid;
    BOOST_TEST_REQUIRE(!run.wait_for_line("probe: holding").empty());
  }
};

BOOST_AUTO_TEST_SUITE(network_cleanup)

BOOST_AUTO_TEST_CASE(nothing_remains_after_20_sequential_and_20_concurrent_runs) {
  TestHost host({"198.51.100"}, {kPort}, {});
  PrivatePool pool(host);
  BOOST_TEST_REQUIRE(pool.leftovers().empty(), joined(pool.leftovers()));
  std::vector<std::pair<std::uint64_t, std::uint64_t>> namespaces;  // inode, when its run had ended
  std::vector<pid_t> helpers;
  for (int i = 0; i < 20; ++i) {
    Workspace workspace;
    auto result = run_tierbox(pool.run_args(workspace, {"info"}));
    BOOST_TEST_REQUIRE(result.status == 0, result.err);
    namespaces.emplace_back(json::parse(result.out)["namespaces"]["net"].get<std::uint64_t>(), ticks_since_boot());
    if (auto helper = helper_pid_from(result.err)) helpers.push_back(*helper);
  }
  std::vector<ProcessResult> concurrent(20);
  {
    std::vector<Workspace> workspaces(20);
    std::vector<std::thread> callers;
    for (int i = 0; i < 20; ++i)
      callers.emplace_back([&, i] {
        auto args = pool.run_args(workspaces[static_cast<std::size_t>(i)], {"exchange", "tcp", host.address(), std::to_string(kPort)});
        args.insert(args.begin(), kTierbox);
        concurrent[static_cast<std::size_t>(i)] = run_process(args);
      });
    for (auto& caller : callers) caller.join();
  }
  std::set<std::string> subnets;
  for (const auto& result : concurrent) {
    BOOST_TEST(result.status == 0, result.err);
    BOOST_TEST(json::parse(result.out)["exchanged"] == true, result.out);
    if (auto helper = helper_pid_from(result.err)) helpers.push_back(*helper);
    subnets.insert(host_interface_from(result.err));
  }
  BOOST_TEST(helpers.size() == 40u);
  BOOST_TEST(subnets.size() >= 2u);  // concurrent runs had subnets of their own
  // run_process returns at EOF of stderr, which each helper holds until it
  // has removed the run's veth pair: so everything is gone by now.
  BOOST_TEST(pool.leftovers().empty(), joined(pool.leftovers()));
  for (pid_t helper : helpers) BOOST_TEST(has_ended(helper, std::chrono::seconds(2)), "helper " << helper << " still runs");
  for (const auto& [inode, ended] : namespaces)
    BOOST_TEST(references_to_network_namespace(inode, ended) == 0, "netns " << inode);
  auto netns = run_process({"/usr/sbin/ip", "netns", "list"});
  BOOST_TEST(netns.out.find("tierbox") == std::string::npos, netns.out);
}

BOOST_AUTO_TEST_CASE(a_killed_runner_leaves_the_cleanup_to_its_helper) {
  HeldRun held;
  auto& [host, pool, workspace, run, helper] = held;
  BOOST_TEST_REQUIRE(!pool.leftovers().empty());  // the run's objects exist while it runs
  run.signal(SIGKILL);
  run.wait();
  BOOST_TEST(has_ended(helper, std::chrono::seconds(10)));
  BOOST_TEST(pool.leftovers_after(std::chrono::seconds(5)).empty(), joined(pool.leftovers()));
  auto gc = run_tierbox({"gc", "--config-dir", pool.config.str()});  // only the registry entry is left
  BOOST_TEST(gc.status == 0, gc.out << gc.err);
  BOOST_TEST(gc.out.find("cleaned") != std::string::npos, gc.out);
}

BOOST_AUTO_TEST_CASE(gc_removes_what_a_killed_runner_and_helper_left) {
  HeldRun held;
  auto& [host, pool, workspace, run, helper] = held;
  ::kill(helper, SIGKILL);
  BOOST_TEST_REQUIRE(has_ended(helper, std::chrono::seconds(10)));
  run.signal(SIGKILL);
  run.wait();
  // The kernel removes the veth pair with the sandbox's namespace; the nft
  // objects on the host stay until gc.
  const auto left = pool.leftovers();
  BOOST_TEST_REQUIRE(!left.empty());
  auto gc = run_tierbox({"gc", "--config-dir", pool.config.str()});
  BOOST_TEST(gc.status == 0, gc.out << gc.err);
  BOOST_TEST(gc.out.find("removed network: nft chain sandbox-" + pool.tag_prefix) != std::string::npos, gc.out);
  // The run's name set (its resolver's addresses) was left too, and gc removed it.
  BOOST_TEST(joined(left).find("set sandbox-" + pool.tag_prefix) != std::string::npos, joined(left));
  BOOST_TEST(gc.out.find("removed network: nft set sandbox-" + pool.tag_prefix) != std::string::npos, gc.out);
  BOOST_TEST(pool.leftovers_after(std::chrono::seconds(5)).empty(), joined(pool.leftovers()));
  // A second gc finds nothing more to do.
  auto again = run_tierbox({"gc", "--config-dir", pool.config.str(), "--json"});
  BOOST_TEST(again.out == "[]\n", again.out);
}

BOOST_AUTO_TEST_CASE(a_pool_that_overlaps_a_host_route_fails_closed) {
  TestHost host({"198.51.100"}, {kPort}, {});
  PrivatePool pool(host);
  // A route of the test's own (on its test host's veth) inside the pool,
  // standing in for a VPN or container network that uses the same range.
  const std::string route = "10.209." + std::to_string(pool.third_octet) + ".0/28";
  BOOST_TEST_REQUIRE(run_process({"/usr/sbin/ip", "route", "add", route, "dev", host.interface()}).status == 0);
  Workspace workspace;
  auto args = pool.run_args(workspace, {"info"});
  auto result = run_tierbox(args);
  run_process({"/usr/sbin/ip", "route", "del", route, "dev", host.interface()});
  BOOST_TEST(result.status == 125, result.err);
  BOOST_TEST(result.err.find("overlaps the host route " + route) != std::string::npos, result.err);
  BOOST_TEST(result.err.find("network_pool") != std::string::npos, result.err);
  BOOST_TEST(pool.leftovers_after(std::chrono::seconds(5)).empty(), joined(pool.leftovers()));
}

BOOST_AUTO_TEST_CASE(host_wide_settings_are_made_once_and_kept) {
  TestHost host({"198.51.100"}, {kPort}, {});
  PrivatePool pool(host);
  Workspace workspace;
  auto result = run_tierbox(pool.run_args(workspace, {"exchange", "tcp", host.address(), std::to_string(kPort)}));
  BOOST_TEST_REQUIRE(result.status == 0, result.err);
  std::ifstream forward("/proc/sys/net/ipv4/ip_forward");
  std::string value;
  forward >> value;
  BOOST_TEST(value == "1");
  auto table = run_process({"/usr/sbin/nft", "list", "table", "inet", "tierbox"});
  for (const char* part : {"chain forward", "chain input", "chain postrouting", "map egress_from", "map ingress_to",
                           "set sandbox_interfaces", "set sandbox_addresses", "masquerade"})
    BOOST_TEST(table.out.find(part) != std::string::npos, part << " not in:\n" << table.out);
}

// Two state_dirs on one network_pool (a daemon's --state-dir beside the
// CLI's, a test's own config): their slot 0 is the same subnet with the
// same names. With one host_id_base, the second state_dir's run skips slot
// 0, whose host uid the first run holds (runner/launch/run_slot.h), and so
// gets a subnet of its own too: it runs while the first holds its subnet.
// With another host_id_base nothing stops it taking slot 0: while a run of
// the first holds that subnet, it is refused naming network_pool, before it
// makes or removes anything: the held run still exchanges over its
// connection afterwards (before the host-wide subnet lock, the second run's
// setup removed the first's objects as leftovers). Control: once the first
// (and its helper) has ended, the second runs.
BOOST_AUTO_TEST_CASE(a_second_state_dir_on_the_same_pool_is_refused_while_a_run_holds_the_subnet) {
  HeldRun held;
  auto& [host, pool, workspace, run, helper] = held;
  BOOST_TEST_REQUIRE(run.err_read().find("run slot 0:") != std::string::npos, run.err_read());
  // The helper holds the slot's host-wide uid lock with the slot's own (fds
  // 5 and 4), so it blocks that uid, and so that subnet, until it has ended.
  std::error_code ec;
  BOOST_TEST(std::filesystem::read_symlink("/proc/" + std::to_string(helper) + "/fd/5", ec).string() ==
             "/run/tierbox-ids/" + std::to_string(pool.ids.base() + 1) + ".lock");
  HostIdRange other_ids;
  TempDir other{"tierbox-net-other-state"};
  const auto write_config = [&](uid_t host_id_base) {
    other.write("tierbox.json", json{{"state_dir", (other.path() / "state").string()},
                                     {"network_pool", "10.209." + std::to_string(pool.third_octet) + ".0/24"},
                                     {"host_id_base", host_id_base},
                                     {"max_concurrent_runs", 64},
                                     {"dns_upstream", host.address()}}
                                    .dump());
  };
  const auto other_args = [&](const Workspace& where) {
    return std::vector<std::string>{"run", "-v", "--config-dir", other.str(), "--profile", pool.profile, "--workspace", where.str(),
                                    "--", "./probe", "exchange", "tcp", host.address(), std::to_string(kPort)};
  };
  Workspace second;
  write_config(pool.ids.base());
  auto beside = run_tierbox(other_args(second));
  BOOST_TEST(beside.status == 0, beside.err);
  BOOST_TEST(beside.err.find("run slot 1: the task is host uid " + std::to_string(pool.ids.base() + 2)) != std::string::npos,
             beside.err);
  write_config(other_ids.base());
  auto refused = run_tierbox(other_args(second));
  BOOST_TEST(refused.status == 125, refused.err);
  BOOST_TEST(refused.err.find("run slot 0:") != std::string::npos, refused.err);
  BOOST_TEST(refused.err.find("is in use by a live run of another state_dir") != std::string::npos, refused.err);
  BOOST_TEST(refused.err.find("network_pool") != std::string::npos, refused.err);
  std::ofstream(workspace.path() / "go") << "go\n";
  BOOST_TEST_REQUIRE(run.wait() == 0);
  const auto held_report = json::parse(run.out());
  BOOST_TEST(held_report["after"] == "ok", held_report.dump());
  BOOST_TEST(held_report["new_connection"] == "ok", held_report.dump());
  // The subnet is free once the first run's helper, which removes its
  // veth pair after the runner has gone, has ended.
  BOOST_TEST_REQUIRE(has_ended(helper, std::chrono::seconds(10)));
  BOOST_TEST(pool.leftovers_after(std::chrono::seconds(5)).empty(), joined(pool.leftovers()));
  auto control = run_tierbox(other_args(second));
  BOOST_TEST(control.status == 0, control.err);
  BOOST_TEST(json::parse(control.out)["exchanged"] == true, control.out);
  run_tierbox({"gc", "--config-dir", other.str()});
}

BOOST_AUTO_TEST_SUITE_END()
