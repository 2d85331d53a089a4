// lean_launch: the floor the core issue measures tierbox against, "a lean
// launcher doing the same isolation (all namespaces, rec-RO root,
// pivot_root, cgroup, seccomp)", as a benchmark line next to tierbox and
// bwrap (tools/bench/launch.sh). It is not a sandbox to use: no policy, no
// audit, no supervision, no error reporting beyond "lean_launch: <call>".
//
//   build/lean_launch /bin/true
//
// What it does, in order, each step the cheapest form of what tierbox does:
//  parent: one v1 (or v2) cgroup per controller with a limit (pids, memory),
//          clone3 into new user, mount, pid, net, ipc, uts and cgroup
//          namespaces, id maps (0 and 1000 inside to 0x6fff0000 and
//          0x6fff1000 outside), then a byte on a pipe;
//  child:  joins the cgroups, a tmpfs root with /usr bound recursively
//          read-only (open_tree, mount_setattr, move_mount), the merged-/usr
//          symlinks, /etc/ld.so.cache, a fresh /proc, a /dev of six device
//          binds, tmpfs /tmp, pivot_root and detach, the hostname, lo up,
//          a new session, no_new_privs, every capability dropped, a 10-
//          instruction seccomp filter, uid 1000, exec as pid 1 (no init);
//  parent: waits, removes the cgroups.
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/mount.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

[[noreturn]] void die(const char* call) {
  std::fprintf(stderr, "lean_launch: %s: %s\n", call, std::strerror(errno));
  _exit(125);
}

void check(long result, const char* call) {
  if (result < 0) die(call);
}

void write_file(const std::string& path, const std::string& text) {
  const int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0 || write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size())) die(path.c_str());
  close(fd);
}

constexpr uid_t kOutsideRoot = 0x6fff0000;
constexpr uid_t kOutsideTask = 0x6fff1000;

// The cgroups of this launch: a directory per controller, its tasks file
// opened for the child (a v1 tasks write of "0" moves the writer).
struct Cgroups {
  std::vector<std::string> dirs;
  std::vector<int> join_fds;
};

Cgroups make_cgroups() {
  Cgroups made;
  const std::string name = "/lean-launch-" + std::to_string(getpid());
  struct Controller {
    const char* root;
    const char* limit_file;
    const char* limit;
  };
  const bool v2 = access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0 &&
                  access("/sys/fs/cgroup/pids", F_OK) != 0;
  const std::vector<Controller> controllers =
      v2 ? std::vector<Controller>{{"/sys/fs/cgroup", "pids.max", "128"}}
         : std::vector<Controller>{{"/sys/fs/cgroup/pids", "pids.max", "128"},
                                   {"/sys/fs/cgroup/memory", "memory.limit_in_bytes", "536870912"}};
  for (const auto& controller : controllers) {
    const std::string dir = std::string(controller.root) + name;
    check(mkdir(dir.c_str(), 0755), "mkdir cgroup");
    made.dirs.push_back(dir);
    write_file(dir + "/" + controller.limit_file, controller.limit);
    const int fd = open((dir + (v2 ? "/cgroup.procs" : "/tasks")).c_str(), O_WRONLY | O_CLOEXEC);
    check(fd, "open cgroup tasks");
    made.join_fds.push_back(fd);
  }
  return made;
}

void bind_ro_tree(const char* source, const char* target) {
  const int tree = static_cast<int>(syscall(SYS_open_tree, AT_FDCWD, source, OPEN_TREE_CLONE | AT_RECURSIVE | OPEN_TREE_CLOEXEC));
  check(tree, "open_tree");
  struct mount_attr attr {};
  attr.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
  attr.propagation = MS_PRIVATE;
  check(syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr), "mount_setattr");
  check(syscall(SYS_move_mount, tree, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH), "move_mount");
  close(tree);
}

