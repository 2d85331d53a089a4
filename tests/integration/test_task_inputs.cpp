// What reaches a task besides its command: the environment (only the tier's
// allowlist, never an injection variable), secrets (only as read-only files
// of the task's uid), and fds (only 0, 1, 2 and those passed on purpose).
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include <set>

#include "integration/harness.h"

using namespace tierbox::testing;
using nlohmann::json;

namespace {

std::string test_profile(const std::string& name) { return std::string(kSourceDir) + "/tests/profiles/" + name; }

}  // namespace

BOOST_AUTO_TEST_SUITE(task_environment)

BOOST_AUTO_TEST_CASE(injection_variables_never_reach_the_task_whatever_the_allowlist) {
  // env-allow-all.json allows `--env` of every name ("*").
  for (const char* name : {"LD_PRELOAD", "PYTHONWARNINGS", "GIT_SSH_COMMAND", "GIT_CONFIG_COUNT", "NODE_OPTIONS",
                           "LESSOPEN", "OPENSSL_CONF", "BASH_ENV", "npm_config_script_shell"}) {
    auto result = run_tierbox({"run", "--profile", test_profile("env-allow-all.json"), "--env",
                               std::string(name) + "=x", "--", "/bin/true"});
    BOOST_TEST(result.status == 126, name << ": " << result.err);
    BOOST_TEST(result.err.find("never passed") != std::string::npos, result.err);
  }
  // Control: an ordinary name passes under the same tier.
  auto ordinary = run_tierbox({"run", "--profile", test_profile("env-allow-all.json"), "--env", "GREETING=hi", "--",
                               "/bin/sh", "-c", "echo $GREETING"});
  BOOST_TEST(ordinary.status == 0);
  BOOST_TEST(ordinary.out == "hi\n");
}

