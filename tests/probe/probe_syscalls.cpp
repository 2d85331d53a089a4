// The always-blocked syscalls (docs/seccomp.md), each attempted for real in a child process.
#include "probe.h"

#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/io_uring.h>
#include <linux/keyctl.h>
#include <linux/openat2.h>
#include <linux/perf_event.h>
#include <linux/sched.h>
#include <linux/userfaultfd.h>
#include <sched.h>
#include <signal.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <set>
#include <cstdint>
#include <functional>
#include <utility>

namespace probe {
namespace {

// Runs attempt in a child process, so a filter that kills does not take the
// probe with it. attempt returns 0 or an errno.
std::string in_child(const std::function<int()>& attempt) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return "probe-error";
  pid_t child = fork();
  if (child == 0) {
    close(fds[0]);
    int err = attempt();
    if (write(fds[1], &err, sizeof err) != sizeof err) _exit(3);
    _exit(0);
  }
  close(fds[1]);
  int err = -1;
  ssize_t n = read(fds[0], &err, sizeof err);
  close(fds[0]);
  int status = 0;
  waitpid(child, &status, 0);
  if (WIFSIGNALED(status)) {
    const char* name = sigabbrev_np(WTERMSIG(status));
    return std::string("killed:SIG") + (name ? name : "?");
  }
  if (n != sizeof err) return "probe-error";
  return errno_name(err);
}

int errno_of(long rc) { return rc < 0 ? errno : 0; }

// A sleeping sibling for the ptrace and process_vm attempts; killed after.
struct Sibling {
  pid_t pid = fork();
  Sibling() {
    if (pid == 0) {
      // Not the attempt's result pipe: a filter that kills the attempt must
      // not leave the probe waiting for this process to close it.
      close_range(3, ~0U, 0);
      pause();
      _exit(0);
    }
  }
  ~Sibling() {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
};

int attempt_clone_user() {
  long pid = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
  if (pid == 0) _exit(0);
  if (pid < 0) return errno;
  waitpid(static_cast<pid_t>(pid), nullptr, 0);
  return 0;
}

int attempt_clone3_user() {
  struct clone_args args {};
  args.flags = CLONE_NEWUSER;
  args.exit_signal = SIGCHLD;
  long pid = syscall(SYS_clone3, &args, sizeof args);
  if (pid == 0) _exit(0);
  if (pid < 0) return errno;
  waitpid(static_cast<pid_t>(pid), nullptr, 0);
  return 0;
}

int attempt_bpf_prog_load() {
  // The smallest valid socket filter: return 0.
  struct bpf_insn program[] = {{BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 0}, {BPF_JMP | BPF_EXIT, 0, 0, 0, 0}};
  union bpf_attr attr {};
  attr.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
  attr.insns = reinterpret_cast<std::uint64_t>(program);
  attr.insn_cnt = 2;
  attr.license = reinterpret_cast<std::uint64_t>("GPL");
  return errno_of(syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof attr));
}

int attempt_perf_event_open() {
  struct perf_event_attr attr {};
  attr.size = sizeof attr;
  attr.type = PERF_TYPE_SOFTWARE;
  attr.config = PERF_COUNT_SW_TASK_CLOCK;
  attr.exclude_kernel = 1;
  return errno_of(syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0));
}

int attempt_io_uring_setup() {
  struct io_uring_params params {};
  return errno_of(syscall(SYS_io_uring_setup, 1, &params));
}

int attempt_ptrace_attach_sibling() {
  Sibling sibling;
  return errno_of(ptrace(PTRACE_ATTACH, sibling.pid, nullptr, nullptr));
}

int attempt_process_vm_readv_sibling() {
  Sibling sibling;
  static char buffer[16];
  struct iovec local {buffer, sizeof buffer}, remote {buffer, sizeof buffer};
  return errno_of(process_vm_readv(sibling.pid, &local, 1, &remote, 1, 0));
}

// attempt(path) on a new empty file in /tmp (writable in every tier),
// removed afterwards; the errno of a failed attempt, else 0.
int attempt_on_new_file(int (*attempt)(const char*)) {
  const std::string path = "/tmp/tierbox-probe-mode." + std::to_string(getpid());
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return errno;
  close(fd);
  const int err = errno_of(attempt(path.c_str()));
  unlink(path.c_str());
  return err;
}

