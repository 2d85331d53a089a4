// What the launch benchmarks share: running a command to its exit with its
// output discarded, timed; the words of a command line; percentiles.
#pragma once

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <sstream>
#include <string>
#include <vector>

namespace tierbox::bench {

// The uid (and gid, no supplementary groups) the child becomes before its
// exec, as `setpriv --reuid U --regid U --clear-groups` would, without
// setpriv's own exec (about 1 ms on this machine); -1: stay as the bench.
inline long g_as_uid = -1;

// The CPU time (user + system, ms) of the last command run_once ran on this
// thread: the process and every descendant it waited for (wait4's rusage).
inline thread_local double g_last_cpu_ms = 0;
inline double cpu_ms(const struct rusage& usage) {
  return (usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1e3 + (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e3;
}

// The child of run_once with --as-uid: a vfork child (it shares the bench's
// memory until it execs), so only raw system calls that change nothing but
// this task's credentials (glibc's set*id would signal the bench's other
// threads), then the exec; 127 if any of it fails.
struct AsUidStart {
  char* const* argv;
  char* const* envp;
  int null_fd;
};
inline int as_uid_child(void* arg) {
  auto* start = static_cast<AsUidStart*>(arg);
  const long id = g_as_uid;
  if (::syscall(SYS_dup2, start->null_fd, 1) < 0 || ::syscall(SYS_dup2, start->null_fd, 2) < 0 ||
      ::syscall(SYS_setgroups, 0, nullptr) != 0 || ::syscall(SYS_setresgid, id, id, id) != 0 ||
      ::syscall(SYS_setresuid, id, id, id) != 0)
    ::syscall(SYS_exit, 127);
  ::syscall(SYS_execve, start->argv[0], start->argv, start->envp);
  ::syscall(SYS_exit, 127);
  return 127;
}

// argv from start to exit, its stdout and stderr to /dev/null: the wall time
// in ms, or a negative value when it could not start or exited non-zero.
// Leading NAME=VALUE words are added to the command's environment, as a
// shell would (no /usr/bin/env exec in the measured time).
inline double run_once(const std::vector<std::string>& argv) {
  std::vector<char*> args, env;
  std::size_t first = 0;
  while (first < argv.size() && argv[first].find('=') != std::string::npos && argv[first][0] != '/')
    env.push_back(const_cast<char*>(argv[first++].c_str()));
  for (char** variable = environ; *variable; ++variable) env.push_back(*variable);
  env.push_back(nullptr);
  for (std::size_t i = first; i < argv.size(); ++i) args.push_back(const_cast<char*>(argv[i].c_str()));
  args.push_back(nullptr);
  if (g_as_uid >= 0) {
    // clone(CLONE_VM|CLONE_VFORK), as posix_spawn does, so both ways cost
    // the bench the same to start a command.
    static thread_local char stack[64 * 1024];
    const int null_fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    AsUidStart start{args.data(), env.data(), null_fd};
    const auto began = std::chrono::steady_clock::now();
    const pid_t pid = ::clone(as_uid_child, stack + sizeof stack, CLONE_VM | CLONE_VFORK | SIGCHLD, &start);
    ::close(null_fd);
    if (pid < 0) return -1;
    int status = 0;
    struct rusage usage {};
    ::wait4(pid, &status, 0, &usage);
    const auto ended = std::chrono::steady_clock::now();
    g_last_cpu_ms = cpu_ms(usage);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return -1;
    return std::chrono::duration<double, std::milli>(ended - began).count();
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  const auto start = std::chrono::steady_clock::now();
  pid_t pid;
  const int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), env.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return -1;
  int status = 0;
  struct rusage usage {};
  ::wait4(pid, &status, 0, &usage);
  const auto end = std::chrono::steady_clock::now();
  g_last_cpu_ms = cpu_ms(usage);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return -1;
  return std::chrono::duration<double, std::milli>(end - start).count();
}

inline std::vector<std::string> split(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> words;
  for (std::string word; in >> word;) words.push_back(word);
  return words;
}

// Linear interpolation between the nearest ranks; 0 for no values.
inline double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const double index = p * static_cast<double>(values.size() - 1);
  const auto low = static_cast<std::size_t>(index);
  const auto high = std::min(low + 1, values.size() - 1);
  return values[low] + (values[high] - values[low]) * (index - static_cast<double>(low));
}

}  // namespace tierbox::bench
