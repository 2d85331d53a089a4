#include "stages/user_namespace.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "common/errors.h"

namespace tierbox::stages {
namespace {

void write_proc_file(pid_t pid, const char* name, const std::string& content) {
  const std::string path = "/proc/" + std::to_string(pid) + "/" + name;
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) throw_sys_error("open(" + quote(path) + ", O_WRONLY)");
  // The kernel accepts a map in exactly one write.
  ssize_t written = ::write(fd.get(), content.data(), content.size());
  if (written != static_cast<ssize_t>(content.size()))
    throw_sys_error("write(" + quote(path) + ", " + quote(content) + ")");
}

}  // namespace

void write_id_maps(pid_t pid, const IdMapping& mapping) {
  const auto line = [](unsigned inside, unsigned host) {
    return std::to_string(inside) + " " + std::to_string(host) + " 1\n";
  };
  write_proc_file(pid, "uid_map", line(0, mapping.host_setup_root) + line(mapping.inside_task_uid, mapping.host_task));
  write_proc_file(pid, "gid_map", line(0, mapping.host_setup_root) + line(mapping.inside_task_gid, mapping.host_task));
}

UniqueFd create_idmap_user_namespace(uid_t from_uid, gid_t from_gid, uid_t to_uid, gid_t to_gid) {
  // A user namespace only exists while a process lives in it, so a helper is
  // cloned into a new one and waits on a pipe; the namespace fd keeps the
  // namespace alive once the helper is gone.
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) throw_sys_error("pipe2(O_CLOEXEC)");
  UniqueFd read_end(pipe_fds[0]), write_end(pipe_fds[1]);
  struct clone_args args {};
  args.flags = CLONE_NEWUSER;
  args.exit_signal = SIGCHLD;
  long pid = ::syscall(SYS_clone3, &args, sizeof args);
  if (pid < 0) throw_sys_error("clone3(CLONE_NEWUSER) for the idmap namespace");
  if (pid == 0) {
    char byte;
    write_end.reset();
    while (::read(read_end.get(), &byte, 1) < 0 && errno == EINTR) {
    }
    ::_exit(0);
  }
  read_end.reset();
  const auto reap = [&] {
    write_end.reset();
    int status;
    while (::waitpid(static_cast<pid_t>(pid), &status, 0) < 0 && errno == EINTR) {
    }
  };
  try {
    const auto map = [](unsigned from, unsigned to) {
      return std::to_string(from) + " " + std::to_string(to) + " 1\n";
    };
    write_proc_file(static_cast<pid_t>(pid), "uid_map", map(from_uid, to_uid));
    write_proc_file(static_cast<pid_t>(pid), "gid_map", map(from_gid, to_gid));
    const std::string ns_path = "/proc/" + std::to_string(pid) + "/ns/user";
    UniqueFd ns(::open(ns_path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!ns) throw_sys_error("open(" + quote(ns_path) + ")");
    reap();
    return ns;
  } catch (...) {
    reap();
    throw;
  }
}

namespace {

// The raw system calls, not glibc's wrappers: in a process with several
// threads (the daemon) glibc makes setgroups/setresuid/setresgid apply to
// every thread, signalling each and waiting on a futex for its answer. The
// child of clone3 has a copy of that thread list but none of the threads, so
// the wrapper would wait forever. The syscall changes this process only,
// which is all the child has.
int set_groups_none() { return static_cast<int>(::syscall(SYS_setgroups, 0, nullptr)); }
int set_gid(gid_t gid) { return static_cast<int>(::syscall(SYS_setresgid, gid, gid, gid)); }
int set_uid(uid_t uid) { return static_cast<int>(::syscall(SYS_setresuid, uid, uid, uid)); }

}  // namespace

bool become_setup_root(ChildFailure& failure) noexcept {
  // Until now the child has the host's uid 0, which is unmapped here: it
  // could not even create a file. Inside root (host setup_root) can.
  if (set_groups_none() != 0) return failure.fail_errno("setgroups(0, NULL)");
  if (set_gid(0) != 0) return failure.fail_errno("setresgid(0, 0, 0)");
  if (set_uid(0) != 0) return failure.fail_errno("setresuid(0, 0, 0)");
  return true;
}

bool forbid_nested_user_namespaces(ChildFailure& failure) noexcept {
  // Still the host's /proc here (before pivot_root); the value written is the
  // writer's own user namespace's, whichever procfs is used.
  const char* path = "/proc/sys/user/max_user_namespaces";
  int fd = ::open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return failure.fail_errno("open", path);
  bool ok = ::write(fd, "0", 1) == 1;
  if (!ok) failure.fail_errno("write \"0\" to", path);
  ::close(fd);
  return ok;
}

bool become_task_user(uid_t uid, gid_t gid, ChildFailure& failure) noexcept {
  if (set_groups_none() != 0) return failure.fail_errno("setgroups(0, NULL)");
  if (set_gid(gid) != 0) {
    failure.record(errno).add("setresgid(").add_number(gid).add(")");
    return false;
  }
  if (set_uid(uid) != 0) {
    failure.record(errno).add("setresuid(").add_number(uid).add(")");
    return false;
  }
  return true;
}

}  // namespace tierbox::stages
