// A caller of the daemon at a terminal of its own (tests/integration/
// test_daemon_io.cpp, test_daemon_confirm.cpp): argv run as a user in a new
// session whose controlling terminal is a new pty, as a caller's shell runs
// a command; the test holds the master, reads what is shown and types.
#pragma once

#include <pty.h>
#include <sys/ioctl.h>
#include <termios.h>

#include "integration/daemon_fixture.h"

namespace tierbox::testing {

struct CallerTerminalOptions {
  unsigned short rows = 24, columns = 80;
  // The caller's stdin instead of the pty's slave (a pipe); -1: the slave.
  int stdin_fd = -1;
  // A background job: the command runs in a process group of its own,
  // not the terminal's foreground group (which stays the session leader's,
  // a process that only waits for it).
  bool background = false;
};

class CallerTerminal {
 public:
  CallerTerminal(const Daemon& daemon, const std::string& user, const std::vector<std::string>& argv,
                 unsigned short rows, unsigned short columns)
      : CallerTerminal(daemon, user, argv, CallerTerminalOptions{rows, columns}) {}
  CallerTerminal(const Daemon& daemon, const std::string& user, const std::vector<std::string>& argv,
                 const CallerTerminalOptions& options) {
    winsize size{options.rows, options.columns, 0, 0};
    int slave = -1;
    BOOST_REQUIRE(::openpty(&master_, &slave, nullptr, nullptr, &size) == 0);
    ::fcntl(master_, F_SETFD, FD_CLOEXEC);
    std::vector<std::string> command = {"/usr/bin/setpriv", "--reuid", user, "--regid", "users", "--init-groups"};
    command.insert(command.end(), argv.begin(), argv.end());
    std::vector<std::string> env = {"TIERBOX_SOCKET=" + daemon.socket(), "PATH=/usr/bin:/bin", "HOME=/",
                                    "TIERBOX_CONFIG_DIR=", "TIERBOX_AUDIT_LOG=", "TERM=xterm"};
    std::vector<char*> args;
    for (auto& word : command) args.push_back(word.data());
    args.push_back(nullptr);
    std::vector<char*> envp;
    for (auto& word : env) envp.push_back(word.data());
    envp.push_back(nullptr);
    pid_ = ::fork();
    BOOST_REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      // The session leader's process group is the terminal's foreground
      // group: the kernel sends it SIGWINCH when the size changes.
      if (::setsid() < 0 || ::ioctl(slave, TIOCSCTTY, 0) != 0) ::_exit(120);
      for (int fd = 0; fd < 3; ++fd)
        if (::dup2(fd == 0 && options.stdin_fd >= 0 ? options.stdin_fd : slave, fd) < 0) ::_exit(121);
      ::close(slave);
      if (options.background) {
        const pid_t job = ::fork();
        if (job < 0) ::_exit(122);
        if (job > 0) {
          int status = 0;
          while (::waitpid(job, &status, 0) < 0 && errno == EINTR) {
          }
          ::_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
        }
        if (::setpgid(0, 0) != 0) ::_exit(123);
      }
      ::execve(args[0], args.data(), envp.data());
      ::_exit(127);
    }
    ::close(slave);
  }
  ~CallerTerminal() {
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    ::close(master_);
  }
  CallerTerminal(const CallerTerminal&) = delete;
  CallerTerminal& operator=(const CallerTerminal&) = delete;
  // Reads the terminal until its output holds text; false on timeout or EOF.
  bool wait_for(const std::string& text, std::chrono::seconds timeout = std::chrono::seconds(30)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (output_.find(text) == std::string::npos) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      pollfd ready{master_, POLLIN, 0};
      if (left.count() <= 0 || ::poll(&ready, 1, static_cast<int>(left.count())) <= 0) return false;
      char buffer[4096];
      const ssize_t n = ::read(master_, buffer, sizeof buffer);
      if (n <= 0) return false;  // EIO: every slave fd is closed
      output_.append(buffer, static_cast<std::size_t>(n));
    }
    return true;
  }
  void type(const std::string& text) const {
    BOOST_REQUIRE(::write(master_, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
  }
  void resize(unsigned short rows, unsigned short columns) const {
    winsize size{rows, columns, 0, 0};
    BOOST_REQUIRE(::ioctl(master_, TIOCSWINSZ, &size) == 0);
  }
  // The caller's exit status; reads the rest of the output meanwhile. A
  // caller still running after 30 s (a task that never got its signal) is
  // killed: -1, and the test goes on to its cleanup instead of hanging.
  int wait() {
    wait_for("\x01never\x01", std::chrono::seconds(30));  // to EOF
    for (int i = 0; i < 300; ++i) {
      int status = 0;
      const pid_t done = ::waitpid(pid_, &status, WNOHANG);
      if (done == pid_) {
        reaped_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      if (done < 0) return -1;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return -1;  // the destructor kills and reaps it
  }
  // SIGKILL to the caller (the client dies without a word to the daemon).
  void kill_caller() const { ::kill(pid_, SIGKILL); }
  [[nodiscard]] const std::string& output() const { return output_; }

 private:
  int master_ = -1;
  pid_t pid_ = -1;
  bool reaped_ = false;
  std::string output_;
};

}  // namespace tierbox::testing
