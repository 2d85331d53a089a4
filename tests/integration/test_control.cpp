// Incident response (docs/incident-response.md): ps, stop, kill, freeze,
// thaw, isolate, panic, who may use them, what they audit, and gc after a
// runner that was killed. Every test uses a state directory of its own
// (/run/tierbox-control-test-<pid>), so `panic` and `ps` see only this
// test's runs, never another test's or helper's on the same host.
#include <grp.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "integration/harness.h"
#include "integration/host_cgroups.h"
#include "integration/net_harness.h"

using namespace tierbox::testing;
using nlohmann::json;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

constexpr std::uint16_t kTcpPort = 8080;

constexpr std::uint16_t kUdpPort = 9090;

// A tierbox.json with a state directory, network pool and audit log of this
// test process's own. The log is also put in $TIERBOX_AUDIT_LOG for the
// test's lifetime (the integration tests' global fixture points it at a log
// of the process's own, and the variable wins over tierbox.json).
struct ControlConfig {
  PoolClaim pool{"tierbox-control-test-pool-"};
  HostIdRange ids;  // its 16 slots never blocked by other processes' runs
  TempDir config{"tierbox-ctl"};
  const std::string saved_audit_log_variable = std::getenv("TIERBOX_AUDIT_LOG") ? std::getenv("TIERBOX_AUDIT_LOG") : "";
  const unsigned third_octet = pool.third_octet;
  const std::string state_dir = "/run/tierbox-control-test-" + std::to_string(::getpid());
  const std::string audit_log = (config.path() / "audit.jsonl").string();
  std::string profile_none;

  explicit ControlConfig(const std::string& operators_group = "") {
    json settings = {{"state_dir", state_dir},
                     {"network_pool", "10.211." + std::to_string(third_octet) + ".0/24"},
                     {"max_concurrent_runs", 16},
                     {"host_id_base", ids.base()},
                     {"audit_log", audit_log}};
    if (!operators_group.empty()) settings["operators_group"] = operators_group;
    config.write("tierbox.json", settings.dump());
    profile_none = write_network_profile(config, "control-none", {{"mode", "none"}});
    ::setenv("TIERBOX_AUDIT_LOG", audit_log.c_str(), 1);
  }
  // The runs (their BackgroundRuns, made after this) are gone by now; what
  // a failed test's killed runner left, gc removes before the registry goes.
  ~ControlConfig() {
    run_tierbox({"gc", "--config-dir", config.str()});
    std::error_code ec;
    fs::remove_all(state_dir, ec);
    if (saved_audit_log_variable.empty()) ::unsetenv("TIERBOX_AUDIT_LOG");
    else ::setenv("TIERBOX_AUDIT_LOG", saved_audit_log_variable.c_str(), 1);
  }

  [[nodiscard]] std::string allowlist_profile(const TestHost& host) const {
    return write_network_profile(config, "control-net",
                                 {{"mode", "allowlist"},
                                  {"allow",
                                   {host.address() + ":" + std::to_string(kTcpPort) + "/tcp",
                                    host.address() + ":" + std::to_string(kUdpPort) + "/udp"}}});
  }

  [[nodiscard]] std::vector<std::string> run_args(const std::string& profile, const Workspace& workspace,
                                                  const std::vector<std::string>& probe_args) const {
    std::vector<std::string> args = {"run", "-v", "--config-dir", config.str(), "--profile", profile,
                                     "--workspace", workspace.str(), "--", "./probe"};
    args.insert(args.end(), probe_args.begin(), probe_args.end());
    return args;
  }

  // tierbox <command> <args> --config-dir ... as root.
  [[nodiscard]] ProcessResult tierbox(const std::vector<std::string>& args) const {
    auto full = args;
    full.insert(full.end(), {"--config-dir", config.str()});
    return run_tierbox(full);
  }

  [[nodiscard]] json ps() const {
    auto result = tierbox({"ps", "--json"});
    BOOST_TEST_REQUIRE(result.status == 0, result.err);
    return json::parse(result.out);
  }

  [[nodiscard]] json ps_row(const std::string& run_id) const {
    for (const auto& row : ps())
      if (row["run_id"] == run_id) return row;
    return nullptr;
  }