BOOST_AUTO_TEST_CASE(the_callers_environment_never_leaks) {
  Workspace workspace;
  SpawnOptions options;
  options.env = {"PATH=/usr/bin:/bin", "TERM=xterm", "PYTHONWARNINGS=ignore::evil.Module", "GIT_CONFIG_COUNT=1",
                 "GIT_CONFIG_KEY_0=core.fsmonitor", "GIT_CONFIG_VALUE_0=touch /tmp/pwned", "AWS_SECRET_ACCESS_KEY=x",
                 "BASH_FUNC_ls%%=() { echo pwned; }", "LD_AUDIT=/x.so"};
  auto result = run_tierbox({"run", "--tier", "untrusted", "--workspace", workspace.str(), "--", "./probe", "info"}, options);
  BOOST_REQUIRE(result.status == 0);
  const auto env = json::parse(result.out)["env"];  // a copy: the parsed document is a temporary
  std::set<std::string> names;
  for (const auto& [name, value] : env.items()) names.insert(name);
  BOOST_TEST((names == std::set<std::string>{"HOME", "LANG", "PATH", "TERM", "TMPDIR", "USER"}), env.dump());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(task_secrets)

BOOST_AUTO_TEST_CASE(secrets_are_read_only_files_of_the_task_user_and_nowhere_else) {
  TempDir host;
  const auto token = host.write("token", "s3cr3t-token-value");
  int pipe_fds[2];
  BOOST_REQUIRE(::pipe(pipe_fds) == 0);
  BOOST_REQUIRE(::write(pipe_fds[1], "from-a-pipe", 11) == 11);
  ::close(pipe_fds[1]);
  SpawnOptions options;
  options.inherit_fds = {{pipe_fds[0], 5}};
  auto result = run_tierbox({"run", "--profile", test_profile("secrets.json"), "--secret", "token=@" + token.string(),
                             "--secret", "other.key=fd:5", "--", "/bin/sh", "-c",
                             "cat /run/secrets/token; echo; cat /run/secrets/other.key; echo;"
                             "stat -c '%a %u %g %n' /run/secrets /run/secrets/token /run/secrets/other.key;"
                             "(echo x > /run/secrets/token) 2>/dev/null || echo cannot-overwrite;"
                             "touch /run/secrets/new 2>/dev/null || echo cannot-create;"
                             "env | grep -c s3cr3t; grep -c s3cr3t /proc/self/environ; true"},
                            options);
  ::close(pipe_fds[0]);
  BOOST_TEST(result.status == 0, result.err);
  BOOST_TEST(result.out == "s3cr3t-token-value\nfrom-a-pipe\n"
                           "500 1000 1000 /run/secrets\n400 1000 1000 /run/secrets/token\n400 1000 1000 /run/secrets/other.key\n"
                           "cannot-overwrite\ncannot-create\n0\n0\n",
             result.out);
}

BOOST_AUTO_TEST_CASE(another_uid_on_the_host_cannot_read_them) {
  TempDir host;
  const auto token = host.write("token", "s3cr3t-token-value");
  BackgroundRun run({"run", "-v", "--profile", test_profile("secrets.json"), "--secret", "token=@" + token.string(),
                     "--", "/bin/sh", "-c", "echo task-is-up >&2; sleep 30"});
  auto sandbox = sandbox_pid_from(run.wait_for_line("sandbox init is host pid"));
  BOOST_REQUIRE(sandbox.has_value());
  BOOST_REQUIRE(!run.wait_for_line("task-is-up").empty());
  const std::string path = "/proc/" + std::to_string(*sandbox) + "/root/run/secrets/token";
  // Control: the host's root reaches the file through the sandbox's root.
  struct stat st {};
  BOOST_REQUIRE_MESSAGE(::stat(path.c_str(), &st) == 0, path);
  BOOST_TEST((st.st_mode & 07777) == 0400u);
  BOOST_TEST(st.st_uid >= 0x70000000u, "the file's host owner is the run's own uid, got " << st.st_uid);
  // Another unprivileged uid cannot open it.
  const pid_t child = ::fork();
  if (child == 0) {
    if (::setresgid(65534, 65534, 65534) != 0 || ::setresuid(65534, 65534, 65534) != 0) ::_exit(2);
    ::_exit(::open(path.c_str(), O_RDONLY) < 0 && (errno == EACCES || errno == EPERM) ? 0 : 1);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  BOOST_TEST((WIFEXITED(status) && WEXITSTATUS(status) == 0), "uid 65534 could read the secret");
  run.signal(SIGTERM);
  run.wait();
}

BOOST_AUTO_TEST_CASE(secrets_the_tier_does_not_name_or_does_not_get_are_refused) {
  TempDir host;
  const auto token = host.write("token", "x");
  auto missing = run_tierbox({"run", "--profile", test_profile("secrets.json"), "--", "/bin/true"});
  BOOST_TEST(missing.status == 126);
  BOOST_TEST(missing.err.find("requires the secret 'token' (secrets.required") != std::string::npos, missing.err);
  auto unknown = run_tierbox({"run", "--profile", test_profile("secrets.json"), "--secret", "token=@" + token.string(),
                              "--secret", "aws=@" + token.string(), "--", "/bin/true"});
  BOOST_TEST(unknown.status == 126);
  BOOST_TEST(unknown.err.find("--secret aws: tier 'secrets' does not take it (secrets.names)") != std::string::npos, unknown.err);
  auto untrusted = run_tierbox({"run", "--tier", "untrusted", "--secret", "token=@" + token.string(), "--", "/bin/true"});
  BOOST_TEST(untrusted.status == 126);
  auto inline_value = run_tierbox({"run", "--profile", test_profile("secrets.json"), "--secret", "token=hunter2", "--", "/bin/true"});
  BOOST_TEST(inline_value.status == 125);
  BOOST_TEST(inline_value.err.find("never taken from the command line") != std::string::npos, inline_value.err);
  BOOST_TEST(line_count(without_landlock_warnings(inline_value.err)) == 1);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(task_fds)

BOOST_AUTO_TEST_CASE(only_stdio_and_the_fds_passed_on_purpose_reach_the_task) {
  int out[2];
  BOOST_REQUIRE(::pipe(out) == 0);
  const int leaked = ::open("/", O_RDONLY | O_DIRECTORY);  // not O_CLOEXEC: an accidental leak
  BOOST_REQUIRE(leaked >= 0);
  Workspace workspace;
  SpawnOptions options;
  options.inherit_fds = {{out[1], 7}, {leaked, 9}};
  auto result = run_tierbox({"run", "--profile", test_profile("pass-fds.json"), "--workspace", workspace.str(),
                             "--pass-fd", "7", "--", "./probe", "info"},
                            options);
  ::close(out[1]);
  ::close(leaked);
  BOOST_REQUIRE_MESSAGE(result.status == 0, result.err);
  const auto report = json::parse(result.out);
  std::set<int> fds;
  for (const auto& fd : report["fds"]) fds.insert(fd["fd"].get<int>());
  BOOST_TEST((fds == std::set<int>{0, 1, 2, 7}), report["fds"].dump());
  ::close(out[0]);
}

BOOST_AUTO_TEST_CASE(a_passed_fd_carries_data_to_the_caller) {
  int out[2];
  BOOST_REQUIRE(::pipe(out) == 0);
  SpawnOptions options;
  options.inherit_fds = {{out[1], 7}};
  auto result = run_tierbox({"run", "--profile", test_profile("pass-fds.json"), "--pass-fd", "7", "--", "/bin/sh",
                             "-c", "echo through-fd-7 >&7"},
                            options);
  ::close(out[1]);
  BOOST_TEST(result.status == 0, result.err);
  char buffer[64] = {};
  BOOST_TEST(::read(out[0], buffer, sizeof buffer - 1) > 0);
  ::close(out[0]);
  BOOST_TEST(std::string(buffer) == "through-fd-7\n");
}

// --pass-fd N names an fd of the caller's. A number the caller left free
// may be one tierbox opened itself (close-on-exec, as all of its own are):
// here the --result file, which the task must not get to write.
BOOST_AUTO_TEST_CASE(an_fd_tierbox_opened_itself_is_never_passed) {
  TempDir dir;
  const auto result_file = (dir.path() / "result.json").string();
  const std::vector<std::string> run = {"run", "--profile", test_profile("pass-fds.json"), "--result", result_file,
                                        "--pass-fd", "3", "--", "/bin/sh", "-c", "echo into-3 >&3"};
  // The caller has nothing at 3 (a shell closes what the test runner may
  // have left open there, as ctest does): the result file takes 3.
  std::vector<std::string> closing = {"/bin/sh", "-c", "exec 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&-; exec \"$0\" \"$@\"",
                                      kTierbox};
  closing.insert(closing.end(), run.begin(), run.end());
  const auto own = run_process(closing);
  BOOST_TEST(own.status == 125, own.err);
  BOOST_TEST(own.err.find("--pass-fd 3: not a file descriptor the caller passed (it is tierbox's own") != std::string::npos,
             own.err);
  BOOST_TEST(line_count(own.err) == 1, own.err);
  // Control: the caller's own fd 3 is passed (the result file takes another).
  int out[2];
  BOOST_REQUIRE(::pipe(out) == 0);
  SpawnOptions options;
  options.inherit_fds = {{out[1], 3}};
  const auto passed = run_tierbox(run, options);
  ::close(out[1]);
  BOOST_TEST(passed.status == 0, passed.err);
  BOOST_TEST(read_until_eof(out[0]) == "into-3\n");
  ::close(out[0]);
}

BOOST_AUTO_TEST_CASE(passing_is_refused_unless_the_tier_allows_it_and_never_for_a_directory) {
  const int directory = ::open("/", O_RDONLY | O_DIRECTORY);
  const int path_only = ::open("/tmp", O_PATH);
  const int file = ::open("/dev/null", O_RDONLY);
  SpawnOptions options;
  options.inherit_fds = {{directory, 7}, {path_only, 8}, {file, 9}};
  auto untrusted = run_tierbox({"run", "--tier", "untrusted", "--pass-fd", "9", "--", "/bin/true"}, options);
  BOOST_TEST(untrusted.status == 126);
  BOOST_TEST(untrusted.err.find("allows passing 0 file descriptors (pass_fds)") != std::string::npos, untrusted.err);
  for (const char* fd : {"7", "8"}) {
    auto result = run_tierbox({"run", "--profile", test_profile("pass-fds.json"), "--pass-fd", fd, "--", "/bin/true"}, options);
    BOOST_TEST(result.status == 126, fd << ": " << result.err);
    BOOST_TEST(result.err.find("directory (or O_PATH) fd") != std::string::npos, result.err);
  }
  auto stdio = run_tierbox({"run", "--profile", test_profile("pass-fds.json"), "--pass-fd", "1", "--", "/bin/true"}, options);
  BOOST_TEST(stdio.status == 126);
  auto closed = run_tierbox({"run", "--profile", test_profile("pass-fds.json"), "--pass-fd", "42", "--", "/bin/true"}, options);
  BOOST_TEST(closed.status == 125);
  auto too_many = run_tierbox({"run", "--profile", test_profile("pass-fds.json"), "--pass-fd", "9", "--pass-fd", "9",
                               "--", "/bin/true"}, options);
  BOOST_TEST(too_many.status == 126);
  for (int fd : {directory, path_only, file}) ::close(fd);
}

BOOST_AUTO_TEST_SUITE_END()