// Sets N_TTY, the discipline a new pty already has, on a pty of the task's
// own: the kernel then changes nothing and loads nothing, on any host.
int attempt_tiocsetd() {
  const int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0 || grantpt(master) != 0 || unlockpt(master) != 0) return errno;
  const char* name = ptsname(master);
  const int pty = name ? open(name, O_RDWR | O_NOCTTY | O_CLOEXEC) : -1;
  if (pty < 0) return errno;
  int discipline = 0;  // N_TTY
  const int err = errno_of(ioctl(pty, TIOCSETD, &discipline));
  close(pty);
  close(master);
  return err;
}

// The i386 entry point: getpid is 20 in the 32-bit table.
int attempt_int80() {
  long result;
  asm volatile("int $0x80" : "=a"(result) : "a"(20L) : "memory");
  return result < 0 && result > -4096 ? static_cast<int>(-result) : 0;
}

std::vector<std::pair<std::string, std::function<int()>>> blocked_attempts() {
  return {
      {"unshare_user", [] { return errno_of(unshare(CLONE_NEWUSER)); }},
      {"clone_user", attempt_clone_user},
      {"clone3_user", attempt_clone3_user},
      {"mount_tmpfs", [] { return errno_of(mount("none", "/tmp", "tmpfs", 0, nullptr)); }},
      {"umount", [] { return errno_of(umount2("/proc", MNT_DETACH)); }},
      {"pivot_root", [] { return errno_of(syscall(SYS_pivot_root, ".", ".")); }},
      {"open_tree", [] { return errno_of(syscall(SYS_open_tree, AT_FDCWD, "/tmp", 1 /* OPEN_TREE_CLONE */)); }},
      {"move_mount", [] { return errno_of(syscall(SYS_move_mount, -1, "", AT_FDCWD, "/tmp", 4 /* F_EMPTY_PATH */)); }},
      {"fsopen", [] { return errno_of(syscall(SYS_fsopen, "tmpfs", 0)); }},
      {"fsmount", [] { return errno_of(syscall(SYS_fsmount, -1, 0, 0)); }},
      {"kexec_load", [] { return errno_of(syscall(SYS_kexec_load, 0, 0, nullptr, 0)); }},
      {"init_module", [] { return errno_of(syscall(SYS_init_module, nullptr, 0, "")); }},
      {"finit_module", [] { return errno_of(syscall(SYS_finit_module, -1, "", 0)); }},
      {"delete_module", [] { return errno_of(syscall(SYS_delete_module, "tierbox_probe", 0)); }},
      {"bpf_prog_load", attempt_bpf_prog_load},
      {"perf_event_open", attempt_perf_event_open},
      {"keyctl", [] { return errno_of(syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, nullptr)); }},
      {"add_key", [] { return errno_of(syscall(SYS_add_key, "user", "tierbox-probe", "x", 1, KEY_SPEC_PROCESS_KEYRING)); }},
      {"request_key", [] { return errno_of(syscall(SYS_request_key, "user", "tierbox-probe-absent", nullptr, 0)); }},
      {"ptrace_traceme", [] { return errno_of(ptrace(PTRACE_TRACEME, 0, nullptr, nullptr)); }},
      {"ptrace_attach_sibling", attempt_ptrace_attach_sibling},
      {"process_vm_readv", attempt_process_vm_readv_sibling},
      {"userfaultfd", [] { return errno_of(syscall(SYS_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY)); }},
      {"io_uring_setup", attempt_io_uring_setup},
      {"tiocsti", [] { char c = '#'; return errno_of(ioctl(0, TIOCSTI, &c)); }},
      {"tiocsti_high_bits", [] { char c = '#'; return errno_of(syscall(SYS_ioctl, 0, 0x100000000UL | TIOCSTI, &c)); }},
      {"tiocsetd", attempt_tiocsetd},
      {"tioclinux", [] { char subcode = 0; return errno_of(ioctl(0, TIOCLINUX, &subcode)); }},
      {"personality_no_randomize", [] { return errno_of(personality(static_cast<unsigned long>(PER_LINUX) | ADDR_NO_RANDOMIZE)); }},
      // AF_VSOCK is not confined by a network namespace; AF_PACKET needs
      // CAP_NET_RAW (EPERM without the filter, EAFNOSUPPORT with it); the
      // permitted families are controls that must keep working.
      {"socket_vsock", [] { return errno_of(socket(AF_VSOCK, SOCK_STREAM, 0)); }},
      {"socket_vsock_high_bits", [] { return errno_of(syscall(SYS_socket, 0x100000000UL | AF_VSOCK, SOCK_STREAM, 0)); }},
      {"socket_packet", [] { return errno_of(socket(AF_PACKET, SOCK_DGRAM, 0)); }},
      {"socket_unix", [] { return errno_of(socket(AF_UNIX, SOCK_STREAM, 0)); }},
      {"socket_inet", [] { return errno_of(socket(AF_INET, SOCK_DGRAM, 0)); }},
      {"socket_netlink", [] { return errno_of(socket(AF_NETLINK, SOCK_RAW, 0 /* NETLINK_ROUTE */)); }},
      // A set-user-ID mode, however it is given; a plain chmod is the control.
      {"chmod_setuid", [] { return attempt_on_new_file([](const char* path) { return chmod(path, S_ISUID | 0755); }); }},
      {"fchmodat_setgid",
       [] { return attempt_on_new_file([](const char* path) { return fchmodat(AT_FDCWD, path, S_ISGID | 0755, 0); }); }},
      {"open_create_setuid", [] { return attempt_on_new_file([](const char* path) {
         unlink(path);
         const int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, S_ISUID | 0755);
         return fd < 0 ? -1 : close(fd);
       }); }},
      {"openat2", [] {
         struct open_how how {};
         how.flags = O_RDONLY | O_CLOEXEC;
         return errno_of(syscall(SYS_openat2, AT_FDCWD, "/", &how, sizeof how));
       }},
      {"chmod_plain", [] { return attempt_on_new_file([](const char* path) { return chmod(path, 0755); }); }},
      {"int80", attempt_int80},
      {"x32", [] { return errno_of(syscall(0x40000000 | SYS_getpid)); }},
  };
}