  // The control records (the runs' own request, decision, start and end
  // records are in the same log).
  [[nodiscard]] std::vector<json> audit_events() const {
    std::vector<json> events;
    std::ifstream in(audit_log);
    for (std::string line; std::getline(in, line);) {
      if (line.empty()) continue;
      auto record = json::parse(line);
      if (record.value("event", "") == "control") events.push_back(std::move(record));
    }
    return events;
  }
};

// A background run and its id, once its task has said `ready_word`.
struct StartedRun {
  std::unique_ptr<Workspace> workspace = std::make_unique<Workspace>();
  std::unique_ptr<BackgroundRun> run;
  std::string run_id;

  std::string helper_line;  // "network helper started (pid N)...", for an allowlist run

  StartedRun(const ControlConfig& config, const std::string& profile, const std::vector<std::string>& probe_args,
             const std::string& ready_word) {
    run = std::make_unique<BackgroundRun>(config.run_args(profile, *workspace, probe_args));
    const auto registered = run->wait_for_line(" registered");
    run_id = run_id_from(registered);
    BOOST_TEST_REQUIRE(!run_id.empty(), registered);
    if (profile.find("control-net") != std::string::npos) helper_line = run->wait_for_line("network helper started");
    BOOST_TEST_REQUIRE(!run->wait_for_line(ready_word).empty(), "the task never said " << ready_word);
  }
};

std::vector<pid_t> descendants_of(pid_t root) {
  std::map<pid_t, pid_t> parent;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    const auto name = entry.path().filename().string();
    if (name.empty() || !std::isdigit(static_cast<unsigned char>(name[0]))) continue;
    const std::string text = read_proc_file((entry.path() / "stat").string());  // any host process: it may exit meanwhile
    const auto paren = text.rfind(')');
    if (paren == std::string::npos) continue;
    std::istringstream fields(text.substr(paren + 2));
    char state = 0;
    pid_t ppid = 0;
    fields >> state >> ppid;
    parent[std::stoi(name)] = ppid;
  }
  std::vector<pid_t> found;
  std::set<pid_t> tree = {root};
  bool grew = true;
  while (grew) {
    grew = false;
    for (const auto& [pid, ppid] : parent)
      if (tree.count(ppid) && !tree.count(pid)) {
        tree.insert(pid);
        found.push_back(pid);
        grew = true;
      }
  }
  return found;
}

// The host directories of pid's cgroups that are the run's (tierbox-<id>),
// wherever this host mounts its hierarchies (integration/host_cgroups.h).
std::vector<std::string> run_cgroup_dirs(pid_t pid, const std::string& run_id) {
  return cgroup_directories_of(pid, "tierbox-" + run_id);
}

