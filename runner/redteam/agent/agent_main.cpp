// tierbox-redteam-agent: the scenario program `tierbox redteam` runs inside
// each tier (docs/redteam.md). Each argument is one attempt, KIND[:ARG];
// the report is one JSON object and a newline: {"attempts": {ATTEMPT:
// {"result", "detail"}}}, "result" "ok" when the move worked. It goes to the
// fd `report-fd:N` names (the run passes one: stdout may be what a scenario
// floods), else to stdout. Fully static, so it runs on image tiers whose
// root holds no libc.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <iostream>
#include <string>

#include "redteam/agent/agent.h"

using namespace tierbox::redteam::agent;

namespace {

// attempt_fd: the pipe this attempt reports on; report_fd: the run's report
// channel (report-fd:N), -1 for stdout.
json attempt(const std::string& kind, const std::string& arg, int attempt_fd, int report_fd) {
  if (kind == "read") return read_file(arg);
  if (kind == "read-tree") return read_tree(arg);
  if (kind == "write") return write_file(arg);
  if (kind == "write-knob") return open_for_writing(arg);
  if (kind == "proc1-root") return proc1_root();
  if (kind == "leaked-fds") return leaked_fds(attempt_fd, report_fd);
  if (kind == "open-by-handle") return open_by_handle();
  if (kind == "setuid-binaries") return setuid_binaries();
  if (kind == "setuid-chmod") return setuid_chmod();
  if (kind == "capabilities") return capabilities();
  if (kind == "user-namespace") return new_user_namespace();
  if (kind == "ptrace") return ptrace_child();
  if (kind == "tiocsti") return tiocsti();
  if (kind == "inotify") return inotify(arg);
  if (kind == "fanotify") return fanotify();
  if (kind == "connect") return connect_tcp(arg);
  if (kind == "udp") return udp_exchange(arg);
  if (kind == "unix-sockets") return unix_sockets();
  if (kind == "resolve") return resolve(arg);
  if (kind == "loopback") return loopback();
  if (kind == "fork") return fork_many(std::stol(arg));
  if (kind == "allocate") return allocate(std::stoll(arg));
  if (kind == "double-fork") return double_fork(arg);
  if (kind == "fill" || kind == "fill-keep") {
    const auto colon = arg.rfind(':');
    return fill(arg.substr(0, colon), std::stoll(arg.substr(colon + 1)), kind == "fill-keep");
  }
  if (kind == "flood") return flood(std::stoll(arg));
  return outcome("unknown attempt");
}

// Each attempt runs in a child of its own: a tier whose seccomp deny_action
// is kill_process kills the attempt, not the report ("killed:SYS" is then
// its result), and no attempt's leftovers (fds, signal dispositions) reach
// the next.
json attempt_in_child(const std::string& text, int report_fd) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return failed_with(errno, "pipe2");
  const pid_t pid = ::fork();
  if (pid < 0) return failed_with(errno, "fork");
  if (pid == 0) {
    ::close(pipe_fds[0]);
    const auto colon = text.find(':');
    std::string report;
    try {
      const std::string arg = colon == std::string::npos ? "" : text.substr(colon + 1);
      report = attempt(text.substr(0, colon), arg, pipe_fds[1], report_fd).dump();
    } catch (const std::exception& error) {
      report = outcome(std::string("agent error: ") + error.what()).dump();
    }
    for (std::size_t done = 0; done < report.size();) {
      const auto n = ::write(pipe_fds[1], report.data() + done, report.size() - done);
      if (n <= 0) break;
      done += static_cast<std::size_t>(n);
    }
    ::_exit(0);
  }
  ::close(pipe_fds[1]);
  std::string report;
  char buffer[4096];
  for (ssize_t n; (n = ::read(pipe_fds[0], buffer, sizeof buffer)) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    report.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(pipe_fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status)) {
    const char* name = sigabbrev_np(WTERMSIG(status));
    return outcome(std::string("killed:") + (name ? name : std::to_string(WTERMSIG(status))));
  }
  return json::parse(report, nullptr, false).is_discarded() ? outcome("no report") : json::parse(report);
}

}  // namespace

int main(int argc, char** argv) {
  // RLIMIT_FSIZE answers a write past it with SIGXFSZ, which would end the
  // whole report; ignored, the write fails with EFBIG instead.
  ::signal(SIGXFSZ, SIG_IGN);
  json attempts = json::object();
  int hold_seconds = 0;
  int report_fd = -1;
  for (int i = 1; i < argc; ++i) {
    const std::string text = argv[i];
    // hold:N is no attempt: after the report, stay N seconds, so that the
    // runner can stop the run (`survive-stop`) while the double-forked
    // grandchild still lives.
    if (text.rfind("hold:", 0) == 0) {
      hold_seconds = std::stoi(text.substr(5));
      continue;
    }
    if (text.rfind("report-fd:", 0) == 0) {
      report_fd = std::stoi(text.substr(10));
      continue;
    }
    attempts[text] = attempt_in_child(text, report_fd);
  }
  const auto report = json{{"attempts", attempts}}.dump() + "\n";
  if (report_fd < 0) {
    std::cout << report << std::flush;
  } else {
    for (std::size_t done = 0; done < report.size();) {
      const auto n = ::write(report_fd, report.data() + done, report.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return 1;
      done += static_cast<std::size_t>(n);
    }
  }
  for (int i = 0; i < hold_seconds; ++i) ::sleep(1);
  return 0;
}
