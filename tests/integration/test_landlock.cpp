// Landlock on this kernel: the child-side stage applied for real in a forked
// child of the test, each attempt made for real after it and compared with a
// control child without it; and, through real sandboxes, what it adds to the
// mount namespace.
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include <functional>

#include "common/errors.h"
#include "common/temp_dir.h"
#include "integration/harness.h"
#include "policy/host_facts.h"
#include "policy/landlock_rules.h"
#include "stages/landlock.h"
#include "stages/loopback.h"

using namespace tierbox;
using namespace tierbox::policy;
using namespace tierbox::testing;
using Use = LandlockPathInput::Use;
using Attempt = std::function<int()>;
using nlohmann::json;

namespace {

// Runs setup, then (with a plan) apply_landlock, then each attempt, in a
// child process; returns the errno name of each attempt ("ok" for none), or
// one "setup failed: ..." / "landlock failed: ..." entry.
std::vector<std::string> run_confined(const LandlockPlan* plan, const std::vector<Attempt>& attempts,
                                      const std::function<bool()>& setup = [] { return true; }) {
  int fds[2];
  BOOST_REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
  const pid_t child = ::fork();
  if (child == 0) {
    ::close(fds[0]);
    stages::ChildFailure failure;
    char line[320];
    if (!setup()) {
      const int n = std::snprintf(line, sizeof line, "setup failed: %s\n", strerrorname_np(errno));
      (void)!::write(fds[1], line, static_cast<std::size_t>(n));
      ::_exit(1);
    }
    if (plan && !stages::apply_landlock(*plan, failure)) {
      const int n = std::snprintf(line, sizeof line, "landlock failed: %s: %s\n", failure.detail, strerrorname_np(failure.err));
      (void)!::write(fds[1], line, static_cast<std::size_t>(n));
      ::_exit(1);
    }
    for (const auto& attempt : attempts) {
      const int err = attempt();
      const int n = std::snprintf(line, sizeof line, "%s\n", err == 0 ? "ok" : strerrorname_np(err));
      (void)!::write(fds[1], line, static_cast<std::size_t>(n));
    }
    ::_exit(0);
  }
  ::close(fds[1]);
  const std::string text = read_until_eof(fds[0]);
  ::close(fds[0]);
  ::waitpid(child, nullptr, 0);
  std::vector<std::string> results;
  for (std::size_t start = 0, end; (end = text.find('\n', start)) != std::string::npos; start = end + 1)
    results.push_back(text.substr(start, end - start));
  return results;
}

int result_of(long rc) { return rc < 0 ? errno : 0; }

Attempt create_file(std::string path) {
  return [path] {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd >= 0) ::close(fd);
    return result_of(fd);
  };
}

Attempt open_path(std::string path, int flags) {
  return [path, flags] {
    const int fd = ::open(path.c_str(), flags | O_CLOEXEC);
    if (fd >= 0) ::close(fd);
    return result_of(fd);
  };
}

// Skips the rest of a test (with a printed reason) on a kernel below abi.
bool kernel_has_abi(int abi) {
  const int kernel = kernel_landlock_abi();
  if (kernel >= abi) return true;
  BOOST_TEST_MESSAGE("skipped: this kernel has Landlock ABI " << kernel << ", the test needs " << abi);
  return false;
}

int tcp_socket() { return ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0); }

sockaddr_in loopback(int port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return address;
}

Attempt connect_to(int port) {
  return [port] {
    const int fd = tcp_socket();
    auto address = loopback(port);
    const int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
    const int err = rc < 0 ? errno : 0;
    ::close(fd);
    return err;
  };
}

Attempt bind_to(int port) {
  return [port] {
    const int fd = tcp_socket();
    auto address = loopback(port);
    const int rc = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
    const int err = rc < 0 ? errno : 0;
    ::close(fd);
    return err;
  };
}