// CPU seconds pid has used (utime + stime).
double cpu_seconds_of(pid_t pid) {
  const std::string text = read_proc_file("/proc/" + std::to_string(pid) + "/stat");
  const auto paren = text.rfind(')');
  if (paren == std::string::npos) return -1;
  std::istringstream fields(text.substr(paren + 2));
  std::string field;
  long long utime = 0, stime = 0;
  for (int index = 3; index <= 15 && fields >> field; ++index) {
    if (index == 14) utime = std::stoll(field);
    if (index == 15) stime = std::stoll(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

double cpu_over(pid_t pid, std::chrono::milliseconds interval) {
  const double before = cpu_seconds_of(pid);
  std::this_thread::sleep_for(interval);
  return cpu_seconds_of(pid) - before;
}

bool wait_for(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

// stop or kill a task that double-forked and ignores SIGTERM: nothing of it,
// and none of its cgroups, may be left.
void end_a_stubborn_task(const std::vector<std::string>& command, const std::string& expected_output) {
  ControlConfig config;
  StartedRun started(config, config.profile_none, {"stubborn"}, "probe: stubborn");
  const auto row = config.ps_row(started.run_id);
  BOOST_TEST_REQUIRE(row.is_object());
  const pid_t init = row["pid"].get<pid_t>();
  const auto processes = descendants_of(init);
  BOOST_TEST_REQUIRE(processes.size() >= 2u, "the task and its grandchild");
  const auto cgroups = run_cgroup_dirs(processes.front(), started.run_id);
  BOOST_TEST_REQUIRE(!cgroups.empty());
  for (const auto& dir : cgroups) BOOST_TEST_REQUIRE(fs::exists(dir), dir);

  // As root through sudo: SUDO_USER is recorded, as information.
  std::vector<std::string> args = {"/usr/bin/env", "SUDO_USER=incident-responder", kTierbox};
  args.insert(args.end(), command.begin(), command.end());
  args.insert(args.end(), {started.run_id, "--config-dir", config.config.str()});
  const auto began = std::chrono::steady_clock::now();
  auto result = run_process(args);
  const auto took = std::chrono::steady_clock::now() - began;
  BOOST_TEST(result.status == 0, result.out << result.err);
  BOOST_TEST(result.out.find(expected_output) != std::string::npos, result.out);
  // The grace period (stop) is 1 s; a loose band over it for this busy host.
  BOOST_TEST(std::chrono::duration_cast<std::chrono::seconds>(took).count() < 8, "took too long");
  BOOST_TEST(started.run->wait(10s) == 128 + SIGKILL);
  for (pid_t pid : processes) BOOST_TEST(wait_until_gone(pid, 5000ms), "process " << pid << " still exists");
  BOOST_TEST(!process_exists(init));
  for (const auto& dir : cgroups) BOOST_TEST(!fs::exists(dir), dir << " still exists");
  BOOST_TEST(config.ps().empty());
  const auto events = config.audit_events();
  BOOST_TEST_REQUIRE(events.size() == 1u);
  BOOST_TEST(events[0]["event"] == "control");
  BOOST_TEST(events[0]["action"] == command.front());
  BOOST_TEST(events[0]["run_id"] == started.run_id);
  BOOST_TEST(events[0]["result"] == "ok");
  BOOST_TEST(events[0]["by"]["uid"] == 0);
  BOOST_TEST(events[0]["by"]["name"] == "root");
  BOOST_TEST(events[0]["by"]["sudo_user"] == "incident-responder");
}

}  // namespace

BOOST_AUTO_TEST_SUITE(control_stop)

BOOST_AUTO_TEST_CASE(stop_ends_a_double_forked_task_that_ignores_sigterm_after_the_grace_period) {
  end_a_stubborn_task({"stop", "--grace", "1"}, "still running after the grace period");
}

BOOST_AUTO_TEST_CASE(kill_ends_it_at_once) { end_a_stubborn_task({"kill"}, "killed"); }

BOOST_AUTO_TEST_CASE(stop_of_a_task_that_obeys_sigterm_does_not_wait_for_the_grace_period) {
  ControlConfig config;
  StartedRun started(config, config.profile_none, {"spin", "60", "1"}, "exec succeeded");
  const auto began = std::chrono::steady_clock::now();
  auto result = config.tierbox({"stop", "--grace", "30", started.run_id});
  BOOST_TEST(result.status == 0, result.err);
  BOOST_TEST(result.out.find("ended on SIGTERM") != std::string::npos, result.out);
  BOOST_TEST(std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - began).count() < 20);
  BOOST_TEST(started.run->wait(10s) == 128 + SIGTERM);
}

BOOST_AUTO_TEST_CASE(an_unknown_run_is_an_error_and_audited_nowhere) {
  ControlConfig config;
  auto result = config.tierbox({"kill", "0123456789abcdef"});
  BOOST_TEST(result.status == 125);
  BOOST_TEST(result.err.find("no running sandbox") != std::string::npos, result.err);
  BOOST_TEST(config.audit_events().empty());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(control_freeze)

BOOST_AUTO_TEST_CASE(freeze_stops_a_busy_loop_and_thaw_resumes_it) {
  ControlConfig config;
  StartedRun started(config, config.profile_none, {"spin", "120", "1"}, "exec succeeded");
  const auto row = config.ps_row(started.run_id);
  BOOST_TEST_REQUIRE(row.is_object());
  BOOST_TEST(row["state"] == "running");
  BOOST_TEST(row["argv"] == json({"./probe", "spin", "120", "1"}));
  BOOST_TEST(row["tier"] == "control-none");
  BOOST_TEST(row["requester"] == "root");
  BOOST_TEST(row["network_mode"] == "none");
  BOOST_TEST(row["pids"].get<int>() >= 2);
  BOOST_TEST(row["mem_bytes"].get<long long>() > 0);
  for (const char* key : {"run_id", "tier", "requester", "argv", "pid", "started_at", "state", "mem_bytes", "pids",
                          "network_mode"})
    BOOST_TEST(row.contains(key), key);
  const auto task = descendants_of(row["pid"].get<pid_t>());
  BOOST_TEST_REQUIRE(task.size() == 1u);
  bool v2 = false;
  for (const auto& dir : run_cgroup_dirs(task[0], started.run_id)) v2 = v2 || is_v2_directory(dir);
  if (!v2)
    BOOST_TEST_MESSAGE("this run has no cgroup v2 directory (v1 host): the live freeze uses freezer.state; "
                       "cgroup.freeze is tested against the fixture (unit.control_cgroups)");
  // Control: running, it accumulates CPU (loose: the 2 cores are shared).
  BOOST_TEST(cpu_over(task[0], 1000ms) > 0.1);

  auto freeze = config.tierbox({"freeze", started.run_id});
  BOOST_TEST_REQUIRE(freeze.status == 0, freeze.err);
  BOOST_TEST(freeze.out.find("frozen") != std::string::npos, freeze.out);
  BOOST_TEST(config.ps_row(started.run_id)["state"] == "frozen");
  const auto table = config.tierbox({"ps"});
  BOOST_TEST(table.out.find("RUN ID") == 0, table.out);
  BOOST_TEST(table.out.find(started.run_id + " control-none") != std::string::npos, table.out);
  BOOST_TEST(table.out.find(" frozen ") != std::string::npos, table.out);
  BOOST_TEST(cpu_over(task[0], 1000ms) <= 0.02);
  const auto taken = config.ps_row(started.run_id)["actions"];
  BOOST_TEST_REQUIRE(taken.size() == 1u, taken.dump());
  BOOST_TEST(taken[0]["action"] == "freeze");
  BOOST_TEST(taken[0]["by"]["uid"] == 0);

  auto thaw = config.tierbox({"thaw", started.run_id});
  BOOST_TEST_REQUIRE(thaw.status == 0, thaw.err);
  BOOST_TEST(config.ps_row(started.run_id)["state"] == "running");
  BOOST_TEST(cpu_over(task[0], 1000ms) > 0.1);

  BOOST_TEST(config.tierbox({"kill", started.run_id}).status == 0);
  started.run->wait(10s);
  std::vector<std::string> actions;
  for (const auto& event : config.audit_events()) actions.push_back(event["action"]);
  BOOST_TEST(actions == std::vector<std::string>({"freeze", "thaw", "kill"}), json(actions).dump());
}

BOOST_AUTO_TEST_CASE(a_frozen_task_sends_no_traffic) {
  TestHost host({"198.51.100"}, {kTcpPort}, {kUdpPort});
  ControlConfig config;
  StartedRun started(config, config.allowlist_profile(host), {"stream", host.address(), std::to_string(kUdpPort)},
                     "probe: streaming");
  // Control: while it runs, its datagrams arrive.
  const long first = host.received_bytes(kUdpPort);
  BOOST_TEST_REQUIRE(wait_for([&] { return host.received_bytes(kUdpPort) > first + 140; }, 5000ms));

  BOOST_TEST_REQUIRE(config.tierbox({"freeze", started.run_id}).status == 0);
  std::this_thread::sleep_for(200ms);  // what was in flight arrives
  const long frozen = host.received_bytes(kUdpPort);
  std::this_thread::sleep_for(1000ms);
  BOOST_TEST(host.received_bytes(kUdpPort) == frozen);

  BOOST_TEST_REQUIRE(config.tierbox({"thaw", started.run_id}).status == 0);
  BOOST_TEST(wait_for([&] { return host.received_bytes(kUdpPort) > frozen; }, 5000ms));
  BOOST_TEST(config.tierbox({"kill", started.run_id}).status == 0);
  started.run->wait(10s);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(control_isolate)

// The probe holds a TCP connection to the test host, waits for a file, then
// uses it again and tries a new one.
BOOST_AUTO_TEST_CASE(isolate_breaks_an_established_connection_and_keeps_the_task_running) {
  TestHost host({"203.0.113"}, {kTcpPort}, {kUdpPort});
  ControlConfig config;
  StartedRun started(config, config.allowlist_profile(host),
                     {"hold", host.address(), std::to_string(kTcpPort), "/workspace/go"}, "probe: holding");
  auto cut = config.tierbox({"isolate", started.run_id});
  BOOST_TEST_REQUIRE(cut.status == 0, cut.err);
  BOOST_TEST(cut.out.find("network cut") != std::string::npos, cut.out);
  BOOST_TEST(config.ps_row(started.run_id)["state"] == "isolated");
  const long received_before = host.received_bytes(kTcpPort);
  std::ofstream(started.workspace->path() / "go") << "";
  BOOST_TEST_REQUIRE(started.run->wait(60s) == 0);
  const auto report = json::parse(started.run->out());
  BOOST_TEST(report["before"] == "ok", report.dump());
  BOOST_TEST(report["after"] != "ok", report.dump());
  BOOST_TEST(report["new_connection"] != "ok", report.dump());
  BOOST_TEST(host.received_bytes(kTcpPort) == received_before);
  const auto events = config.audit_events();
  BOOST_TEST_REQUIRE(events.size() == 1u);
  BOOST_TEST(events[0]["action"] == "isolate");
  BOOST_TEST(events[0]["result"] == "ok");
}

BOOST_AUTO_TEST_CASE(panic_freezes_and_isolates_every_run_and_audits_each) {
  TestHost host({"198.51.100"}, {kTcpPort}, {kUdpPort});
  ControlConfig config;
  const auto profile = config.allowlist_profile(host);
  std::vector<std::unique_ptr<StartedRun>> runs;
  for (int i = 0; i < 5; ++i)
    runs.push_back(std::make_unique<StartedRun>(
        config, profile, std::vector<std::string>{"stream", host.address(), std::to_string(kUdpPort)},
        "probe: streaming"));
  auto panic = config.tierbox({"panic"});
  BOOST_TEST_REQUIRE(panic.status == 0, panic.out << panic.err);
  BOOST_TEST(panic.out.find("panic: 5 run(s), 0 failed") != std::string::npos, panic.out);
  std::this_thread::sleep_for(200ms);
  const long after = host.received_bytes(kUdpPort);
  std::this_thread::sleep_for(1000ms);
  BOOST_TEST(host.received_bytes(kUdpPort) == after);  // none of the five sends anything

  std::set<std::string> ids;
  for (const auto& run : runs) ids.insert(run->run_id);
  const auto rows = config.ps();
  BOOST_TEST(rows.size() == 5u);
  for (const auto& row : rows) {
    BOOST_TEST(row["frozen"] == true, row.dump());
    BOOST_TEST(row["isolated"] == true, row.dump());
    BOOST_TEST(row["state"] == "frozen,isolated", row.dump());
  }
  std::set<std::string> audited;
  for (const auto& event : config.audit_events()) {
    BOOST_TEST(event["event"] == "control");
    BOOST_TEST(event["action"] == "panic");
    BOOST_TEST(event["result"] == "ok", event.dump());
    audited.insert(event["run_id"].get<std::string>());
  }
  BOOST_TEST(config.audit_events().size() == 5u);
  BOOST_TEST((audited == ids));
  // The control records are links of the same hash chain as the runs' own.
  const auto verify = config.tierbox({"audit", "verify", "--audit-log", config.audit_log});
  BOOST_TEST(verify.status == 0, verify.out << verify.err);
  const auto shown = config.tierbox({"audit", "show", "--event", "control", "--json", "--audit-log", config.audit_log});
  BOOST_TEST(std::count(shown.out.begin(), shown.out.end(), '\n') == 5, shown.out << shown.err);

  auto kill = config.tierbox({"panic", "--kill"});
  BOOST_TEST(kill.status == 0, kill.out << kill.err);
  for (auto& run : runs) BOOST_TEST(run->run->wait(15s) == 128 + SIGKILL);
}

BOOST_AUTO_TEST_SUITE_END()

namespace {

// A user (and optionally a group it belongs to) made for one test and
// removed after it, named after the test's pid.
struct TestUser {
  std::string name;
  std::string group;
  uid_t uid = 0;
  gid_t gid = 0;

  TestUser(const std::string& suffix, const std::string& supplementary_group) {
    name = "tbx" + std::to_string(::getpid()) + suffix;
    std::vector<std::string> useradd = {"/usr/sbin/useradd", "-M", "-N", "-s", "/usr/sbin/nologin"};
    if (!supplementary_group.empty()) useradd.insert(useradd.end(), {"-G", supplementary_group});
    useradd.push_back(name);
    auto made = run_account_tool(useradd);
    BOOST_TEST_REQUIRE(made.status == 0, made.err);
    const struct passwd* entry = ::getpwnam(name.c_str());
    BOOST_TEST_REQUIRE(entry != nullptr);
    uid = entry->pw_uid;
    gid = entry->pw_gid;
  }
  ~TestUser() { run_account_tool({"/usr/sbin/userdel", name}); }

  // tierbox args run as this user (real and effective uid, no groups but its own).
  [[nodiscard]] ProcessResult tierbox(const ControlConfig& config, const std::vector<std::string>& args) const {
    std::vector<std::string> argv = {"/usr/bin/setpriv", "--reuid=" + std::to_string(uid), "--regid=" + std::to_string(gid),
                                     "--init-groups", kTierbox};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"--config-dir", config.config.str()});
    return run_process(argv);
  }
};

struct TestGroup {
  std::string name = "tbxops" + std::to_string(::getpid());
  TestGroup() { BOOST_TEST_REQUIRE(run_account_tool({"/usr/sbin/groupadd", name}).status == 0); }
  ~TestGroup() { run_account_tool({"/usr/sbin/groupdel", name}); }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(control_permissions)

BOOST_AUTO_TEST_CASE(only_the_requester_an_operator_or_root_may_control_a_run) {
  TestGroup operators;
  ControlConfig config(operators.name);
  TestUser stranger("s", "");
  TestUser requester("r", "");
  TestUser operator_user("o", operators.name);
  // The users must be able to read the configuration.
  fs::permissions(config.config.path(), fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                            fs::perms::others_read | fs::perms::others_exec);
  // Root started the run through sudo for requester.
  Workspace workspace;
  const auto args = config.run_args(config.profile_none, workspace, {"spin", "120", "1"});
  BackgroundRun run(args, {"/usr/bin/env", "SUDO_UID=" + std::to_string(requester.uid), "SUDO_USER=" + requester.name});
  const auto run_id = run_id_from(run.wait_for_line(" registered"));
  BOOST_TEST_REQUIRE(!run_id.empty());
  BOOST_TEST_REQUIRE(!run.wait_for_line("control socket").empty());
  BOOST_TEST_REQUIRE(!run.wait_for_line("exec succeeded").empty());

  // Someone else, not an operator: refused, and the run goes on.
  auto refused = stranger.tierbox(config, {"stop", "--grace", "0", run_id});
  BOOST_TEST(refused.status == 126, refused.out << refused.err);
  BOOST_TEST(refused.err.find("not the requester of this run") != std::string::npos, refused.err);
  auto listed = stranger.tierbox(config, {"ps", "--json"});
  BOOST_TEST(listed.status == 0, listed.err);
  BOOST_TEST(listed.out == "[]\n", listed.out);  // not even shown
  BOOST_TEST(config.ps_row(run_id)["state"] == "running");
  auto panic = stranger.tierbox(config, {"panic"});
  BOOST_TEST(panic.status == 126, panic.out << panic.err);
  BOOST_TEST(panic.out.find("panic: 1 run(s), 1 failed") != std::string::npos, panic.out);
  // Control: the refusal is the permission, not an unreachable runner.
  auto frozen = operator_user.tierbox(config, {"freeze", run_id});
  BOOST_TEST(frozen.status == 0, frozen.out << frozen.err);
  BOOST_TEST(config.ps_row(run_id)["state"] == "frozen");
  auto thawed = operator_user.tierbox(config, {"thaw", run_id});
  BOOST_TEST(thawed.status == 0, thawed.out << thawed.err);
  // The requester may see and stop their own run.
  auto own = requester.tierbox(config, {"ps", "--json"});
  BOOST_TEST_REQUIRE(own.status == 0, own.err);
  BOOST_TEST(json::parse(own.out).size() == 1u, own.out);
  auto stopped = requester.tierbox(config, {"stop", "--grace", "5", run_id});
  BOOST_TEST(stopped.status == 0, stopped.out << stopped.err);
  BOOST_TEST(run.wait(15s) == 128 + SIGTERM);

  const auto events = config.audit_events();
  BOOST_TEST_REQUIRE(events.size() == 5u);
  BOOST_TEST(events[0]["action"] == "stop");
  BOOST_TEST(events[0]["run_id"] == run_id);
  BOOST_TEST(events[0]["by"]["uid"] == stranger.uid);
  BOOST_TEST(events[0]["by"]["name"] == stranger.name);
  BOOST_TEST(events[0]["by"]["sudo_user"].is_null());
  BOOST_TEST(events[0]["result"].get<std::string>().find("refused") != std::string::npos, events[0].dump());
  BOOST_TEST(events[1]["action"] == "panic");
  BOOST_TEST(events[1]["result"].get<std::string>().find("refused") != std::string::npos, events[1].dump());
  BOOST_TEST(events[2]["action"] == "freeze");
  BOOST_TEST(events[2]["by"]["uid"] == operator_user.uid);
  BOOST_TEST(events[2]["result"] == "ok");
  BOOST_TEST(events[3]["action"] == "thaw");
  BOOST_TEST(events[4]["action"] == "stop");
  BOOST_TEST(events[4]["by"]["uid"] == requester.uid);
  BOOST_TEST(events[4]["result"] == "ok");
}

BOOST_AUTO_TEST_CASE(a_user_gets_a_bounded_answer_when_the_runs_runner_is_stopped) {
  // Issue 20: the requester's `kill` went through the runner's control
  // socket and waited for ever once the stopped runner's listen backlog was
  // full (each earlier attempt, even one given up, stays queued there).
  ControlConfig config;
  TestUser requester("k", "");
  fs::permissions(config.config.path(), fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                            fs::perms::others_read | fs::perms::others_exec);
  Workspace workspace;
  BackgroundRun run(config.run_args(config.profile_none, workspace, {"spin", "120", "1"}),
                    {"/usr/bin/env", "SUDO_UID=" + std::to_string(requester.uid), "SUDO_USER=" + requester.name});
  const auto run_id = run_id_from(run.wait_for_line(" registered"));
  BOOST_TEST_REQUIRE(!run_id.empty());
  BOOST_TEST_REQUIRE(!run.wait_for_line("exec succeeded").empty());
  run.signal(SIGSTOP);
  // Fill the backlog (8) with status requests of the requester's, which
  // give up after 5 s each.
  const std::string as_requester = "/usr/bin/setpriv --reuid=" + std::to_string(requester.uid) +
                                   " --regid=" + std::to_string(requester.gid) + " --init-groups " + kTierbox;
  SpawnOptions options;
  options.timeout = std::chrono::seconds(40);
  auto flood = run_process({"/bin/sh", "-c",
                            "for i in 1 2 3 4 5 6 7 8 9 10 11 12; do " + as_requester + " ps --json --config-dir " +
                                config.config.str() + " >/dev/null 2>&1 & done; wait"},
                           options);
  BOOST_TEST(!flood.timed_out, "a ps of the requester hung");
  const auto started = std::chrono::steady_clock::now();
  options.timeout = std::chrono::seconds(60);
  auto kill = run_process({"/usr/bin/setpriv", "--reuid=" + std::to_string(requester.uid),
                           "--regid=" + std::to_string(requester.gid), "--init-groups", kTierbox, "kill", run_id,
                           "--config-dir", config.config.str()},
                          options);
  BOOST_TEST(!kill.timed_out, "the requester's kill hung");
  BOOST_TEST(kill.status == 125, kill.out << kill.err);
  BOOST_TEST(kill.err.find("did not answer within 30 s: it is stopped") != std::string::npos, kill.err);
  BOOST_TEST((std::chrono::steady_clock::now() - started < std::chrono::seconds(45)));
  // Control: root acts without the runner, stopped or not.
  run.signal(SIGCONT);
  auto root_kill = config.tierbox({"kill", run_id});
  BOOST_TEST(root_kill.status == 0, root_kill.out << root_kill.err);
  BOOST_TEST(run.wait(15s) == 128 + SIGKILL);
}

BOOST_AUTO_TEST_CASE(a_sandboxed_task_cannot_reach_any_runs_control_socket) {
  ControlConfig config;
  StartedRun other(config, config.profile_none, {"spin", "120", "1"}, "exec succeeded");
  const auto socket = config.state_dir + "/control/" + other.run_id + ".sock";
  // Control: outside a sandbox the socket answers (and the runner decides).
  auto outside = run_process({kProbe, "connect-unix", socket});
  BOOST_TEST(json::parse(outside.out)["connect"] == "ok", outside.out);
  // Inside one (even of the same state directory) there is nothing to connect to.
  Workspace workspace;
  auto inside = run_tierbox(config.run_args(config.profile_none, workspace, {"connect-unix", socket}));
  BOOST_TEST_REQUIRE(inside.status == 0, inside.err);
  BOOST_TEST(json::parse(inside.out)["connect"] == "ENOENT", inside.out);
  BOOST_TEST(config.tierbox({"kill", other.run_id}).status == 0);
  other.run->wait(10s);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(control_gc)

BOOST_AUTO_TEST_CASE(gc_after_sigkill_of_the_runner_removes_everything_the_run_made) {
  TestHost host({"203.0.113"}, {kTcpPort}, {kUdpPort});
  ControlConfig config;
  StartedRun started(config, config.allowlist_profile(host), {"stream", host.address(), std::to_string(kUdpPort)},
                     "probe: streaming");
  const auto row = config.ps_row(started.run_id);
  BOOST_TEST_REQUIRE(row.is_object());
  const pid_t init = row["pid"].get<pid_t>();
  const auto processes = descendants_of(init);
  BOOST_TEST_REQUIRE(!processes.empty());
  const auto cgroups = run_cgroup_dirs(processes.front(), started.run_id);
  BOOST_TEST_REQUIRE(!cgroups.empty());
  const fs::path runs = fs::path(config.state_dir) / "runs";
  const fs::path socket = fs::path(config.state_dir) / "control" / (started.run_id + ".sock");
  BOOST_TEST_REQUIRE(fs::exists(socket));

  // The runner and its network helper (which would otherwise remove the
  // run's network when the runner dies) are killed: gc must do it all.
  std::smatch match;
  BOOST_TEST_REQUIRE(std::regex_search(started.helper_line, match, std::regex("started \\(pid ([0-9]+)\\)")),
                     started.helper_line);
  const pid_t helper = std::stoi(match[1].str());
  BOOST_TEST_REQUIRE(::kill(helper, SIGKILL) == 0);  // no handler runs after it
  started.run->signal(SIGKILL);
  started.run->wait(10s);
  BOOST_TEST_REQUIRE(wait_until_gone(helper, 5000ms));  // reaped once its parent is gone
  auto dead = config.ps_row(started.run_id);
  BOOST_TEST(dead["state"] == "dead", dead.dump());
  // What the killed runner could not remove is still there until gc.
  for (const auto& dir : cgroups) BOOST_TEST(fs::exists(dir), dir);
  BOOST_TEST(fs::exists(socket));
  auto gc = config.tierbox({"gc"});
  BOOST_TEST(gc.status == 0, gc.out << gc.err);
  BOOST_TEST(gc.out.find("cleaned " + started.run_id) != std::string::npos, gc.out);
  BOOST_TEST(gc.out.find("removed control socket") != std::string::npos, gc.out);
  BOOST_TEST(gc.out.find("removed network:") != std::string::npos, gc.out);
  for (pid_t pid : processes) BOOST_TEST(wait_until_gone(pid, 5000ms), "process " << pid);
  for (const auto& dir : cgroups) BOOST_TEST(!fs::exists(dir), dir);
  BOOST_TEST(!fs::exists(socket));
  for (const auto& entry : fs::directory_iterator(runs))
    BOOST_TEST(entry.path().filename().string().find(started.run_id) == std::string::npos, entry.path());
  // On failure, what gc said it removed goes with what is still there.
  auto links = run_process({"/usr/sbin/ip", "-o", "-4", "address", "show"});
  BOOST_TEST(links.out.find("10.211." + std::to_string(config.third_octet) + ".") == std::string::npos,
             links.out << "\ngc said:\n" << gc.out << gc.err);
  // Tags are the hex of the run's /30: 10.211.X. is "0ad3" and X in hex.
  char tag_prefix[8];
  std::snprintf(tag_prefix, sizeof tag_prefix, "0ad3%02x", config.third_octet);
  std::string nft;
  for (const auto& line : nft_lines_of_pool(tag_prefix, {std::string("tbx") + tag_prefix,
                                                         "10.211." + std::to_string(config.third_octet) + "."}))
    nft += line + "\n";
  BOOST_TEST(nft.empty(), nft << "\ngc said:\n" << gc.out << gc.err);
  BOOST_TEST(config.ps().empty());
}

BOOST_AUTO_TEST_SUITE_END()
