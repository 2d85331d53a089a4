// The OCI runtime mode's Kubernetes pods, on busybox-static bundles: a pod
// sandbox container given an engine's network namespace (/run/netns/NAME,
// made here with `ip netns add` as containerd's CRI and CNI make one), and an
// application container joining the sandbox's network, IPC and UTS
// namespaces by path as containerd gives them (/proc/PID/ns/TYPE, PID the
// state's pid). Under a tier with network mode none the engine's namespace
// is never entered; under mode host it is (mode allowlist:
// test_oci_pod_network.cpp). Refusals: the host's namespaces,
// paths that are no container's or engine's, user/mount/pid namespaces, and
// a pod sandbox of another tier. Then pause, resume and ps.
//
// The suite runs in a private mount namespace of its own (made once, below),
// with a tmpfs on /run/netns: nothing it mounts or makes there reaches the
// host's.
#include <boost/test/unit_test.hpp>

#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <thread>

#include "common/unique_fd.h"
#include "harness.h"
#include "oci_fixture.h"
#include "oci_pod_fixture.h"

using namespace tierbox;
using namespace tierbox::testing;
using namespace tierbox::testing::oci_fixture;
using namespace tierbox::testing::oci_pod_fixture;

namespace {

// What the application container prints about where it runs.
const char* const kWhereAmI =
    "echo host=$(hostname); for ns in net ipc uts pid; do echo $ns=$(readlink /proc/self/ns/$ns); done; "
    "echo interfaces=$(grep : /proc/net/dev | cut -d: -f1 | tr -d ' ' | tr '\\n' ' ')";

// create of the bundle is refused with line_part; nothing of it is left and
// the refusal is audited with its container id.
void expect_pod_refusal(const Bundle& b, const fs::path& bundle, const std::string& id, const std::string& line_part) {
  const auto created = b.oci_detached({"create", "--bundle", bundle.string(), id});
  BOOST_TEST(created.status != 0, id);
  BOOST_TEST(contains(created.err, line_part), id + ": " + created.err);
  BOOST_TEST(!fs::exists(b.root / id), id);
  (void)b.oci({"delete", "--force", id});
  bool refusal_recorded = false, started = false;
  for (const auto& record : b.audit_records()) {
    if (!record.contains("container") || record.at("container").at("id") != id) continue;
    if (record.at("event") == "start") started = true;
    else refusal_recorded = true;
  }
  BOOST_TEST(refusal_recorded, id);
  BOOST_TEST(!started, id);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(oci_pods)

BOOST_AUTO_TEST_CASE(an_application_container_shares_the_pod_sandbox_namespaces) {
  REQUIRE_BUSYBOX();
  EngineNetns netns;
  Bundle b(pod_config({"sleep", "600"}, "podhost", "untrusted", {{"network", netns.path.string()}}));
  DeleteAtEnd delete_sb1{b, "sb1"};
  const int pid = start_sandbox(b, "sb1", b.bundle);
  const auto sandbox = b.runtime_state("sb1");
  const pid_t sandbox_init = sandbox.at("sandbox_pid").get<int>();
  // Mode none: the engine's namespace (with its CNI interface) is recorded,
  // not entered.
  BOOST_TEST(sandbox.at("engine_netns") == netns.path.string());
  BOOST_TEST(namespace_inode(sandbox_init, "net") != netns.inode());

  const auto proc = "/proc/" + std::to_string(pid) + "/ns/";
  const auto app = b.add_bundle("app", pod_config({"sh", "-c", kWhereAmI}, "apphost", "untrusted",
                                                  {{"network", netns.path.string()},
                                                   {"ipc", proc + "ipc"},
                                                   {"uts", proc + "uts"}}));
  const auto ran = b.oci({"run", "--bundle", app.string(), "app1"});
  BOOST_REQUIRE_MESSAGE(ran.status == 0, "run app1: " + ran.err);
  const auto& out = ran.out;
  // The pod sandbox's namespaces: its sandbox init's, not the supervising
  // process's whose pid containerd passes (that one is in the host's).
  BOOST_TEST(inode_of_link(value_of(out, "net")) == namespace_inode(sandbox_init, "net"), out);
  BOOST_TEST(inode_of_link(value_of(out, "ipc")) == namespace_inode(sandbox_init, "ipc"), out);
  BOOST_TEST(inode_of_link(value_of(out, "uts")) == namespace_inode(sandbox_init, "uts"), out);
  BOOST_TEST(value_of(out, "host") == "podhost", out);
  // Its own pid namespace; not the host's IPC namespace.
  BOOST_TEST(inode_of_link(value_of(out, "pid")) != namespace_inode(sandbox_init, "pid"), out);
  BOOST_TEST(inode_of_link(value_of(out, "ipc")) != namespace_inode(::getpid(), "ipc"), out);
  // Only loopback: the engine's interface is not there.
  BOOST_TEST(value_of(out, "interfaces") == "lo", out);
  // Control: the engine's namespace has it, so the check above could fail.
  BOOST_TEST(contains(run_process({"/bin/sh", "-c", "ip -n " + netns.name + " -o link"}).out, "tbxcni0"));
  // The start record says whose namespaces the container shares.
  bool recorded = false;
  for (const auto& record : b.audit_records()) {
    if (record.at("event") != "start" || record.at("container").at("id") != "app1") continue;
    recorded = true;
    BOOST_TEST(record.at("joined_namespaces").size() == 3u, record.dump());
    for (const auto& joined : record.at("joined_namespaces")) BOOST_TEST(joined.at("owner") == "container sb1");
  }
  BOOST_TEST(recorded);
  BOOST_TEST(b.oci({"delete", "--force", "sb1"}).status == 0);
  BOOST_TEST(!fs::exists(b.root / "sb1"));
}

// Mode host: the tier shares the host's network, so the engine's
// namespace is a narrowing: entered as it is (the control for the test
// above: its interface is then seen).
BOOST_AUTO_TEST_CASE(a_host_network_tier_enters_the_engine_namespace) {
  REQUIRE_BUSYBOX();
  EngineNetns netns;
  Bundle b(pod_config({"sh", "-c", kWhereAmI}, "podhost", "pod-host-net", {{"network", netns.path.string()}}));
  fs::create_directories(b.config / "tiers");
  std::ofstream(b.config / "tiers" / "pod-host-net.json") << R"({"extends": "untrusted", "network": {"mode": "host"}})";
  const auto ran = b.oci({"run", "--bundle", b.bundle.string(), "h1"});
  BOOST_REQUIRE_MESSAGE(ran.status == 0, "run h1: " + ran.err);
  BOOST_TEST(inode_of_link(value_of(ran.out, "net")) == netns.inode(), ran.out);
  BOOST_TEST(contains(value_of(ran.out, "interfaces"), "tbxcni0"), ran.out);
}

BOOST_AUTO_TEST_CASE(namespaces_of_the_host_or_another_tier_are_refused) {
  REQUIRE_BUSYBOX();
  EngineNetns netns;
  Bundle b(pod_config({"sleep", "600"}, "podhost", "untrusted", {{"network", netns.path.string()}}));
  DeleteAtEnd delete_sb2{b, "sb2"};
  const int pid = start_sandbox(b, "sb2", b.bundle);
  const auto proc = "/proc/" + std::to_string(pid) + "/ns/";
  const auto app = [&](const std::string& tier, const std::map<std::string, std::string>& paths) {
    return b.add_bundle("app-" + std::to_string(std::hash<std::string>{}(tier + json(paths).dump())),
                        pod_config({"true"}, "apphost", tier, paths));
  };
  // The host's: pid 1 is no container of this --root.
  expect_pod_refusal(b, app("untrusted", {{"network", "/proc/1/ns/net"}}), "r1",
                     "linux.namespaces (network).path \"/proc/1/ns/net\": process 1 is no live container");
  expect_pod_refusal(b, app("untrusted", {{"ipc", "/proc/1/ns/ipc"}}), "r2", "process 1 is no live container");
  // This runtime's own process (the test's) is no container either.
  expect_pod_refusal(b, app("untrusted", {{"uts", "/proc/" + std::to_string(::getpid()) + "/ns/uts"}}), "r3",
                     "is no live container");
  // User, mount and pid namespaces, even the pod sandbox's.
  expect_pod_refusal(b, app("untrusted", {{"user", proc + "user"}}), "r4", "user namespace is never allowed");
  expect_pod_refusal(b, app("untrusted", {{"mount", proc + "mnt"}}), "r5", "mount namespace is never allowed");
  expect_pod_refusal(b, app("untrusted", {{"pid", proc + "pid"}}), "r6", "sharing a process namespace is not supported");
  // A pod sandbox of another tier, by its pid and by the engine's path it
  // stands in for.
  expect_pod_refusal(b, app("readonly", {{"ipc", proc + "ipc"}}), "r7",
                     "the namespace of container \"sb2\" in tier 'untrusted'; a container of tier 'readonly' may not join it");
  expect_pod_refusal(b, app("readonly", {{"network", netns.path.string()}}), "r8", "in tier 'untrusted'");
  // Not the engine's namespace: a plain file, a symbolic link to the
  // host's, the host's bound there, a path elsewhere.
  std::ofstream("/run/netns/tbx-plain") << "x";
  fs::create_symlink("/proc/1/ns/net", "/run/netns/tbx-link");
  std::ofstream("/run/netns/tbx-host");
  // (The test's own network namespace is the host's.)
  BOOST_REQUIRE_MESSAGE(::mount("/proc/self/ns/net", "/run/netns/tbx-host", nullptr, MS_BIND, nullptr) == 0,
                        "mount(/proc/self/ns/net, MS_BIND): " << std::strerror(errno));
  expect_pod_refusal(b, app("untrusted", {{"network", "/run/netns/tbx-plain"}}), "r9", "not a namespace");
  expect_pod_refusal(b, app("untrusted", {{"network", "/run/netns/tbx-link"}}), "r10", "a symbolic link");
  expect_pod_refusal(b, app("untrusted", {{"network", "/run/netns/tbx-host"}}), "r11", "the host's network namespace");
  expect_pod_refusal(b, app("untrusted", {{"network", "/tmp/netns"}}), "r12", "only a namespace of a container");
  // An allowlist tier's container never joins a pod of another tier by the
  // engine's path either (the pods of an allowlist tier:
  // test_oci_pod_network.cpp).
  expect_pod_refusal(b, app("networked", {{"network", netns.path.string()}}), "r13",
                     "in tier 'untrusted'; a container of tier 'networked' may not join it");
  ::umount2("/run/netns/tbx-host", MNT_DETACH);
  // Control: the same tier joins (the refusals above are about what they name).
  const auto ran = b.oci({"run", "--bundle", app("untrusted", {{"ipc", proc + "ipc"}, {"network", netns.path.string()}}).string(), "ok1"});
  BOOST_TEST(ran.status == 0, ran.err);
  BOOST_TEST(b.oci({"delete", "--force", "sb2"}).status == 0);
}

BOOST_AUTO_TEST_SUITE_END()

// pause and resume freeze and thaw the container's cgroups (the task stops
// appending to a file, then goes on: the control); state says paused; ps
// lists the pids in the container's cgroups; both audited with the container.
BOOST_AUTO_TEST_SUITE(oci_pause_ps)

BOOST_AUTO_TEST_CASE(pause_resume_and_ps) {
  REQUIRE_BUSYBOX();
  Bundle b(bundle_config({"sh", "-c", "while :; do echo x >> /tmp/ticks; sleep 0.05; done"}));
  DeleteAtEnd delete_p1{b, "p1"};
  (void)start_sandbox(b, "p1", b.bundle);
  const pid_t init = b.runtime_state("p1").at("sandbox_pid").get<int>();
  const auto ticks = "/proc/" + std::to_string(init) + "/root/tmp/ticks";
  const auto size_after = [&](int ms) {
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    std::error_code ec;
    return fs::file_size(ticks, ec);
  };
  BOOST_TEST(size_after(400) > 0u);

  const auto ps = b.oci({"ps", "--format", "json", "p1"});
  BOOST_REQUIRE_MESSAGE(ps.status == 0, ps.err);
  const auto pids = json::parse(ps.out);
  BOOST_TEST((std::find(pids.begin(), pids.end(), init) != pids.end()), ps.out);
  for (const auto& pid : pids) {  // each is in the sandbox's pid namespace or is its init
    std::error_code ec;
    const auto ns = fs::read_symlink("/proc/" + std::to_string(pid.get<int>()) + "/ns/pid", ec);
    BOOST_TEST((ns != fs::read_symlink("/proc/self/ns/pid")), pid.dump());
  }
  BOOST_TEST(contains(b.oci({"ps", "p1"}).out, "PID CMD"));

  const auto paused = b.oci({"pause", "p1"});
  BOOST_REQUIRE_MESSAGE(paused.status == 0, paused.err);
  BOOST_TEST(b.state("p1").at("status") == "paused");
  BOOST_TEST(b.state("p1").at("pid").get<int>() > 0);
  const auto frozen_at = size_after(200);
  BOOST_TEST(size_after(600) == frozen_at);
  // A second pause is refused: it is paused, not running.
  BOOST_TEST(contains(b.oci({"pause", "p1"}).err, "is paused (fix: pause only a running container)"));

  const auto resumed = b.oci({"resume", "p1"});
  BOOST_REQUIRE_MESSAGE(resumed.status == 0, resumed.err);
  BOOST_TEST(b.state("p1").at("status") == "running");
  BOOST_TEST(size_after(600) > frozen_at);  // the control: it runs again
  BOOST_TEST(contains(b.oci({"resume", "p1"}).err, "is running (fix: resume only a paused container)"));

  // Paused, then delete --force: thawed and killed, nothing left.
  BOOST_TEST(b.oci({"pause", "p1"}).status == 0);
  BOOST_TEST(b.oci({"delete", "--force", "p1"}).status == 0);
  BOOST_TEST(!fs::exists(b.root / "p1"));
  int pause_records = 0, resume_records = 0;
  for (const auto& record : b.audit_records()) {
    if (record.at("event") != "control" || !record.contains("container")) continue;
    BOOST_TEST(record.at("container").at("id") == "p1");
    if (record.at("action") == "pause") ++pause_records;
    if (record.at("action") == "resume") ++resume_records;
  }
  BOOST_TEST(pause_records == 2);
  BOOST_TEST(resume_records == 2);
}

BOOST_AUTO_TEST_SUITE_END()

// exec: the new process is the sandbox init's child, so it runs in the
// container's namespaces and cgroups with the task's restrictions; what
// asks for more is refused; each is audited.
BOOST_AUTO_TEST_SUITE(oci_exec)

BOOST_AUTO_TEST_CASE(exec_runs_inside_the_container_with_its_restrictions) {
  REQUIRE_BUSYBOX();
  auto config = bundle_config({"sleep", "600"});
  config["hostname"] = "exechost";
  Bundle b(config);
  DeleteAtEnd delete_e1{b, "e1"};
  (void)start_sandbox(b, "e1", b.bundle);
  const pid_t init = b.runtime_state("e1").at("sandbox_pid").get<int>();

  const auto ran = b.oci({"exec", "e1", "sh", "-c",
                          "echo host=$(hostname); echo uid=$(id -u); for ns in pid mnt net ipc; do echo "
                          "$ns=$(readlink /proc/self/ns/$ns); done; grep -E '^(Seccomp|NoNewPrivs|CapEff|CapBnd):' "
                          "/proc/self/status | tr -d '\\t' | tr ':' '='; echo procs=$(ls /proc | grep -c '^[0-9]'); exit 3"});
  BOOST_TEST(ran.status == 3, ran.err);  // its exit code passed through
  const auto& out = ran.out;
  BOOST_TEST(value_of(out, "host") == "exechost", out);
  for (const char* ns : {"pid", "mnt", "net", "ipc"})
    BOOST_TEST(inode_of_link(value_of(out, ns)) == namespace_inode(init, ns), out);
  // Control: the host's differ, so the checks above could fail.
  BOOST_TEST(namespace_inode(::getpid(), "pid") != namespace_inode(init, "pid"));
  BOOST_TEST(value_of(out, "uid") == "1000", out);
  BOOST_TEST(value_of(out, "Seccomp") == "2", out);
  BOOST_TEST(value_of(out, "NoNewPrivs") == "1", out);
  BOOST_TEST(value_of(out, "CapEff") == "0000000000000000", out);
  BOOST_TEST(value_of(out, "CapBnd") == "0000000000000000", out);
  // It sees the sandbox's few processes, not the host's.
  BOOST_TEST(std::stoi(value_of(out, "procs")) < 10, out);

  // In the container's cgroups: ps lists it while it runs (--detach).
  const auto pid_file = b.dir.path() / "exec.pid";
  const auto detached = b.oci_detached({"exec", "--detach", "--pid-file", pid_file.string(), "e1", "sleep", "77"});
  BOOST_REQUIRE_MESSAGE(detached.status == 0, detached.err);
  const int relay = std::stoi(Bundle::read_text(pid_file));
  bool listed = false;
  for (const auto& pid : json::parse(b.oci({"ps", "--format", "json", "e1"}).out)) {
    std::ifstream in("/proc/" + std::to_string(pid.get<int>()) + "/cmdline");
    std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (cmdline == std::string("sleep\0" "77\0", 9)) listed = true;
  }
  BOOST_TEST(listed);
  // The relay ends with the container (delete kills the tree).
  BOOST_TEST(b.oci({"delete", "--force", "e1"}).status == 0);
  for (int i = 0; i < 100 && process_exists(relay); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  BOOST_TEST(!process_exists(relay));

  int started = 0, ended = 0;
  for (const auto& record : b.audit_records()) {
    if (!record.contains("container") || record.at("container").at("id") != "e1") continue;
    if (record.at("event") == "exec" && record.at("outcome") == "started") ++started;
    if (record.at("event") == "exec_end") {
      ++ended;
      if (record.at("argv").at(0) == "sh") BOOST_TEST(record.at("exit").at("code") == 3);
    }
  }
  BOOST_TEST(started == 2);
  BOOST_TEST(ended == 2);
}

// exec --tty: a new pty, its master sent over --console-socket as for create.
BOOST_AUTO_TEST_CASE(exec_with_a_terminal_through_the_console_socket) {
  REQUIRE_BUSYBOX();
  Bundle b(bundle_config({"sleep", "600"}));
  DeleteAtEnd delete_e3{b, "e3"};
  (void)start_sandbox(b, "e3", b.bundle);
  const ConsoleSocket console_socket(b.dir.path() / "console.sock");
  // Without the socket, --tty is refused.
  BOOST_TEST(contains(b.oci({"exec", "--tty", "e3", "true"}).err, "--console-socket"));

  BackgroundRun run({"oci", "--root", b.root.string(), "--config-dir", b.config.string(), "exec", "--tty",
                     "--console-socket", console_socket.path().string(), "e3", "sh", "-c",
                     "test -t 0 && test -t 1 && echo on-a-terminal; echo tty_nr=$(cut -d' ' -f7 /proc/self/stat); exit 6"});
  const auto output = console_socket.accept().read_all();
  BOOST_TEST(run.wait() == 6);
  BOOST_TEST(contains(output, "on-a-terminal"), output);
  // Its controlling terminal (^C reaches it); a non-terminal exec has none
  // (the control: exec_runs_inside_the_container... runs without a pty).
  const auto tty_nr = value_of(output, "tty_nr");
  BOOST_TEST((!tty_nr.empty() && tty_nr.substr(0, 1) != "0"), output);
  const auto plain = b.oci({"exec", "e3", "sh", "-c", "echo tty_nr=$(cut -d' ' -f7 /proc/self/stat)"});
  BOOST_TEST(value_of(plain.out, "tty_nr") == "0", plain.out);
}

// Signals for the exec'd process reach it through the process that waits
// for it (containerd signals the pid in --pid-file): SIGTERM is passed on;
// that process killed (SIGKILL cannot be passed on) kills the exec'd one.
BOOST_AUTO_TEST_CASE(signals_to_the_waiting_process_reach_the_exec_process) {
  REQUIRE_BUSYBOX();
  Bundle b(bundle_config({"sleep", "600"}));
  DeleteAtEnd delete_e4{b, "e4"};
  (void)start_sandbox(b, "e4", b.bundle);
  const auto detached = [&](const std::string& name, const std::string& script) {
    const auto pid_file = b.dir.path() / (name + ".pid");
    const auto result = b.oci_detached({"exec", "--detach", "--pid-file", pid_file.string(), "e4", "sh", "-c", script});
    BOOST_REQUIRE_MESSAGE(result.status == 0, result.err);
    return static_cast<pid_t>(std::stoi(Bundle::read_text(pid_file)));
  };
  const auto gone = [&](pid_t pid) {
    for (int i = 0; i < 100 && process_exists(pid); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    return !process_exists(pid);
  };
  const auto running = [&](const std::string& cmdline) {
    for (const auto& pid : json::parse(b.oci({"ps", "--format", "json", "e4"}).out)) {
      std::ifstream in("/proc/" + std::to_string(pid.get<int>()) + "/cmdline");
      std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      if (text == cmdline) return true;
    }
    return false;
  };
  const pid_t trapping = detached("t", "trap \"exit 9\" TERM; while :; do sleep 0.1; done");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the trap is set
  BOOST_REQUIRE(::kill(trapping, SIGTERM) == 0);
  BOOST_TEST(gone(trapping));
  bool exited_9 = false;
  for (const auto& record : b.audit_records())
    if (record.at("event") == "exec_end" && record.at("exit").at("code") == 9) exited_9 = true;
  BOOST_TEST(exited_9);

  const pid_t sleeping = detached("s", "exec sleep 78");
  const std::string sleep_cmdline("sleep\0" "78\0", 9);
  for (int i = 0; i < 40 && !running(sleep_cmdline); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  BOOST_TEST(running(sleep_cmdline));  // the control
  BOOST_REQUIRE(::kill(sleeping, SIGKILL) == 0);
  BOOST_TEST(gone(sleeping));
  for (int i = 0; i < 40 && running(sleep_cmdline); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  BOOST_TEST(!running(sleep_cmdline));
}

// kill reaches the task's tree through init; exec'd processes (sessions of
// their own) only with --all, as runc's kill --all reaches every process.
BOOST_AUTO_TEST_CASE(kill_all_reaches_exec_processes) {
  REQUIRE_BUSYBOX();
  Bundle b(bundle_config({"sh", "-c", "trap '' TERM; while :; do sleep 0.2; done"}));
  DeleteAtEnd delete_e5{b, "e5"};
  (void)start_sandbox(b, "e5", b.bundle);
  const auto pid_file = b.dir.path() / "x.pid";
  BOOST_REQUIRE(b.oci_detached({"exec", "--detach", "--pid-file", pid_file.string(), "e5", "sleep", "79"}).status == 0);
  const auto running = [&] {
    for (const auto& pid : json::parse(b.oci({"ps", "--format", "json", "e5"}).out)) {
      std::ifstream in("/proc/" + std::to_string(pid.get<int>()) + "/cmdline");
      std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      if (text == std::string("sleep\0" "79\0", 9)) return true;
    }
    return false;
  };
  for (int i = 0; i < 40 && !running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  BOOST_TEST(b.oci({"kill", "e5", "TERM"}).status == 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  BOOST_TEST(running());  // the control: without --all, only the task's tree
  BOOST_TEST(b.state("e5").at("status") == "running");
  BOOST_TEST(b.oci({"kill", "--all", "e5", "TERM"}).status == 0);
  bool stopped = false;
  for (int i = 0; i < 40 && !(stopped = !running()); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  BOOST_TEST(stopped);
  BOOST_TEST(b.state("e5").at("status") == "running");  // the task ignores TERM
}

// The exec socket's server is the sandbox's init: a client that connects
// and sends nothing, or sends garbage, is refused without holding it (a
// later exec still runs; the container keeps running).
BOOST_AUTO_TEST_CASE(a_stuck_or_malformed_exec_client_does_not_hold_init) {
  REQUIRE_BUSYBOX();
  Bundle b(bundle_config({"sleep", "600"}));
  DeleteAtEnd delete_e6{b, "e6"};
  (void)start_sandbox(b, "e6", b.bundle);
  const auto connect_raw = [&] {
    UniqueFd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, (b.root / "e6" / "exec.sock").c_str(), sizeof address.sun_path - 1);
    BOOST_REQUIRE(::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    return fd;
  };
  const auto silent = connect_raw();  // never sends
  const auto garbage = connect_raw();
  BOOST_REQUIRE(::send(garbage.get(), "not a request", 13, 0) == 13);
  char reply[256] = {};
  BOOST_TEST(::recv(garbage.get(), reply, sizeof reply, 0) > 0);
  BOOST_TEST(contains(std::string(reply + 8, sizeof reply - 8), "malformed"));
  const auto started = std::chrono::steady_clock::now();
  const auto ran = b.oci({"exec", "e6", "echo", "still-served"});
  BOOST_TEST(ran.status == 0, ran.err);
  BOOST_TEST(contains(ran.out, "still-served"));
  BOOST_TEST((std::chrono::steady_clock::now() - started < std::chrono::seconds(10)));
  BOOST_TEST(b.state("e6").at("status") == "running");
}

BOOST_AUTO_TEST_CASE(exec_asking_for_more_is_refused) {
  REQUIRE_BUSYBOX();
  Bundle b(bundle_config({"sleep", "600"}));
  DeleteAtEnd delete_e2{b, "e2"};
  (void)start_sandbox(b, "e2", b.bundle);
  const auto refused = [&](std::vector<std::string> args, const std::string& line_part) {
    const auto result = b.oci(args);
    BOOST_TEST(result.status == 126, result.err);
    BOOST_TEST(contains(result.err, line_part), result.err);
    BOOST_TEST(!contains(result.out, "ran"), result.out);
  };
  refused({"exec", "--cap", "CAP_NET_ADMIN", "e2", "echo", "ran"}, "CAP_NET_ADMIN is an added capability");
  refused({"exec", "--cap", "SYS_ADMIN", "e2", "echo", "ran"}, "CAP_SYS_ADMIN: the process is privileged");
  refused({"exec", "--user", "0:5", "e2", "echo", "ran"}, "process.user.gid 5");
  refused({"exec", "--user", "4242", "e2", "echo", "ran"}, "process.user.uid 4242: tier 'untrusted' runs its tasks as uid 1000");
  // runc exec --process: the same rules on the file's process object.
  const auto process_file = b.dir.path() / "process.json";
  std::ofstream(process_file) << json{{"args", {"echo", "ran"}},
                                      {"cwd", "/"},
                                      {"env", {"PATH=/bin"}},
                                      {"capabilities", {{"bounding", {"CAP_SYS_PTRACE"}}}}}
                                     .dump();
  refused({"exec", "--process", process_file.string(), "e2"}, "CAP_SYS_PTRACE is an added capability");
  // Controls: the engines' default set is dropped, root means the task's
  // user; the same exec without the capability runs.
  const auto control = b.oci({"exec", "--cap", "CAP_KILL", "--user", "0:0", "e2", "echo", "ran"});
  BOOST_TEST(control.status == 0, control.err);
  BOOST_TEST(contains(control.out, "ran"), control.out);
  int refusals = 0;
  for (const auto& record : b.audit_records())
    if (record.at("event") == "exec" && record.at("outcome") == "refused") ++refusals;
  BOOST_TEST(refusals == 5);
  // Not into a container that is not running.
  BOOST_TEST(b.oci({"delete", "--force", "e2"}).status == 0);
  BOOST_TEST(contains(b.oci({"exec", "e2", "true"}).err, "does not exist"));
}

BOOST_AUTO_TEST_SUITE_END()

// The pod flow through containerd itself (started here with its own root,
// state and socket, as oci_engines does): `ctr run --with-ns` gives the
// namespace paths as the CRI does (the pod sandbox with the engine's network
// namespace; the application container with it and the sandbox task's
// /proc/PID/ns/ipc and uts, PID from `ctr task ls`); then `ctr task exec`,
// `pause`, `resume` and `ps` on the sandbox through containerd's runc shim.
BOOST_AUTO_TEST_SUITE(oci_ctr_pod)

BOOST_AUTO_TEST_CASE(containerd_runs_a_pod_with_tierbox_as_the_runc_binary) {
  REQUIRE_BUSYBOX();
  if (run_process({"/bin/sh", "-c", "command -v containerd && command -v ctr"}).status != 0) {
    BOOST_TEST_MESSAGE("skipped: containerd is not installed (apt-get install containerd; tools/install-deps.sh --test)");
    return;
  }
  Bundle b(bundle_config({"true"}));
  const auto base = b.dir.path().string();
  const auto wrapper = b.dir.path() / "tierbox-runc";
  std::ofstream(wrapper) << "#!/bin/sh\nexport TIERBOX_AUDIT_LOG='" << b.audit_log.string() << "'\nexec '" << kTierbox
                         << "' oci --config-dir '" << b.config.string() << "' \"$@\"\n";
  fs::permissions(wrapper, fs::perms::owner_all);
  std::ofstream(b.dir.path() / "containerd.toml") << "version = 2\ndisabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n";
  const std::string netns = "tbx-ctrpod-" + std::to_string(::getpid());
  const std::string ctr = "ctr -a " + base + "/c.sock";
  const auto run = [&](const std::string& flags) {
    return ctr + " run --runc-binary " + wrapper.string() + " " + flags + " --rootfs " + base + "/bundle/rootfs ";
  };
  // (Inside the script's double quotes: each $ escaped for the container's shell.)
  const std::string where =
      "for ns in net ipc uts pid; do echo \\$ns=\\$(readlink /proc/self/ns/\\$ns); done; "
      "echo interfaces=\\$(grep : /proc/net/dev | cut -d: -f1 | tr -d ' ' | tr '\\n' ' ')";
  SpawnOptions options;
  options.timeout = std::chrono::seconds(120);
  // In a private mount namespace with a tmpfs on /run/netns: the engine's
  // netns file and mount and containerd's mounts vanish with it.
  const auto script =
      "set -u; cd " + base + "; mkdir -p /run/netns && mount -t tmpfs -o size=64k tbx-ctrpod /run/netns || exit 1; "
      "containerd --root " + base + "/croot --state " + base + "/cstate --address " + base +
      "/c.sock --config " + base + "/containerd.toml >containerd.log 2>&1 & pid=$!; "
      "trap 'kill $pid 2>/dev/null; wait $pid' EXIT; "
      "for i in $(seq 100); do [ -S c.sock ] && break; sleep 0.1; done; "
      "ip netns add " + netns + " && ip -n " + netns + " link add tbxcni0 type veth peer name tbxcni1; " +
      run("-d --with-ns network:/run/netns/" + netns) + "tbx-pod-sb /bin/sleep 600 >sb.out 2>sb.err; echo $? >sb.status; "
      "P=$(" + ctr + " task ls | awk '$1==\"tbx-pod-sb\"{print $2}'); echo $P >sb.pid; " +
      run("--rm --with-ns network:/run/netns/" + netns + " --with-ns ipc:/proc/$P/ns/ipc --with-ns uts:/proc/$P/ns/uts") +
      "tbx-pod-app /bin/sh -c \"" + where + "\" >app.out 2>app.err; echo $? >app.status; " +
      ctr + " task exec --exec-id x1 tbx-pod-sb /bin/sh -c \"" + where + "; exit 4\" >exec.out 2>exec.err; echo $? >exec.status; " +
      ctr + " task pause tbx-pod-sb 2>pause.err; " + ctr + " task ls >paused.ls; " +
      ctr + " task resume tbx-pod-sb 2>resume.err; " + ctr + " task ls >resumed.ls; " +
      ctr + " task ps tbx-pod-sb >ps.out 2>ps.err; " +
      ctr + " task kill -s KILL tbx-pod-sb; sleep 1; " + ctr + " task rm tbx-pod-sb >/dev/null 2>&1; " +
      ctr + " containers rm tbx-pod-sb >/dev/null 2>&1; ip netns del " + netns + "; true";
  const auto result = run_process({"/usr/bin/unshare", "-m", "--propagation", "private", "/bin/sh", "-c", script}, options);
  BOOST_REQUIRE_MESSAGE(result.status == 0, result.err);
  const auto file = [&](const std::string& name) { return Bundle::read_text(b.dir.path() / name); };
  BOOST_REQUIRE_MESSAGE(file("sb.status") == "0\n", file("sb.err"));
  BOOST_TEST(file("app.status") == "0\n", file("app.err"));
  BOOST_TEST(file("exec.status") == "4\n", file("exec.err"));
  const auto app = file("app.out"), in_sandbox = file("exec.out");
  // The exec'd process is in the sandbox's namespaces; the app shares its
  // network, IPC and UTS ones, not its pid namespace; only loopback.
  for (const char* ns : {"net", "ipc", "uts"}) {
    BOOST_TEST(!value_of(app, ns).empty(), app);
    BOOST_TEST(value_of(app, ns) == value_of(in_sandbox, ns), app + in_sandbox);
  }
  BOOST_TEST(value_of(app, "pid") != value_of(in_sandbox, "pid"));
  BOOST_TEST(value_of(app, "interfaces") == "lo", app);
  BOOST_TEST(value_of(in_sandbox, "interfaces") == "lo", in_sandbox);
  BOOST_TEST(contains(file("paused.ls"), "PAUSED"), file("paused.ls") + file("pause.err"));
  BOOST_TEST(contains(file("resumed.ls"), "RUNNING"), file("resumed.ls") + file("resume.err"));
  // ctr task ps: a header and a line per pid in the sandbox's cgroups.
  const auto ps = file("ps.out");
  BOOST_TEST((contains(ps, "PID") && std::count(ps.begin(), ps.end(), '\n') >= 2), ps + file("ps.err"));
  bool exec_audited = false, pause_audited = false;
  for (const auto& record : b.audit_records()) {
    if (record.at("event") == "exec" && record.at("outcome") == "started") exec_audited = true;
    if (record.at("event") == "control" && record.value("action", "") == "pause") pause_audited = true;
  }
  BOOST_TEST(exec_audited);
  BOOST_TEST(pause_audited);
}

BOOST_AUTO_TEST_SUITE_END()
