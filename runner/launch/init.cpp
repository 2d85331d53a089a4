#include "launch/init.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>

namespace tierbox::launch {
namespace {

std::uint64_t monotonic_ns() noexcept {
  struct timespec now {};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<std::uint64_t>(now.tv_sec) * 1'000'000'000ULL + static_cast<std::uint64_t>(now.tv_nsec);
}

// After the task's exit: every other process of the sandbox is killed and
// reaped (orphans are init's children), so that the report below comes only
// when none of them can run any more. kill(-1) spares init itself; every
// process here has the task's uid, so none is out of its reach. Were one
// stuck, the runner's wall-clock limit still kills init, and with it the
// namespace.
void end_the_tree() noexcept {
  do {
    ::kill(-1, SIGKILL);  // again after each reap: belt and braces against a fork in flight
  } while (::waitpid(-1, nullptr, 0) > 0 || errno == EINTR);
}

[[noreturn]] void report_and_exit(int status_fd, TaskExit exit) noexcept {
  struct rusage children {}, self {};
  ::getrusage(RUSAGE_CHILDREN, &children);
  ::getrusage(RUSAGE_SELF, &self);
  exit.cpu_user_us = microseconds(children.ru_utime) + microseconds(self.ru_utime);
  exit.cpu_system_us = microseconds(children.ru_stime) + microseconds(self.ru_stime);
  ssize_t written;
  do {
    written = ::write(status_fd, &exit, sizeof exit);
  } while (written < 0 && errno == EINTR);
  ::_exit(0);
}

}  // namespace

[[noreturn]] void finish_after_task(int status_fd, int status) noexcept {
  const TaskExit exit{status, monotonic_ns()};
  end_the_tree();
  report_and_exit(status_fd, exit);
}

[[noreturn]] void run_init(pid_t task, int status_fd) noexcept {
  // All signals are blocked (see run_child), so they queue for sigwaitinfo
  // even though pid 1 of a namespace ignores unhandled default-action signals.
  sigset_t all;
  sigfillset(&all);
  while (true) {
    siginfo_t info;
    const int signal_number = ::sigwaitinfo(&all, &info);
    if (signal_number < 0) continue;
    if (signal_number != SIGCHLD) {
      // The task leads its own process group, like a shell's foreground job.
      ::kill(-task, signal_number);
      continue;
    }
    while (true) {
      int status = 0;
      const pid_t pid = ::waitpid(-1, &status, WNOHANG);
      if (pid <= 0) break;
      if (pid != task) continue;  // an orphan, reaped
      finish_after_task(status_fd, status);
    }
  }
}

}  // namespace tierbox::launch
