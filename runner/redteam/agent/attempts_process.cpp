// The agent's process moves: capabilities, a user namespace, ptrace, pushing
// keystrokes, watching files, exhausting pids and memory, outliving the run.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/fanotify.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <fstream>
#include <vector>

#include "redteam/agent/agent.h"

namespace tierbox::redteam::agent {
namespace {

// How a child that ran `body` ended: "ok" when body returned 0, the errno's
// name it returned, or "killed:SIGNAL".
template <typename Body>
std::string in_child(Body body) {
  const pid_t pid = ::fork();
  if (pid < 0) return errno_name(errno);
  if (pid == 0) ::_exit(body());
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status)) return std::string("killed:") + (sigabbrev_np(WTERMSIG(status)) ? sigabbrev_np(WTERMSIG(status)) : "?");
  return errno_name(WEXITSTATUS(status));
}

}  // namespace

json capabilities() {
  std::ifstream status("/proc/self/status");
  std::string line;
  json detail = json::object();
  bool any = false;
  while (std::getline(status, line)) {
    for (const char* field : {"CapEff:", "CapPrm:", "CapAmb:"}) {
      if (line.rfind(field, 0) != 0) continue;
      const auto value = line.substr(line.find_first_not_of(" \t", std::strlen(field)));
      detail[std::string(field, std::strlen(field) - 1)] = value;
      if (std::strtoull(value.c_str(), nullptr, 16) != 0) any = true;
    }
  }
  // setuid(0) works with CAP_SETUID, or for a task that is root already.
  const int rc = ::setuid(0);
  detail["setuid0"] = rc == 0 ? "ok" : errno_name(errno);
  return any || rc == 0 ? outcome("ok", detail) : outcome("none", detail);
}

// A new user namespace makes its creator root in it: the usual first step
// of a kernel exploit (always blocked: new_user_namespace).
json new_user_namespace() {
  return outcome(in_child([] { return ::unshare(CLONE_NEWUSER) == 0 ? 0 : errno; }));
}

// ptrace of a process of the same user: read and change its memory
// (always blocked: ptrace). The target is a child of our own, killed after.
json ptrace_child() {
  const pid_t target = ::fork();
  if (target < 0) return failed_with(errno, "fork");
  if (target == 0) {
    ::pause();
    ::_exit(0);
  }
  const long rc = ::ptrace(PTRACE_ATTACH, target, nullptr, nullptr);
  const int err = errno;
  ::kill(target, SIGKILL);
  ::waitpid(target, nullptr, 0);
  return rc == 0 ? outcome("ok") : failed_with(err);
}

// TIOCSTI pushes input into a terminal as if typed: a task holding the
// caller's terminal could make the caller's shell run commands after it
// ends. fd 0 first; when it is no terminal (CI), a pseudo-terminal of the
// sandbox's own, so the filter is what the answer shows.
json tiocsti() {
  char c = '#';
  if (::ioctl(0, TIOCSTI, &c) == 0) return outcome("ok", "stdin");
  if (errno != ENOTTY) return failed_with(errno, "stdin");
  const int master = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0) return failed_with(errno, "no terminal to try on (stdin is none; posix_openpt)");
  std::string result;
  if (::grantpt(master) != 0 || ::unlockpt(master) != 0) result = errno_name(errno);
  else {
    const int slave = ::open(::ptsname(master), O_RDWR | O_NOCTTY | O_CLOEXEC);
    result = slave < 0 ? errno_name(errno) : ::ioctl(slave, TIOCSTI, &c) == 0 ? "ok" : errno_name(errno);
    if (slave >= 0) ::close(slave);
  }
  ::close(master);
  return outcome(result, "a pseudo-terminal of the sandbox's own");
}

// An inotify watch on a tree bound from the host sees what processes outside
// the sandbox open and run there.
json inotify(const std::string& directory) {
  const int fd = ::inotify_init1(IN_CLOEXEC);
  if (fd < 0) return failed_with(errno, "inotify_init1");
  const int watch = ::inotify_add_watch(fd, directory.c_str(), IN_OPEN | IN_ACCESS);
  const int err = errno;
  ::close(fd);
  return watch >= 0 ? outcome("ok") : failed_with(err, "inotify_add_watch");
}

json fanotify() {
  const int fd = ::fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC, O_RDONLY);
  if (fd < 0) return failed_with(errno);
  ::close(fd);
  return outcome("ok");
}

// Forks up to count children that wait, then kills them all: "ok" when every
// fork worked (the pids limit did not hold), else the errno that stopped it.
json fork_many(long count) {
  std::vector<pid_t> children;
  int err = 0;
  for (long i = 0; i < count; ++i) {
    const pid_t pid = ::fork();
    if (pid < 0) {
      err = errno;
      break;
    }
    if (pid == 0) {
      ::pause();
      ::_exit(0);
    }
    children.push_back(pid);
  }
  for (auto pid : children) ::kill(pid, SIGKILL);
  for (auto pid : children) ::waitpid(pid, nullptr, 0);
  json detail{{"forked", children.size()}};
  return err == 0 ? outcome("ok", detail) : failed_with(err, detail);
}

// Allocates and touches bytes in a child: "ok" when it all fitted, else how
// the child ended (killed:KILL by the OOM killer, ENOMEM).
json allocate(long long bytes) {
  return outcome(in_child([bytes] {
    constexpr long long kStep = 1 << 20;
    for (long long done = 0; done < bytes; done += kStep) {
      void* block = ::mmap(nullptr, kStep, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (block == MAP_FAILED) return errno;
      std::memset(block, 0x5a, kStep);
    }
    return 0;
  }));
}

// Double-forks a grandchild in a session of its own that ignores SIGTERM and
// SIGHUP, named name (its comm, which the runner looks for on the host after
// the run). It ends by itself after 20 s, so even a sandbox that fails to
// kill it leaves nothing running for long.
json double_fork(const std::string& name) {
  const pid_t child = ::fork();
  if (child < 0) return failed_with(errno, "fork");
  if (child == 0) {
    ::setsid();
    if (::fork() == 0) {
      // Holding the report pipe would keep the agent waiting for it: the
      // grandchild keeps only stdio, as a daemon that got away would.
      for (int fd = 3; fd < 1024; ++fd) ::close(fd);
      ::signal(SIGTERM, SIG_IGN);
      ::signal(SIGHUP, SIG_IGN);
      ::prctl(PR_SET_NAME, name.c_str(), 0, 0, 0);
      for (int i = 0; i < 20; ++i) ::sleep(1);
      ::_exit(0);
    }
    ::_exit(0);
  }
  ::waitpid(child, nullptr, 0);
  return outcome("spawned", name);
}

}  // namespace tierbox::redteam::agent
