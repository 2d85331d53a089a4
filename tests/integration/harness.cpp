#include "integration/harness.h"

#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <sstream>
#include <filesystem>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace tierbox::testing {

const char* const kTierbox = TIERBOX_BINARY;
const char* const kProbe = TIERBOX_PROBE;
const char* const kSourceDir = TIERBOX_SOURCE_DIR;

namespace {

// A child that exits before reading its stdin must not kill the test run.
const bool kIgnoreSigpipe = [] { return ::signal(SIGPIPE, SIG_IGN) != SIG_ERR; }();

int decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

std::vector<char*> c_strings(const std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  for (const auto& text : strings) pointers.push_back(const_cast<char*>(text.c_str()));
  pointers.push_back(nullptr);
  return pointers;
}

void make_pipe(int fds[2]) {
  if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
}

}  // namespace

ProcessResult run_process(const std::vector<std::string>& argv, const SpawnOptions& options) {
  int in[2], out[2], err[2];
  make_pipe(in);
  make_pipe(out);
  make_pipe(err);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err[1], 2);
  for (const auto& [from, to] : options.inherit_fds) posix_spawn_file_actions_adddup2(&actions, from, to);
  auto args = c_strings(argv);
  // A replaced environment keeps the test process's audit log and approval
  // matrix (main.cpp) unless it names its own, and the launch path the
  // integration.prepared_* variants choose (docs/testing.md).
  auto env_strings = options.env;
  for (const char* name : {"TIERBOX_AUDIT_LOG", "TIERBOX_CONFIG_DIR", "TIERBOX_TEST_PREPARED_LAUNCH"}) {
    const std::string prefix = std::string(name) + "=";
    const bool named = std::any_of(env_strings.begin(), env_strings.end(),
                                   [&](const std::string& entry) { return entry.rfind(prefix, 0) == 0; });
    if (const char* value = std::getenv(name); value && !named && !env_strings.empty()) env_strings.push_back(prefix + value);
  }
  auto env = c_strings(env_strings);
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, args[0], &actions, nullptr, args.data(), options.env.empty() ? environ : env.data());
  posix_spawn_file_actions_destroy(&actions);
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  if (rc != 0) throw std::runtime_error("posix_spawn " + argv[0] + " failed");

  ProcessResult result;
  std::size_t stdin_written = 0;
  int stdin_fd = in[1];
  if (options.stdin_data.empty()) {
    ::close(stdin_fd);
    stdin_fd = -1;
  }
  int streams[2] = {out[0], err[0]};
  const auto deadline = std::chrono::steady_clock::now() + options.timeout;
  while (streams[0] >= 0 || streams[1] >= 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      result.timed_out = true;
      ::kill(pid, SIGKILL);
      break;
    }
    // poll() ignores negative fds: closed streams simply drop out.
    struct pollfd fds[3] = {{streams[0], POLLIN, 0}, {streams[1], POLLIN, 0}, {stdin_fd, POLLOUT, 0}};
    if (::poll(fds, 3, static_cast<int>(left.count())) < 0) continue;
    char buffer[65536];
    for (int i = 0; i < 2; ++i) {
      if (streams[i] < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = ::read(streams[i], buffer, sizeof buffer);
      if (n > 0) {
        (i == 0 ? result.out : result.err).append(buffer, static_cast<std::size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        ::close(streams[i]);
        streams[i] = -1;
      }
    }
    if (stdin_fd >= 0 && (fds[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
      ssize_t n = ::write(stdin_fd, options.stdin_data.data() + stdin_written, options.stdin_data.size() - stdin_written);
      if (n > 0) stdin_written += static_cast<std::size_t>(n);
      if (n < 0 || stdin_written == options.stdin_data.size()) {
        ::close(stdin_fd);
        stdin_fd = -1;
      }
    }
  }
  for (int fd : {streams[0], streams[1], stdin_fd})
    if (fd >= 0) ::close(fd);
  int status = 0;
  ::waitpid(pid, &status, 0);
  result.status = decode_status(status);
  return result;
}

ProcessResult run_account_tool(const std::vector<std::string>& argv) {
  ProcessResult result;
  for (int attempt = 0; attempt < 50; ++attempt) {
    result = run_process(argv);
    if (result.status == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return result;
}

ProcessResult run_tierbox(const std::vector<std::string>& args, const SpawnOptions& options) {
  std::vector<std::string> argv = {kTierbox};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_process(argv, options);
}

ProcessResult run_in_pty(const std::vector<std::string>& argv, std::string reply_after, const std::string& reply) {
  int master = -1;
  auto args = c_strings(argv);
  pid_t pid = ::forkpty(&master, nullptr, nullptr, nullptr);
  if (pid < 0) throw std::runtime_error("forkpty failed");
  if (pid == 0) {
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ProcessResult result;
  char buffer[4096];
  while (true) {
    struct pollfd wait_for {master, POLLIN, 0};
    if (::poll(&wait_for, 1, 30000) <= 0) {
      result.timed_out = true;
      ::kill(pid, SIGKILL);
      break;
    }
    ssize_t n = ::read(master, buffer, sizeof buffer);
    if (n <= 0) break;  // EIO once the slave side is closed
    result.out.append(buffer, static_cast<std::size_t>(n));
    if (!reply_after.empty() && result.out.find(reply_after) != std::string::npos) {
      if (::write(master, reply.data(), reply.size()) != static_cast<ssize_t>(reply.size()))
        throw std::runtime_error("write to the pty failed");
      reply_after.clear();
    }
  }
  ::close(master);
  int status = 0;
  ::waitpid(pid, &status, 0);
  result.status = decode_status(status);
  return result;
}

Workspace::Workspace() : TempDir("tierbox-ws") {
  std::filesystem::copy_file(kProbe, path() / "probe");
  // The task reaches its workspace through an idmapping of the owner; the
  // directory must also be traversable for it like any checkout.
  std::filesystem::permissions(path(), std::filesystem::perms(0755));
}

nlohmann::json probe_in(const Workspace& workspace, const std::vector<std::string>& run_args,
                        const std::vector<std::string>& probe_args) {
  std::vector<std::string> args = {"run"};
  args.insert(args.end(), run_args.begin(), run_args.end());
  bool has_workspace = false;
  for (const auto& arg : run_args) has_workspace = has_workspace || arg == "--workspace";
  if (!has_workspace) {
    args.push_back("--workspace");
    args.push_back(workspace.str());
  }
  args.push_back("--");
  args.push_back("./probe");
  args.insert(args.end(), probe_args.begin(), probe_args.end());
  auto result = run_tierbox(args);
  BOOST_TEST_REQUIRE(result.status == 0, "tierbox exited " << result.status << ": " << result.err);
  try {
    return nlohmann::json::parse(result.out);
  } catch (const std::exception& error) {
    BOOST_FAIL("probe output is not JSON: " << result.out << " / " << result.err);
  }
  return {};
}

nlohmann::json probe(const std::vector<std::string>& run_args, const std::vector<std::string>& probe_args) {
  Workspace workspace;
  return probe_in(workspace, run_args, probe_args);
}

BackgroundRun::BackgroundRun(const std::vector<std::string>& args, const std::vector<std::string>& prefix) {
  int out[2], err[2];
  make_pipe(out);
  make_pipe(err);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err[1], 2);
  std::vector<std::string> argv = prefix;
  argv.push_back(kTierbox);
  argv.insert(argv.end(), args.begin(), args.end());
  auto c_args = c_strings(argv);
  int rc = ::posix_spawn(&pid_, c_args[0], &actions, nullptr, c_args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);
  ::close(err[1]);
  out_fd_ = out[0];
  err_fd_ = err[0];
  if (rc != 0) throw std::runtime_error("posix_spawn tierbox failed");
}

BackgroundRun::~BackgroundRun() {
  if (!reaped_) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  ::close(out_fd_);
  ::close(err_fd_);
}

std::string BackgroundRun::wait_for_line(const std::string& text, std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    std::size_t newline;
    while ((newline = err_buffer_.find('\n')) != std::string::npos) {
      std::string line = err_buffer_.substr(0, newline);
      err_buffer_.erase(0, newline + 1);
      err_passed_ += line + '\n';
      if (line.find(text) != std::string::npos) return line;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return "";
    struct pollfd wait_for {err_fd_, POLLIN, 0};
    if (::poll(&wait_for, 1, static_cast<int>(left.count())) <= 0) return "";
    char buffer[4096];
    ssize_t n = ::read(err_fd_, buffer, sizeof buffer);
    if (n <= 0) return "";
    err_buffer_.append(buffer, static_cast<std::size_t>(n));
  }
}

void BackgroundRun::signal(int signal_number) const { ::kill(pid_, signal_number); }

int BackgroundRun::wait(std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    pid_t done = ::waitpid(pid_, &status, WNOHANG);
    if (done == pid_) {
      reaped_ = true;
      return decode_status(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return -1;
}

std::string BackgroundRun::out() { return read_until_eof(out_fd_); }

std::optional<pid_t> sandbox_pid_from(const std::string& line) {
  const std::string marker = "host pid ";
  auto at = line.find(marker);
  if (at == std::string::npos) return std::nullopt;
  return static_cast<pid_t>(std::stol(line.substr(at + marker.size())));
}

std::string read_until_eof(int fd) {
  std::string text;
  char buffer[4096];
  ssize_t n;
  while ((n = ::read(fd, buffer, sizeof buffer)) > 0) text.append(buffer, static_cast<std::size_t>(n));
  return text;
}

bool process_exists(pid_t pid) { return ::kill(pid, 0) == 0 || errno != ESRCH; }

std::string read_proc_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  std::string text = read_until_eof(fd);
  ::close(fd);
  return text;
}

std::string process_cmdline(const std::string& pid) {
  std::string text = read_proc_file("/proc/" + pid + "/cmdline");
  std::replace(text.begin(), text.end(), '\0', ' ');
  return text;
}

bool wait_until_gone(pid_t pid, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!std::filesystem::exists("/proc/" + std::to_string(pid))) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

std::filesystem::path use_own_registry(const TempDir& config) {
  const auto state = config.path() / "state";
  config.write("tierbox.json", nlohmann::json{{"state_dir", state.string()}}.dump());
  return state / "runs";
}

int line_count(const std::string& text) { return static_cast<int>(std::count(text.begin(), text.end(), '\n')); }

std::string without_landlock_warnings(const std::string& err) {
  std::istringstream lines(err);
  std::string kept;
  for (std::string line; std::getline(lines, line);)
    if (line.rfind("tierbox: warning: Landlock (", 0) != 0 || line.find("this kernel cannot enforce") == std::string::npos)
      kept += line + "\n";
  // getline drops a last line's missing newline; keep the text's own ending.
  if (!err.empty() && err.back() != '\n' && !kept.empty()) kept.pop_back();
  return kept;
}

}  // namespace tierbox::testing