// In the child, before Landlock: a network namespace of its own (nothing on
// the host is touched), lo up, listeners on 20001 and 20002. The ports lie
// below a new namespace's ephemeral range (32768-60999): with ports inside
// it, a connect attempt's own source port could be the one a later bind
// attempt asks for, still in TIME_WAIT (EADDRINUSE, seen once in ~50 runs).
bool private_loopback_with_listeners() {
  if (::unshare(CLONE_NEWNET) != 0) return false;
  stages::ChildFailure failure;
  if (!stages::bring_up_loopback(failure)) return false;
  for (int port : {20001, 20002}) {
    const int fd = tcp_socket();
    auto address = loopback(port);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 || ::listen(fd, 4) != 0) return false;
  }
  return true;
}

sockaddr_un abstract_address(const std::string& name, socklen_t& length) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path + 1, name.data(), name.size());
  length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  return address;
}

std::string test_profile(const std::string& name) { return std::string(kSourceDir) + "/tests/profiles/" + name; }

}  // namespace

BOOST_AUTO_TEST_SUITE(landlock_stage)

BOOST_AUTO_TEST_CASE(only_the_planned_paths_are_reachable_and_only_as_planned) {
  if (!kernel_has_abi(1)) return;
  TempDir dir;
  const auto base = dir.str();
  dir.write("ro/file", "read me");
  dir.write("hidden/file", "never");
  std::filesystem::create_directories(dir.path() / "rw");
  const auto plan = make_landlock_plan({LandlockMode::best_effort, 0}, kernel_landlock_abi(),
                                       {{base + "/rw", Use::write}, {base + "/ro", Use::read_execute}}, std::nullopt, "t");
  const std::vector<Attempt> attempts = {
      create_file(base + "/rw/new"),
      create_file(base + "/ro/new"),
      open_path(base + "/ro/file", O_RDONLY),
      open_path(base + "/ro/file", O_WRONLY),
      open_path(base + "/hidden/file", O_RDONLY),
      open_path(base + "/hidden", O_RDONLY | O_DIRECTORY),
      open_path("/etc/hostname", O_RDONLY),
  };
  const auto confined = run_confined(&plan, attempts);
  const std::vector<std::string> expected = {"ok", "EACCES", "ok", "EACCES", "EACCES", "EACCES", "EACCES"};
  BOOST_TEST(confined == expected, boost::test_tools::per_element());
  // Control: the same attempts without Landlock all succeed.
  std::filesystem::remove(dir.path() / "rw/new");
  const auto control = run_confined(nullptr, attempts);
  BOOST_TEST(control == std::vector<std::string>(attempts.size(), "ok"), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_missing_path_fails_unless_it_is_optional) {
  if (!kernel_has_abi(1)) return;
  TempDir dir;
  const auto abi = kernel_landlock_abi();
  const auto required = make_landlock_plan({LandlockMode::best_effort, 0}, abi,
                                           {{dir.str() + "/absent", Use::read}}, std::nullopt, "t");
  const auto failed = run_confined(&required, {});
  BOOST_REQUIRE_EQUAL(failed.size(), 1u);
  BOOST_TEST(failed[0].find("landlock failed") == 0u, failed[0]);
  BOOST_TEST(failed[0].find(dir.str() + "/absent") != std::string::npos, failed[0]);
  BOOST_TEST(failed[0].find("ENOENT") != std::string::npos, failed[0]);
  const auto optional = make_landlock_plan({LandlockMode::best_effort, 0}, abi,
                                           {{dir.str() + "/absent", Use::read, true}}, std::nullopt, "t");
  BOOST_TEST(run_confined(&optional, {[] { return 0; }}) == std::vector<std::string>{"ok"});
}

BOOST_AUTO_TEST_CASE(tcp_bind_and_connect_only_to_allowed_ports) {
  if (!kernel_has_abi(4)) return;
  const auto plan = make_landlock_plan({LandlockMode::best_effort, 0}, kernel_landlock_abi(), {},
                                       LandlockTcpPorts{{20003}, {20001}}, "t");
  const std::vector<Attempt> attempts = {connect_to(20001), connect_to(20002), bind_to(20003), bind_to(20004)};
  const auto confined = run_confined(&plan, attempts, private_loopback_with_listeners);
  BOOST_TEST(confined == (std::vector<std::string>{"ok", "EACCES", "ok", "EACCES"}), boost::test_tools::per_element());
  const auto control = run_confined(nullptr, attempts, private_loopback_with_listeners);
  BOOST_TEST(control == std::vector<std::string>(4, "ok"), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(abstract_unix_sockets_and_signals_are_scoped_to_the_sandbox) {
  if (!kernel_has_abi(6)) return;
  // Outside the domain: an abstract socket and a process, both the test's own.
  const std::string name = "tierbox-landlock-test-" + std::to_string(::getpid());
  const int server = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  socklen_t length = 0;
  auto address = abstract_address(name, length);
  BOOST_REQUIRE(::bind(server, reinterpret_cast<sockaddr*>(&address), length) == 0);
  BOOST_REQUIRE(::listen(server, 4) == 0);
  const pid_t outsider = ::fork();
  if (outsider == 0) {
    ::pause();
    ::_exit(0);
  }
  const auto plan = make_landlock_plan({LandlockMode::best_effort, 0}, kernel_landlock_abi(), {}, std::nullopt, "t");
  const std::vector<Attempt> attempts = {
      [&] {
        const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        const int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&address), length);
        const int err = rc < 0 ? errno : 0;
        ::close(fd);
        return err;
      },
      [&] { return result_of(::kill(outsider, SIGCONT)); },  // harmless: it is not stopped
  };
  const auto confined = run_confined(&plan, attempts);
  BOOST_TEST(confined == (std::vector<std::string>{"EPERM", "EPERM"}), boost::test_tools::per_element());
  const auto control = run_confined(nullptr, attempts);
  BOOST_TEST(control == (std::vector<std::string>{"ok", "ok"}), boost::test_tools::per_element());
  ::kill(outsider, SIGKILL);
  ::waitpid(outsider, nullptr, 0);
  ::close(server);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(landlock_sandbox)

// Runs the probe with host fds 7 (a host file opened for appending) and 8
// (the same file read-only) passed in: a way to a host path the mount
// namespace alone does not close, since /proc/self/fd/N reopens the file.
namespace {

json probe_with_host_fds(const std::string& profile, const std::vector<std::string>& probe_args) {
  TempDir host("tierbox-host");  // on the host's /tmp, outside the sandbox's tmpfs
  const auto file = host.write("host-file", "host data\n");
  BOOST_REQUIRE(::chmod(file.c_str(), 0666) == 0);  // so only Landlock can stop the task
  const int append = ::open(file.c_str(), O_WRONLY | O_APPEND);
  const int read_only = ::open(file.c_str(), O_RDONLY);
  BOOST_REQUIRE(append >= 0 && read_only >= 0);
  Workspace workspace;
  SpawnOptions options;
  options.inherit_fds = {{append, 7}, {read_only, 8}};
  std::vector<std::string> args = {"run", "--profile", test_profile(profile), "--workspace", workspace.str(),
                                   "--pass-fd", "7", "--pass-fd", "8", "--", "./probe"};
  args.insert(args.end(), probe_args.begin(), probe_args.end());
  auto result = run_tierbox(args, options);
  ::close(append);
  ::close(read_only);
  BOOST_REQUIRE_MESSAGE(result.status == 0, result.err);
  return json::parse(result.out);
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_host_path_reached_through_a_passed_fd_is_still_refused) {
  if (!kernel_has_abi(kLandlockFullAbi)) return;
  // Reading a host file, writing one in the host's /tmp (outside the
  // sandbox's own /tmp tmpfs), through /proc/self/fd.
  auto reads = probe_with_host_fds("pass-fds.json", {"read", "/proc/self/fd/7", "/tmp", "/workspace/probe"});
  BOOST_TEST(reads["/proc/self/fd/7"]["result"] == "EACCES", reads.dump());
  BOOST_TEST(reads["/workspace/probe"]["result"] == "ok");  // what the plan mounts stays readable
  auto writes = probe_with_host_fds("pass-fds.json", {"write", "/proc/self/fd/8", "/tmp", "/workspace"});
  BOOST_TEST(writes["/proc/self/fd/8"] == "EACCES", writes.dump());
  BOOST_TEST(writes["/tmp"] == "ok");          // the sandbox's own tmpfs
  BOOST_TEST(writes["/workspace"] == "EROFS");  // read-only in this tier
  // Control: the same tier without Landlock lets both through.
  auto control_read = probe_with_host_fds("pass-fds-landlock-off.json", {"read", "/proc/self/fd/7"});
  BOOST_TEST(control_read["/proc/self/fd/7"]["result"] == "ok", control_read.dump());
  auto control_write = probe_with_host_fds("pass-fds-landlock-off.json", {"write", "/proc/self/fd/8"});
  BOOST_TEST(control_write["/proc/self/fd/8"] == "ok", control_write.dump());
}

BOOST_AUTO_TEST_CASE(the_workspace_is_writable_where_the_tier_says_and_nothing_else_is) {
  if (!kernel_has_abi(1)) return;
  Workspace workspace;
  auto writes = probe_in(workspace, {"--tier", "workspace-write"},
                         {"write", "/workspace", "/tmp", "/dev/shm", "/dev/null", "/proc/self/comm", "/", "/etc", "/usr"});
  for (const char* path : {"/workspace", "/tmp", "/dev/shm", "/dev/null", "/proc/self/comm"})
    BOOST_TEST(writes[path] == "ok", path << ": " << writes[path]);
  for (const char* path : {"/", "/etc", "/usr"}) BOOST_TEST(writes[path] != "ok", path);
}

BOOST_AUTO_TEST_CASE(verbose_reports_the_abi_and_the_rules) {
  // The default tier asks for ABI 1 at least and uses all the kernel has.
  auto result = run_tierbox({"run", "-v", "--tier", "untrusted", "--", "/bin/true"});
  const int abi = kernel_landlock_abi();
  if (abi < 1) {
    BOOST_TEST(result.status == 125, result.err);
    BOOST_TEST(result.err.find("has no Landlock") != std::string::npos, result.err);
    return;
  }
  BOOST_TEST(result.status == 0, result.err);
  BOOST_TEST(result.err.find("landlock: ABI " + std::to_string(abi) + " ({\"minimum_abi\": 1})") != std::string::npos,
             result.err);
  BOOST_TEST(result.err.find("child: Landlock done") != std::string::npos, result.err);
  // Below the newest ABI each missing restriction is named; at it, none is.
  const bool warned = result.err.find("this kernel cannot enforce") != std::string::npos;
  BOOST_TEST(warned == (abi < kLandlockFullAbi), result.err);
  if (abi < 6) BOOST_TEST(result.err.find("scoping of abstract unix sockets and signals") != std::string::npos, result.err);
  auto off = run_tierbox({"run", "-v", "--profile", test_profile("landlock-off.json"), "--", "/bin/true"});
  BOOST_TEST(off.status == 0, off.err);
  BOOST_TEST(off.err.find("landlock: not applied (off)") != std::string::npos, off.err);
  BOOST_TEST(off.err.find("warning") == std::string::npos, off.err);
}

BOOST_AUTO_TEST_CASE(a_tier_whose_minimum_the_kernel_lacks_is_refused_in_one_line) {
  auto result = run_tierbox({"run", "--profile", test_profile("landlock-required.json"), "--", "/bin/true"});
  if (kernel_landlock_abi() >= kLandlockFullAbi) {
    // Control: a kernel with every restriction runs it.
    BOOST_TEST(result.status == 0, result.err);
    BOOST_TEST_MESSAGE("this kernel has every Landlock ABI: the refusal itself is shown on older kernels (tools/vm)");
    return;
  }
  BOOST_TEST(result.status == 125, result.err);
  BOOST_TEST(result.err.find("requires Landlock (\"landlock\": \"required\")") != std::string::npos, result.err);
  BOOST_TEST(std::count(result.err.begin(), result.err.end(), '\n') == 1, result.err);
}

BOOST_AUTO_TEST_SUITE_END()
