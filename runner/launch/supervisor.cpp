#include "launch/supervisor.h"

#include <poll.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "common/errors.h"
#include "common/logging.h"
#include "control/control_server.h"

namespace tierbox::launch {
namespace {

// Debian 12's <sys/pidfd.h> lacks extern "C"; the syscall is called directly.
int pidfd_send_signal(int pidfd, int signal_number, siginfo_t* info, unsigned flags) {
  return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, signal_number, info, flags));
}

constexpr int kRelayedSignals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT};

// The raw syscall: glibc's waitid() has no rusage argument.
int wait_init(int pidfd, struct rusage& usage) {
  siginfo_t info{};
  while (::syscall(SYS_waitid, P_PIDFD, pidfd, &info, WEXITED, &usage) != 0) {
    if (errno != EINTR) throw_sys_error("waitid(P_PIDFD, WEXITED)");
  }
  return info.si_code == CLD_EXITED ? W_EXITCODE(info.si_status, 0) : info.si_status & 0x7f;
}

std::optional<TaskExit> read_task_exit(int status_fd) {
  TaskExit exit;
  ssize_t n;
  do {
    n = ::read(status_fd, &exit, sizeof exit);
  } while (n < 0 && errno == EINTR);
  if (n == static_cast<ssize_t>(sizeof exit)) return exit;
  return std::nullopt;
}

void take_report(SupervisionResult& result, const TaskExit& exit) {
  result.task_exit = exit;
  result.cpu_user_us = exit.cpu_user_us;
  result.cpu_system_us = exit.cpu_system_us;
}

}  // namespace

SignalRelay::SignalRelay() {
  sigemptyset(&relayed_);
  for (int signal_number : kRelayedSignals) sigaddset(&relayed_, signal_number);
  if (::sigprocmask(SIG_BLOCK, &relayed_, &previous_) != 0) throw_sys_error("sigprocmask(SIG_BLOCK)");
  fd_.reset(::signalfd(-1, &relayed_, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!fd_) throw_sys_error("signalfd(SFD_CLOEXEC|SFD_NONBLOCK)");
}

SignalRelay::~SignalRelay() { ::sigprocmask(SIG_SETMASK, &previous_, nullptr); }

std::optional<int> SignalRelay::next() {
  struct signalfd_siginfo info {};
  if (::read(fd_.get(), &info, sizeof info) != static_cast<ssize_t>(sizeof info)) return std::nullopt;
  return static_cast<int>(info.ssi_signo);
}

SupervisionResult supervise(int pidfd, SignalRelay* relay, int status_fd,
                            std::chrono::steady_clock::time_point deadline, const std::function<void()>& kill_tree,
                            ControlServer* control) {
  SupervisionResult result;
  std::vector<struct pollfd> fds;
  while (true) {
    const auto now = std::chrono::steady_clock::now();
    const auto control_due = control ? control->next_deadline() : std::nullopt;
    int timeout_ms = -1;
    if (!result.timed_out || control_due) {
      const auto wake = result.timed_out ? *control_due : control_due ? std::min(deadline, *control_due) : deadline;
      auto left = std::chrono::ceil<std::chrono::milliseconds>(wake - now).count();
      timeout_ms = static_cast<int>(std::clamp<long long>(left, 0, 24LL * 3600 * 1000));
    }
    // The status pipe until it reads EOF (-1: poll skips it).
    fds = {{pidfd, POLLIN, 0}, {relay ? relay->fd() : -1, POLLIN, 0}, {status_fd, POLLIN, 0}};
    if (control) control->add_poll_fds(fds);
    const int ready = ::poll(fds.data(), fds.size(), timeout_ms);
    if (ready < 0) {
      if (errno == EINTR) continue;
      throw_sys_error("poll(pidfd, signalfd, status pipe, control socket)");
    }
    if (control) {
      control->handle(fds.data() + 3, fds.size() - 3);
      control->handle_timers();
    }
    if (!result.timed_out && std::chrono::steady_clock::now() >= deadline) {
      logging::step("wall-clock limit reached: killing the sandbox");
      result.timed_out = true;
      kill_tree();
      if (pidfd_send_signal(pidfd, SIGKILL, nullptr, 0) != 0 && errno != ESRCH)
        throw_sys_error("pidfd_send_signal(SIGKILL)");
      continue;
    }
    if (fds[1].revents & POLLIN) {
      while (auto signal_number = relay->next()) {
        logging::step("relaying signal {} to the task", *signal_number);
        pidfd_send_signal(pidfd, *signal_number, nullptr, 0);
      }
    }
    if (fds[2].revents & (POLLIN | POLLHUP)) {
      if (auto exit = read_task_exit(status_fd)) {
        take_report(result, *exit);
        // init exits right after its report. The kill makes that so, whoever
        // wrote it (only init holds the pipe's write end; the task closed
        // its copy and cannot reach init's fds): once supervision ends here,
        // nothing of the sandbox may keep running unwatched.
        pidfd_send_signal(pidfd, SIGKILL, nullptr, 0);
        return result;
      }
      status_fd = -1;  // init exited (or was killed) without a report
    }
    if (fds[0].revents & POLLIN) break;
  }
  struct rusage tree {};
  result.init_status = wait_init(pidfd, tree);
  result.init_reaped = true;
  result.cpu_user_us = microseconds(tree.ru_utime);
  result.cpu_system_us = microseconds(tree.ru_stime);
  if (status_fd >= 0) {
    if (auto exit = read_task_exit(status_fd)) take_report(result, *exit);
  }
  return result;
}

void reap_init(int pidfd, SupervisionResult& result) {
  if (result.init_reaped) return;
  struct rusage ignored {};  // the report counted the tree already
  result.init_status = wait_init(pidfd, ignored);
  result.init_reaped = true;
}

void kill_and_reap(int pidfd) {
  pidfd_send_signal(pidfd, SIGKILL, nullptr, 0);
  siginfo_t info{};
  while (::waitid(P_PIDFD, static_cast<id_t>(pidfd), &info, WEXITED) != 0 && errno == EINTR) {
  }
}

}  // namespace tierbox::launch