void bind_file(const char* source, const char* target, unsigned long flags) {
  const int fd = open(target, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  check(fd, "create bind target");
  close(fd);
  check(mount(source, target, nullptr, MS_BIND, nullptr), "bind");
  check(mount(nullptr, target, nullptr, MS_BIND | MS_REMOUNT | flags, nullptr), "remount bind");
}

void build_root() {
  check(mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr), "make / private");
  check(mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755"), "mount root tmpfs");
  check(chdir("/tmp"), "chdir");
  for (const char* dir : {"usr", "etc", "proc", "dev", "tmp", "dev/pts", "dev/shm"}) check(mkdir(dir, 0755), "mkdir");
  bind_ro_tree("/usr", "usr");
  for (const auto& [link, target] : {std::pair{"bin", "usr/bin"}, std::pair{"sbin", "usr/sbin"},
                                     std::pair{"lib", "usr/lib"}, std::pair{"lib64", "usr/lib64"}})
    check(symlink(target, link), "symlink");
  bind_file("/etc/ld.so.cache", "etc/ld.so.cache", MS_RDONLY | MS_NOSUID | MS_NODEV);
  check(mount("proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr), "mount proc");
  for (const char* node : {"null", "zero", "full", "random", "urandom", "tty"})
    bind_file((std::string("/dev/") + node).c_str(), (std::string("dev/") + node).c_str(), MS_NOSUID | MS_NOEXEC);
  check(mount("devpts", "dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620"), "devpts");
  check(mount("tmpfs", "dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=16m"), "shm");
  check(mount("tmpfs", "tmp", "tmpfs", MS_NOSUID | MS_NODEV, "size=64m,mode=1777"), "tmp");
  check(syscall(SYS_pivot_root, ".", "."), "pivot_root");
  check(umount2(".", MNT_DETACH), "detach the old root");
  check(chdir("/"), "chdir /");
}

void bring_up_lo() {
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  check(fd, "socket");
  struct ifreq request {};
  std::strncpy(request.ifr_name, "lo", IFNAMSIZ - 1);
  request.ifr_flags = IFF_UP | IFF_RUNNING;
  check(ioctl(fd, SIOCSIFFLAGS, &request), "SIOCSIFFLAGS lo");
  close(fd);
}

void drop_capabilities() {
  for (int cap = 0; cap <= CAP_LAST_CAP; ++cap) check(prctl(PR_CAPBSET_DROP, cap, 0, 0, 0), "PR_CAPBSET_DROP");
  check(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), "PR_CAP_AMBIENT_CLEAR_ALL");
  check(setresgid(1000, 1000, 1000), "setresgid");
  check(setresuid(1000, 1000, 1000), "setresuid");  // clears permitted and effective
  struct __user_cap_header_struct header {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2] {};
  check(syscall(SYS_capset, &header, data), "capset");  // and inheritable
}

void install_seccomp() {
  // x86_64 only; a few of the syscalls every tier denies, EPERM; the rest allowed.
  struct sock_filter program[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_ptrace, 4, 0),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_mount, 3, 0),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_bpf, 2, 0),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_keyctl, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
  };
  struct sock_fprog filter {static_cast<unsigned short>(sizeof program / sizeof program[0]), program};
  check(syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &filter), "seccomp");
}

[[noreturn]] void child(char** argv, int go, const Cgroups& cgroups) {
  char byte;
  if (read(go, &byte, 1) != 1) _exit(125);  // the id maps are written
  check(prctl(PR_SET_PDEATHSIG, SIGKILL), "PR_SET_PDEATHSIG");
  check(setresgid(0, 0, 0), "setresgid 0");
  check(setresuid(0, 0, 0), "setresuid 0");
  for (int fd : cgroups.join_fds) {
    if (write(fd, "0", 1) != 1) die("join cgroup");
    close(fd);
  }
  check(unshare(CLONE_NEWCGROUP), "unshare cgroup");
  build_root();
  check(sethostname("sandbox", 7), "sethostname");
  bring_up_lo();
  check(setsid(), "setsid");
  check(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs");
  drop_capabilities();
  install_seccomp();
  char* const env[] = {const_cast<char*>("PATH=/usr/bin:/bin"), nullptr};
  execve(argv[0], argv, env);
  die("execve");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: lean_launch COMMAND [ARG...]\n");
    return 2;
  }
  auto cgroups = make_cgroups();
  int go[2];
  check(pipe2(go, O_CLOEXEC), "pipe2");
  struct clone_args args {};
  args.flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS;
  args.exit_signal = SIGCHLD;
  const long pid = syscall(SYS_clone3, &args, sizeof args);
  check(pid, "clone3");
  if (pid == 0) {
    close(go[1]);
    child(argv + 1, go[0], cgroups);
  }
  close(go[0]);
  for (int fd : cgroups.join_fds) close(fd);
  const std::string proc = "/proc/" + std::to_string(pid);
  write_file(proc + "/setgroups", "deny");
  write_file(proc + "/uid_map", "0 " + std::to_string(kOutsideRoot) + " 1\n1000 " + std::to_string(kOutsideTask) + " 1\n");
  write_file(proc + "/gid_map", "0 " + std::to_string(kOutsideRoot) + " 1\n1000 " + std::to_string(kOutsideTask) + " 1\n");
  check(write(go[1], "g", 1), "write go");
  close(go[1]);
  int status = 0;
  while (waitpid(static_cast<pid_t>(pid), &status, 0) < 0 && errno == EINTR) {
  }
  for (const auto& dir : cgroups.dirs) rmdir(dir.c_str());
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + WTERMSIG(status);
}