// Attempts that change the system when they succeed: run only inside a
// tierbox sandbox (whose pid 1 is tierbox-init), never on a test host as root.
bool changes_the_system(const std::string& name) {
  for (const char* unsafe : {"mount_tmpfs", "umount", "pivot_root", "open_tree", "move_mount", "fsopen", "fsmount",
                             "kexec_load", "init_module", "finit_module", "delete_module"})
    if (name == unsafe) return true;
  return false;
}

}  // namespace

json blocked(const std::vector<std::string>& names) {
  json report = json::object();
  const bool in_sandbox = read_text("/proc/1/cmdline").rfind("tierbox-init", 0) == 0;
  for (const auto& [name, attempt] : blocked_attempts()) {
    if (!names.empty() && std::find(names.begin(), names.end(), name) == names.end()) continue;
    if (!in_sandbox && changes_the_system(name)) {
      report[name] = "skipped-outside-a-sandbox";
      continue;
    }
    report[name] = in_child(attempt);
  }
  report["status_seccomp"] = status_fields().value("Seccomp", "");
  return report;
}

// syscall NR [ARG...]: a raw syscall with numeric arguments, in a child process.
json raw_syscall(const std::vector<std::string>& args) {
  long values[6] = {};
  for (std::size_t i = 1; i < args.size(); ++i) values[i - 1] = std::stol(args[i], nullptr, 0);
  return {{"result", in_child([&] {
             return errno_of(syscall(std::stol(args[0]), values[0], values[1], values[2], values[3], values[4], values[5]));
           })}};
}

// An inotify watch on a directory for some seconds: the names of the files
// others opened there (what a task learns about other runs). Prints
// "watching" on stderr once the watch is in place.
json watch_directory(const std::string& directory, int seconds) {
  json report;
  const int fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  if (fd < 0) {
    report["result"] = errno_name(errno);
    return report;
  }
  if (inotify_add_watch(fd, directory.c_str(), IN_OPEN | IN_ACCESS) < 0) {
    report["result"] = errno_name(errno);
    close(fd);
    return report;
  }
  std::fprintf(stderr, "watching\n");
  std::fflush(stderr);
  std::set<std::string> names;
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  alignas(inotify_event) char buffer[8192];
  while (std::chrono::steady_clock::now() < end) {
    pollfd poll_fd{fd, POLLIN, 0};
    if (poll(&poll_fd, 1, 100) <= 0) continue;
    const ssize_t n = read(fd, buffer, sizeof buffer);
    for (ssize_t offset = 0; offset < n;) {
      const auto* event = reinterpret_cast<const inotify_event*>(buffer + offset);
      if (event->len > 0) names.insert(event->name);
      offset += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
    }
  }
  close(fd);
  report["result"] = "ok";
  report["opened"] = names;
  return report;
}

}  // namespace probe
