#include "launch/init.h"

#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>

namespace tierbox::launch {

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
      struct timespec now {};
      ::clock_gettime(CLOCK_MONOTONIC, &now);
      const TaskExit exit{status, static_cast<std::uint64_t>(now.tv_sec) * 1'000'000'000ULL +
                                      static_cast<std::uint64_t>(now.tv_nsec)};
      ssize_t written;
      do {
        written = ::write(status_fd, &exit, sizeof exit);
      } while (written < 0 && errno == EINTR);
      ::_exit(0);
    }
  }
}

}  // namespace tierbox::launch
