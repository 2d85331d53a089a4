// What the sandbox is, seen from inside by the probe: one test per property,
// each asserting that the attempt that must fail did fail.
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include <sstream>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "integration/harness.h"

using namespace tierbox::testing;
using nlohmann::json;

namespace {

std::set<std::string> strings_of(const json& array) {
  std::set<std::string> values;
  for (const auto& item : array) values.insert(item.get<std::string>());
  return values;
}

const json* find_mount(const json& info, const std::string& mount_point) {
  const json* found = nullptr;
  for (const auto& mount : info["mounts"])
    if (mount["mount_point"] == mount_point) found = &mount;  // the last one is on top
  return found;
}

bool has_option(const json& mount, const std::string& option) {
  std::stringstream options(mount["options"].get<std::string>());
  std::string item;
  while (std::getline(options, item, ','))
    if (item == option) return true;
  return false;
}

std::string test_profile(const std::string& name) { return std::string(kSourceDir) + "/tests/profiles/" + name; }

// Processes on the host whose command line contains marker.
int count_host_processes_with(const std::string& marker) {
  int count = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const auto name = entry.path().filename().string();
    if (name.empty() || !std::isdigit(static_cast<unsigned char>(name[0]))) continue;
    const auto cmdline = process_cmdline(name);
    if (cmdline.find(marker) != std::string::npos && cmdline.find("tierbox") == std::string::npos) ++count;
  }
  return count;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(sandbox_identity)

BOOST_AUTO_TEST_CASE(every_namespace_is_new) {
  auto info = probe({"--tier", "untrusted"}, {"info"});
  for (const char* name : {"user", "pid", "mnt", "net", "ipc", "uts", "cgroup", "time"}) {
    struct stat host {};
    BOOST_REQUIRE(::stat((std::string("/proc/self/ns/") + name).c_str(), &host) == 0);
    BOOST_TEST(info["namespaces"][name].get<ino_t>() != host.st_ino, name << " namespace is the host's");
  }
}

BOOST_AUTO_TEST_CASE(the_tasks_clocks_and_uptime_count_from_its_launch) {
  // The time namespace: the sandbox's monotonic and boot clocks start at its
  // launch, and so do /proc/uptime, /proc/stat's btime and process start
  // times; the task cannot move them. (Not a secret kept: the kernel shows the
  // task its namespace's offsets in /proc/self/timens_offsets; see
  // docs/threat-model.md.)
  const double host_uptime = std::strtod(read_proc_file("/proc/uptime").c_str(), nullptr);
  const auto launched = std::chrono::system_clock::now();
  auto clocks = probe({"--tier", "untrusted"}, {"clocks"});
  BOOST_TEST_INFO("inside: " << clocks.dump() << "; the host's uptime " << host_uptime << " s");
  // Generous bounds: the probe runs well within a minute of the launch.
  for (const char* clock : {"monotonic", "boottime", "uptime", "init_started", "self_started"}) {
    BOOST_TEST(clocks[clock].get<double>() >= 0.0, clock);
    BOOST_TEST(clocks[clock].get<double>() < 60.0, clock);
  }
  BOOST_TEST(clocks["init_started"].get<double>() <= clocks["self_started"].get<double>());
  const auto launched_s = std::chrono::duration_cast<std::chrono::seconds>(launched.time_since_epoch()).count();
  BOOST_TEST(std::abs(clocks["btime"].get<long long>() - launched_s) < 60);
  // The wall clock is the host's: only the clocks since boot move.
  BOOST_TEST(std::abs(clocks["realtime"].get<double>() - static_cast<double>(launched_s)) < 60.0);
  BOOST_TEST(clocks["set_offsets"] != "ok");
  BOOST_TEST(clocks["unshare_time"] != "ok");
  // The control: outside, the host's uptime is longer than any of the above
  // could be, unless this host booted less than two minutes ago.
  if (host_uptime < 120.0)
    BOOST_TEST_MESSAGE("note: the host booted " << host_uptime << " s ago; its uptime and the sandbox's cannot be told apart");
  else
    BOOST_TEST(clocks["uptime"].get<double>() < host_uptime - 60.0);
}

BOOST_AUTO_TEST_CASE(a_caller_in_a_time_namespace_of_its_own_still_launches) {
  // The kernel applies a time namespace's offsets to the host's clocks: the
  // child reads its clocks in the caller's namespace, whose offsets must come
  // off first (offsets computed from them were refused with ERANGE).
  auto result = run_process({"/usr/bin/unshare", "--time", "--fork", "--monotonic", "100000", "--boottime", "100000", "--",
                             kTierbox, "run", "--tier", "untrusted", "--", "/bin/cat", "/proc/uptime"});
  BOOST_REQUIRE_MESSAGE(result.status == 0, result.err);
  const double uptime = std::strtod(result.out.c_str(), nullptr);
  BOOST_TEST(uptime >= 0.0, result.out);
  BOOST_TEST(uptime < 60.0, result.out);
  // The control: the caller's namespace does read 100000 s more than the host.
  auto caller = run_process({"/usr/bin/unshare", "--time", "--fork", "--monotonic", "100000", "--boottime", "100000", "--",
                             "/bin/cat", "/proc/uptime"});
  BOOST_TEST(std::strtod(caller.out.c_str(), nullptr) >= 100000.0, caller.out);
}

BOOST_AUTO_TEST_CASE(task_is_unprivileged_inside_and_on_the_host) {
  auto info = probe({"--tier", "untrusted"}, {"info"});
  BOOST_TEST(info["uid"] == 1000);
  BOOST_TEST(info["euid"] == 1000);
  BOOST_TEST(info["gid"] == 1000);
  BOOST_TEST(info["groups"].empty(), "supplementary groups leaked: " << info["groups"].dump());
  // uid_map: "0 HOST_ROOT 1" and "1000 HOST_TASK 1", both unprivileged host ids.
  std::istringstream map(info["uid_map"].get<std::string>());
  unsigned inside, host, count, lines = 0;
  while (map >> inside >> host >> count) {
    ++lines;
    BOOST_TEST(count == 1u);
    BOOST_TEST(host >= 65536u, "inside " << inside << " maps to a privileged host id " << host);
    BOOST_TEST((inside == 0u || inside == 1000u));
  }
  BOOST_TEST(lines == 2u);
}

BOOST_AUTO_TEST_CASE(all_capabilities_dropped_and_no_new_privs) {
  auto info = probe({"--tier", "untrusted"}, {"info"});
  for (const char* set : {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"})
    BOOST_TEST(info[set] == "0000000000000000", set << " = " << info[set]);
  BOOST_TEST(info["NoNewPrivs"] == "1");
  // What capabilities would allow, refused:
  BOOST_TEST(info["setuid0"] == "EPERM");
  BOOST_TEST(info["sethostname"] == "EPERM");
  BOOST_TEST(info["mount_tmpfs"] == "EPERM");
  BOOST_TEST(info["mknod"] == "EPERM");
  BOOST_TEST(info["unshare_mount"] == "EPERM");
  // No nested user namespace, so no way to regain capabilities at all.
  BOOST_TEST(info["unshare_user"] != "ok");
}

BOOST_AUTO_TEST_CASE(hostname_from_the_profile_and_no_domain) {
  auto info = probe({"--tier", "untrusted"}, {"info"});
  BOOST_TEST(info["hostname"] == "sandbox");
  BOOST_TEST(info["domainname"] == "(none)");
}

BOOST_AUTO_TEST_CASE(environment_is_only_the_allowlist) {
  Workspace workspace;
  SpawnOptions options;
  options.env = {"PATH=/usr/bin:/bin", "TERM=xterm-test", "LD_LIBRARY_PATH=/nonexistent", "PYTHONPATH=/evil",
                 "SECRET_TOKEN=hunter2", "HOME=/root"};
  auto result = run_tierbox({"run", "--tier", "untrusted", "--workspace", workspace.str(), "--", "./probe", "info"}, options);
  BOOST_REQUIRE(result.status == 0);
  auto env = json::parse(result.out)["env"];
  BOOST_TEST(env["TERM"] == "xterm-test");  // passed: in environment.pass
  BOOST_TEST(env["HOME"] == "/tmp");         // set by the tier, not the caller's
  for (const char* leaked : {"LD_LIBRARY_PATH", "PYTHONPATH", "SECRET_TOKEN"}) BOOST_TEST(!env.contains(leaked), leaked);
}

BOOST_AUTO_TEST_CASE(signal_dispositions_and_mask_are_reset) {
  // This test process ignores SIGPIPE (see harness.cpp); the task must not inherit it.
  auto info = probe({"--tier", "untrusted"}, {"info"});
  BOOST_TEST(info["SigIgn"] == "0000000000000000");
  BOOST_TEST(info["SigBlk"] == "0000000000000000");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(sandbox_processes)

BOOST_AUTO_TEST_CASE(task_runs_under_a_reaping_init_in_its_own_pid_namespace) {
  auto info = probe({"--tier", "untrusted"}, {"info"});
  BOOST_TEST(info["pid"] == 2);
  BOOST_TEST(info["ppid"] == 1);
  BOOST_TEST(info["proc1_cmdline"] == "tierbox-init");  // not the caller's command line
  BOOST_TEST(info["proc1_environ_readable"] == false);
  BOOST_TEST(info["visible_pids"].size() == 2u, info["visible_pids"].dump());
  BOOST_TEST(info["sid"] == 1);  // a new session, led by init
}

BOOST_AUTO_TEST_CASE(orphans_are_reaped) {
  auto report = probe({"--tier", "untrusted"}, {"orphans", "30"});
  BOOST_TEST(report["zombies"] == 0);
}

BOOST_AUTO_TEST_CASE(exit_code_and_death_by_signal_are_passed_on) {
  BOOST_TEST(run_tierbox({"run", "--", "/bin/sh", "-c", "exit 42"}).status == 42);
  BOOST_TEST(run_tierbox({"run", "--", "/bin/sh", "-c", "kill -KILL $$"}).status == 137);
  BOOST_TEST(run_tierbox({"run", "--", "/bin/sh", "-c", "kill -TERM $$"}).status == 143);
  BOOST_TEST(run_tierbox({"run", "--", "/bin/true"}).status == 0);
}

BOOST_AUTO_TEST_CASE(stdio_is_the_callers) {
  SpawnOptions options;
  options.stdin_data = "hello from the caller\n";
  auto result = run_tierbox({"run", "--", "/bin/sh", "-c", "cat; echo to-stderr >&2"}, options);
  BOOST_TEST(result.status == 0);
  BOOST_TEST(result.out == "hello from the caller\n");
  BOOST_TEST(result.err.find("to-stderr") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(signals_to_the_runner_reach_the_task) {
  BackgroundRun run({"run", "--", "/bin/sh", "-c",
                     "trap 'echo got-term; exit 7' TERM; echo ready >&2; while :; do sleep 0.05; done"});
  BOOST_REQUIRE(!run.wait_for_line("ready").empty());
  run.signal(SIGTERM);
  BOOST_TEST(run.wait() == 7);
  BOOST_TEST(run.out().find("got-term") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(wall_clock_limit_kills_the_whole_tree) {
  const std::string marker = "9" + std::to_string(::getpid() % 100000) + "17";
  const auto start = std::chrono::steady_clock::now();
  // 3 s, not 1: under emulation (tools/vm) the setup alone may take a second.
  auto result = run_tierbox({"run", "--timeout", "3", "--", "/bin/sh", "-c",
                             "sleep " + marker + " & (sleep " + marker + " &) ; sleep " + marker});
  const auto elapsed = std::chrono::steady_clock::now() - start;
  BOOST_TEST(result.status == 124);
  BOOST_TEST(result.err.find("wall-clock limit") != std::string::npos, result.err);
  BOOST_TEST((elapsed < std::chrono::seconds(20)));
  BOOST_TEST(count_host_processes_with("sleep " + marker) == 0, "a background sleep survived the timeout");
}

BOOST_AUTO_TEST_CASE(sandbox_dies_with_the_runner) {
  const std::string marker = "8" + std::to_string(::getpid() % 100000) + "23";
  TempDir config{"tierbox-killed-runner"};
  use_own_registry(config);  // for its gc at the end
  BackgroundRun run({"run", "-v", "--config-dir", config.str(), "--", "/bin/sh", "-c", "sleep " + marker + " & sleep " + marker});
  auto line = run.wait_for_line("sandbox init is host pid");
  auto sandbox = sandbox_pid_from(line);
  BOOST_REQUIRE(sandbox.has_value());
  BOOST_REQUIRE(!run.wait_for_line("exec succeeded").empty());
  run.signal(SIGKILL);
  BOOST_TEST(run.wait() == 137);
  BOOST_TEST(wait_until_gone(*sandbox, std::chrono::seconds(10)), "sandbox init survived its runner");
  for (int i = 0; i < 100 && count_host_processes_with("sleep " + marker) > 0; ++i) ::usleep(50000);
  BOOST_TEST(count_host_processes_with("sleep " + marker) == 0);
  const auto gc = run_tierbox({"gc", "--config-dir", config.str()});  // the dead run's cgroups and entry
  BOOST_TEST(gc.status == 0, gc.out << gc.err);
  BOOST_TEST(gc.out.find("cleaned") != std::string::npos, gc.out);
}

// The runner is held, deterministically, on the audit log's flock while it
// writes the start record (Parent 8b), after sync #1: the child builds its
// root and waits for sync #2.
struct HeldAuditLog {
  TempDir dir{"tierbox-held-log"};
  Workspace workspace;
  std::string log = (dir.path() / "audit.jsonl").string();
  int held = -1;

  HeldAuditLog() {
    use_own_registry(dir);  // its gc below touches no other test's dead runs
    held = ::open(log.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    BOOST_REQUIRE(held >= 0);
    BOOST_REQUIRE(::flock(held, LOCK_EX) == 0);
  }
  ~HeldAuditLog() { release(); }
  void release() {
    if (held >= 0) ::close(held);
    held = -1;
  }
  // A task that leaves a mark in the (writable) workspace if it ever runs.
  std::vector<std::string> run_args() const {
    return {"run", "-v", "--config-dir", dir.str(), "--audit-log", log, "--tier", "workspace-write",
            "--workspace", workspace.str(), "--", "/bin/sh", "-c", "echo ran > /workspace/ran"};
  }
  bool task_ran() const { return std::filesystem::exists(workspace.path() / "ran"); }
};

// Nothing of the task runs before its start record is on disk: while the
// record waits, the sandbox is set up and waiting, but the task's command
// has not run. A runner killed there must not leave its sandbox waiting
// forever: changing credentials after #1 clears the parent-death signal, so
// what saves it is the child having closed its copy of the runner's end of
// the sync socket: its wait for #2 reads EOF.
BOOST_AUTO_TEST_CASE(a_runner_killed_before_the_task_starts_leaves_no_sandbox) {
  HeldAuditLog held;
  BackgroundRun run(held.run_args());
  auto sandbox = sandbox_pid_from(run.wait_for_line("sandbox init is host pid"));
  BOOST_REQUIRE(sandbox.has_value());
  BOOST_REQUIRE(!run.wait_for_line("run record written").empty());  // next: the audit write, held
  ::usleep(300000);
  BOOST_TEST(process_exists(*sandbox), "control: the sandbox waits for sync #2 while its runner lives");
  BOOST_TEST(!held.task_ran(), "the task ran before its start record was written");
  run.signal(SIGKILL);
  BOOST_TEST(run.wait() == 137);
  BOOST_TEST(wait_until_gone(*sandbox, std::chrono::seconds(10)), "sandbox init survived a runner killed before sync #2");
  BOOST_TEST(!held.task_ran(), "the task ran although its runner died before sync #2");
  held.release();
  const auto gc = run_tierbox({"gc", "--config-dir", held.dir.str()});  // the dead run's cgroups and entry
  BOOST_TEST(gc.status == 0, gc.out << gc.err);
}

// The control for the test above: the same run, released, runs its task.
BOOST_AUTO_TEST_CASE(a_held_start_record_only_delays_the_task) {
  HeldAuditLog held;
  BackgroundRun run(held.run_args());
  BOOST_REQUIRE(!run.wait_for_line("run record written").empty());  // next: the audit write, held
  ::usleep(300000);
  BOOST_TEST(!held.task_ran(), "the task ran before its start record was written");
  held.release();
  BOOST_TEST(run.wait() == 0);
  BOOST_TEST(held.task_ran());
}

BOOST_AUTO_TEST_CASE(tiocsti_cannot_type_into_the_callers_terminal) {
  Workspace workspace;
  // Control: outside a sandbox, on this host, TIOCSTI on one's own terminal
  // works (dev.tty.legacy_tiocsti=1), so the sandbox is what stops it.
  auto control = run_in_pty({kProbe, "tiocsti"});
  auto outside = json::parse(control.out.substr(control.out.find('{')));
  auto result = run_in_pty({kTierbox, "run", "--workspace", workspace.str(), "--", "./probe", "tiocsti"});
  BOOST_REQUIRE(result.status == 0);
  // The pty merges stderr: an older kernel's Landlock warnings come first.
  const auto report = without_landlock_warnings(result.out);
  auto inside = json::parse(report.substr(report.find('{')));
  BOOST_TEST(inside["isatty"] == true);
  BOOST_TEST(inside["tiocsti"] != "ok");
  if (outside["tiocsti"] != "ok")
    BOOST_TEST_MESSAGE("note: this host refuses TIOCSTI everywhere (" << outside["tiocsti"] << "); the control is moot");
}

BOOST_AUTO_TEST_SUITE_END()

namespace {

// How many of this host's mounts lie below one of the prefixes.
int host_submounts_below(const std::vector<std::string>& prefixes) {
  std::istringstream lines(read_proc_file("/proc/self/mountinfo"));
  int count = 0;
  for (std::string line; std::getline(lines, line);) {
    std::istringstream fields(line);
    std::string id, parent, device, root, point;
    fields >> id >> parent >> device >> root >> point;
    for (const auto& prefix : prefixes) count += point.rfind(prefix, 0) == 0 ? 1 : 0;
  }
  return count;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(sandbox_filesystem)

BOOST_AUTO_TEST_CASE(root_holds_only_what_the_plan_mounts) {
  auto info = probe({"--tier", "untrusted"}, {"info"});
  std::set<std::string> expected = {"bin", "dev", "etc", "lib", "lib64", "proc", "sbin", "tmp", "usr", "workspace"};
  BOOST_TEST(strings_of(info["root_entries"]) == expected, boost::test_tools::per_element());
  auto root = find_mount(info, "/");
  BOOST_REQUIRE(root);
  BOOST_TEST((*root)["fstype"] == "tmpfs");
  BOOST_TEST(has_option(*root, "ro"));
}

BOOST_AUTO_TEST_CASE(dev_is_minimal) {
  auto info = probe({"--tier", "untrusted"}, {"info"});
  std::set<std::string> expected = {"null", "zero", "full", "random", "urandom", "tty", "pts", "shm",
                                    "ptmx", "fd", "stdin", "stdout", "stderr"};
  BOOST_TEST(strings_of(info["dev_entries"]) == expected, boost::test_tools::per_element());
  auto writes = probe({"--tier", "untrusted"}, {"write", "/dev", "/dev/null", "/dev/shm", "/dev/sda"});
  BOOST_TEST(writes["/dev"] == "EROFS");
  BOOST_TEST(writes["/dev/null"] == "ok");
  BOOST_TEST(writes["/dev/shm"] == "ok");
  BOOST_TEST(writes["/dev/sda"] == "EROFS");  // cannot even be created
}

BOOST_AUTO_TEST_CASE(every_mount_is_nosuid_and_read_only_unless_planned_writable) {
  Workspace workspace;
  auto info = probe_in(workspace, {"--tier", "untrusted"}, {"info"});
  const std::set<std::string> writable = {"/tmp", "/dev/pts", "/dev/shm", "/dev/null", "/dev/zero", "/dev/full",
                                          "/dev/random", "/dev/urandom", "/dev/tty", "/proc"};
  for (const auto& mount : info["mounts"]) {
    const std::string point = mount["mount_point"];
    BOOST_TEST(has_option(mount, "nosuid"), point << " lacks nosuid");
    if (!writable.count(point)) BOOST_TEST(has_option(mount, "ro"), point << " is writable: " << mount["options"]);
    // Device nodes are bound on purpose (the minimal /dev, and /dev/null over
    // masked /proc files); every other mount is nodev.
    if (mount["fstype"] != "devtmpfs" && point != "/dev/pts") BOOST_TEST(has_option(mount, "nodev"), point << " lacks nodev");
  }
}

BOOST_AUTO_TEST_CASE(read_only_binds_refuse_writes_with_erofs) {
  Workspace workspace;
  workspace.write("data.txt", "the task owns this file (idmapped), so only the read-only mount stops the write\n");
  auto writes = probe_in(workspace, {"--tier", "untrusted"},
                         {"write", "/", "/usr", "/usr/bin", "/usr/lib", "/etc/alternatives", "/workspace",
                          "/workspace/data.txt", "/etc"});
  for (const auto& [path, outcome] : writes.items()) BOOST_TEST(outcome == "EROFS", path << ": " << outcome);
  // Files the task could not write anyway fail on permissions first.
  auto other = probe({"--tier", "untrusted"}, {"write", "/etc/ld.so.cache", "/etc/passwd"});
  for (const auto& [path, outcome] : other.items()) BOOST_TEST(outcome != "ok", path);
}

BOOST_AUTO_TEST_CASE(read_only_holds_through_submounts_of_a_bound_tree) {
  // /dev has submounts on this host (/dev/shm, /dev/pts); each is writable
  // on the host. (/sys/fs/cgroup, used here before, is a kernel filesystem:
  // refused as a bind source, see test_policy.cpp.)
  auto writes = probe({"--profile", test_profile("host-submounts.json")},
                      {"write", "/hostdev", "/hostdev/shm", "/hostdev/pts", "/hostdev/null"});
  for (const char* path : {"/hostdev", "/hostdev/shm"})
    BOOST_TEST(writes[path] == "EROFS", path << ": " << writes[path]);
  BOOST_TEST(writes["/hostdev/pts"] != "ok");
  // nodev: a host device node is useless even though it is visible.
  BOOST_TEST(writes["/hostdev/null"] == "EACCES", writes["/hostdev/null"]);
  auto info = probe({"--profile", test_profile("host-submounts.json")}, {"info"});
  int submounts = 0;
  for (const auto& mount : info["mounts"]) {
    const std::string point = mount["mount_point"];
    if (point.rfind("/hostdev/", 0) == 0) {
      ++submounts;
      BOOST_TEST(has_option(mount, "ro"), point << " is writable");
    }
  }
  // As many as the host has there: /dev/pts and /dev/shm wherever they are
  // mounted (the guests of tools/vm mount both).
  BOOST_TEST(submounts == host_submounts_below({"/dev/"}), info["mounts"].dump());
  BOOST_TEST(submounts >= 2);
}

BOOST_AUTO_TEST_CASE(workspace_is_writable_only_where_the_tier_says) {
  Workspace workspace;
  auto readonly = probe_in(workspace, {"--tier", "readonly"}, {"write", "/workspace"});
  BOOST_TEST(readonly["/workspace"] == "EROFS");
  auto writable = probe_in(workspace, {"--tier", "workspace-write"}, {"write", "/workspace"});
  BOOST_TEST(writable["/workspace"] == "ok");
}

BOOST_AUTO_TEST_CASE(files_the_task_creates_belong_to_the_workspace_owner) {
  Workspace workspace;
  BOOST_REQUIRE(::chown(workspace.path().c_str(), 4321, 4321) == 0);
  auto result = run_tierbox({"run", "--tier", "workspace-write", "--workspace", workspace.str(), "--", "/bin/sh", "-c",
                             "echo made > made.txt && stat -c %u made.txt"});
  BOOST_REQUIRE(result.status == 0);
  BOOST_TEST(result.out == "1000\n");  // the task's own uid inside
  struct stat st {};
  BOOST_REQUIRE(::stat((workspace.path() / "made.txt").c_str(), &st) == 0);
  BOOST_TEST(st.st_uid == 4321u);  // the owner's on the host
  BOOST_TEST(st.st_gid == 4321u);
}

BOOST_AUTO_TEST_CASE(tmp_is_a_private_tmpfs_with_a_size_limit) {
  auto fill = probe({"--tier", "untrusted"}, {"fill", "/tmp/big", std::to_string(100LL << 20)});
  BOOST_TEST(fill["result"] == "ENOSPC");
  BOOST_TEST(fill["written"].get<long long>() <= (64LL << 20));
  auto info = probe({"--tier", "untrusted"}, {"info"});
  auto tmp = find_mount(info, "/tmp");
  BOOST_REQUIRE(tmp);
  BOOST_TEST((*tmp)["fstype"] == "tmpfs");
}

BOOST_AUTO_TEST_CASE(proc_is_fresh_with_kernel_knobs_read_only_and_leaks_masked) {
  auto info = probe({"--tier", "untrusted"}, {"info"});
  auto sys = find_mount(info, "/proc/sys");
  BOOST_REQUIRE(sys);
  BOOST_TEST(has_option(*sys, "ro"));
  auto writes = probe({"--tier", "untrusted"}, {"write", "/proc/sys/kernel/hostname", "/proc/sys/vm/drop_caches"});
  for (const auto& [path, outcome] : writes.items()) BOOST_TEST(outcome != "ok", path);
  // Masked, or readable only by the host's root: either way nothing to read.
  std::vector<std::string> masked;
  for (const char* path : {"/proc/kcore", "/proc/kmsg", "/proc/kallsyms", "/proc/keys", "/proc/key-users",
                           "/proc/timer_list", "/proc/sched_debug", "/proc/config.gz", "/proc/slabinfo",
                           "/proc/kpageflags", "/proc/kpagecount", "/proc/vmallocinfo", "/proc/pagetypeinfo",
                           "/proc/cmdline", "/proc/sys/kernel/random/boot_id"})
    if (std::filesystem::exists(path)) masked.push_back(path);
  BOOST_REQUIRE(!masked.empty());
  std::vector<std::string> args = {"read"};
  args.insert(args.end(), masked.begin(), masked.end());
  auto reads = probe({"--tier", "untrusted"}, args);
  for (const auto& path : masked) {
    auto outcome = reads[path];
    BOOST_TEST((outcome["result"] != "ok" || outcome["bytes"] == 0), path << " leaks: " << outcome.dump());
  }
  // The control for the kernel's command line, which every user may read
  // outside: the host's is not empty.
  std::ifstream host_cmdline("/proc/cmdline");
  std::string cmdline;
  std::getline(host_cmdline, cmdline);
  BOOST_TEST(!cmdline.empty());
  BOOST_TEST(!read_proc_file("/proc/sys/kernel/random/boot_id").empty());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(sandbox_escape)

BOOST_AUTO_TEST_CASE(a_directory_fd_leaked_by_the_caller_never_reaches_the_task) {
  // CVE-2024-21626: an fd to a host directory inherited into the container
  // let a process walk out of its root. Here the caller leaks fd 7 -> host /.
  int leaked = ::open("/", O_RDONLY | O_DIRECTORY);  // deliberately not O_CLOEXEC
  BOOST_REQUIRE(leaked >= 0);
  Workspace workspace;
  SpawnOptions options;
  options.inherit_fds = {{leaked, 7}};
  auto result = run_tierbox({"run", "--workspace", workspace.str(), "--", "./probe", "escape"}, options);
  ::close(leaked);
  BOOST_REQUIRE(result.status == 0);
  auto report = json::parse(result.out);
  std::set<int> fds;
  for (const auto& fd : report["fds"]) fds.insert(fd["fd"].get<int>());
  BOOST_TEST((fds == std::set<int>{0, 1, 2}), report["fds"].dump());
  BOOST_TEST(report["fd_escapes"].empty(), report["fd_escapes"].dump());
}

BOOST_AUTO_TEST_CASE(a_directory_as_stdio_is_refused) {
  // A directory on fd 0 would be as good as the leaked fd above: openat(0,
  // "etc/...") from inside would read the host's tree.
  int directory = ::open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  BOOST_REQUIRE(directory >= 0);
  Workspace workspace;
  SpawnOptions options;
  options.inherit_fds = {{directory, 0}};
  auto result = run_tierbox({"run", "--workspace", workspace.str(), "--", "./probe", "escape"}, options);
  ::close(directory);
  BOOST_TEST(result.status == 125);
  BOOST_TEST(result.err.find("fd 0 is a directory") != std::string::npos, result.err);
  BOOST_TEST(result.out.empty());  // the probe never ran
}

BOOST_AUTO_TEST_CASE(an_o_path_fd_as_stdio_is_refused_and_an_open_file_is_not) {
  // O_PATH needs no permission to open and fstat cannot tell what it is for:
  // refused on any of 0-2 (the daemon receives such fds from its callers).
  const int path_only = ::open("/dev/null", O_PATH | O_CLOEXEC);
  BOOST_REQUIRE(path_only >= 0);
  SpawnOptions options;
  options.inherit_fds = {{path_only, 2}};
  const auto refused = run_tierbox({"run", "--", "/bin/sh", "-c", "echo ran"}, options);
  ::close(path_only);
  BOOST_TEST(refused.status == 125);
  BOOST_TEST(refused.out.empty(), refused.out);  // the task never ran
  // Control: the same file opened for writing on fd 2 runs.
  const int opened = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  BOOST_REQUIRE(opened >= 0);
  options.inherit_fds = {{opened, 2}};
  const auto ran = run_tierbox({"run", "--", "/bin/sh", "-c", "echo ran"}, options);
  ::close(opened);
  BOOST_TEST(ran.status == 0);
  BOOST_TEST(ran.out == "ran\n");
}

namespace {

// The files of a workspace whose mode has the set-user-ID or set-group-ID bit.
std::vector<std::string> setid_files(const std::filesystem::path& dir) {
  std::vector<std::string> found;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    struct stat st {};
    if (::lstat(entry.path().c_str(), &st) == 0 && (st.st_mode & (S_ISUID | S_ISGID)) != 0)
      found.push_back(entry.path().filename().string());
  }
  return found;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_task_cannot_leave_a_setuid_file_in_a_writable_workspace) {
  // The workspace is root's, so what the task creates is root's on the host:
  // a set-user-ID copy of a shell there would be a root shell for any local
  // user, and the sandbox's nosuid mount does not follow the file out.
  const std::string plant =
      "cp /bin/sh sh-suid; chmod 4755 sh-suid; cp /bin/sh sh-sgid; chmod g+s sh-sgid; "
      "install -m 4755 /bin/true true-suid; mkdir dir-sgid; chmod 2775 dir-sgid; "
      "python3 -c 'import os; os.close(os.open(\"py-suid\", os.O_WRONLY | os.O_CREAT, 0o4755))'; ls";
  Workspace workspace;
  auto refused = run_tierbox({"run", "--tier", "workspace-write", "--workspace", workspace.str(), "--", "/bin/sh", "-c", plant});
  BOOST_TEST(refused.out.find("sh-suid") != std::string::npos, "the task could not even copy: " << refused.out << refused.err);
  BOOST_TEST(refused.err.find("Operation not permitted") != std::string::npos, refused.err);
  const auto planted = setid_files(workspace.path());
  BOOST_TEST(planted.empty(), "set-ID files left on the host: " << planted.size() << " " << (planted.empty() ? "" : planted[0]));

  // Control: the same commands in a tier that opts in leave them all, so the
  // check above would have seen them.
  Workspace control;
  run_tierbox({"run", "--profile", std::string(kSourceDir) + "/tests/profiles/setuid-files-opt-in.json", "--workspace",
               control.str(), "--", "/bin/sh", "-c", plant});
  auto opted_in = setid_files(control.path());
  std::sort(opted_in.begin(), opted_in.end());
  BOOST_TEST((opted_in == std::vector<std::string>{"dir-sgid", "py-suid", "sh-sgid", "sh-suid", "true-suid"}),
             opted_in.size() << " set-ID files with the opt-in");
}

BOOST_AUTO_TEST_CASE(the_old_root_is_unreachable) {
  auto report = probe({"--tier", "untrusted"}, {"escape"});
  BOOST_TEST(report["host_paths_visible"].empty(), report["host_paths_visible"].dump());
  BOOST_TEST(report["root_parent_is_root"] == true);
  for (const auto& root : report["proc_roots"]) BOOST_TEST(root["same_as_root"] == true, root.dump());
  BOOST_TEST(report["chroot"] == "EPERM");
  BOOST_TEST(report["proc1_environ"] == "EACCES");
  BOOST_TEST(report["proc1_mem"] == "EACCES");
  BOOST_TEST(report["proc1_exe_open"] == "EACCES");
  BOOST_TEST(report["proc1_exe_readlink"] == "EACCES");
  // init's fds (the status pipe among them) are out of the task's reach.
  BOOST_TEST(report["proc_self_fd_dir"] == "ok");
  BOOST_TEST(report["proc1_fd_dir"] == "EACCES");
  BOOST_TEST(report["proc1_fds_opened_for_writing"].empty(), report["proc1_fds_opened_for_writing"].dump());
  auto info = probe({"--tier", "untrusted"}, {"info"});
  BOOST_TEST(info["cwd"] == "/workspace");
  for (const auto& mount : info["mounts"]) BOOST_TEST(mount["mount_point"] != "/tmp/tierbox-root");
}

BOOST_AUTO_TEST_CASE(keys_in_the_callers_session_keyring_are_out_of_reach) {
  // This test process gets a session keyring of its own, with a key in it;
  // tierbox and everything it starts inherit that keyring.
  BOOST_REQUIRE(::syscall(SYS_keyctl, 1 /* KEYCTL_JOIN_SESSION_KEYRING */, nullptr) >= 0);
  const std::string description = "tierbox-test-" + std::to_string(::getpid());
  const std::string secret = "s3cr3t-token";
  const long key = ::syscall(SYS_add_key, "user", description.c_str(), secret.data(), secret.size(),
                             -3 /* KEY_SPEC_SESSION_KEYRING */);
  BOOST_REQUIRE(key > 0);
  // Control: a process of the caller's, outside a sandbox, reads it.
  auto outside = run_process({kProbe, "keyring", std::to_string(key), description});
  BOOST_REQUIRE(outside.status == 0);
  BOOST_TEST(json::parse(outside.out)["read"] == secret);
  auto inside = probe({"--tier", "untrusted"}, {"keyring", std::to_string(key), description});
  BOOST_TEST(inside["read"] != secret, inside.dump());
  BOOST_TEST(inside["search"] != "found", inside.dump());
  ::syscall(SYS_keyctl, 3 /* KEYCTL_REVOKE */, key);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(sandbox_network)

BOOST_AUTO_TEST_CASE(only_loopback_and_it_is_up) {
  auto info = probe({"--tier", "untrusted"}, {"info"});
  BOOST_REQUIRE(info["interfaces"].size() == 1u);
  BOOST_TEST(info["interfaces"][0]["name"] == "lo");
  BOOST_TEST(info["interfaces"][0]["up"] == true);
  auto loopback = probe({"--tier", "untrusted"}, {"loopback"});
  BOOST_TEST(loopback["exchanged"] == true, loopback.dump());
}

BOOST_AUTO_TEST_CASE(host_loopback_services_are_unreachable) {
  int server = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in address {};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  BOOST_REQUIRE(::bind(server, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  BOOST_REQUIRE(::listen(server, 4) == 0);
  socklen_t length = sizeof address;
  ::getsockname(server, reinterpret_cast<sockaddr*>(&address), &length);
  const int port = ntohs(address.sin_port);
  // Control: the listener is reachable from the host.
  int client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  BOOST_REQUIRE(::connect(client, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  ::close(client);
  auto report = probe({"--tier", "untrusted"}, {"connect", "127.0.0.1", std::to_string(port)});
  BOOST_TEST(report["connect"] == "ECONNREFUSED", report.dump());
  ::close(server);
}

BOOST_AUTO_TEST_CASE(host_abstract_unix_sockets_are_unreachable) {
  const std::string name = "tierbox-test-" + std::to_string(::getpid());
  int server = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un address {};
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path + 1, name.data(), name.size());
  socklen_t length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  BOOST_REQUIRE(::bind(server, reinterpret_cast<sockaddr*>(&address), length) == 0);
  BOOST_REQUIRE(::listen(server, 4) == 0);
  int client = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  BOOST_REQUIRE(::connect(client, reinterpret_cast<sockaddr*>(&address), length) == 0);  // control
  ::close(client);
  auto report = probe({"--tier", "untrusted"}, {"connect-abstract", name});
  BOOST_TEST(report["connect"] == "ECONNREFUSED", report.dump());
  ::close(server);
}

BOOST_AUTO_TEST_SUITE_END()
