#include "policy/seccomp_groups.h"

#include <fcntl.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/personality.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <set>
#include <utility>

namespace tierbox::policy {
namespace {

using Names = std::string_view;

// Every name below is one libseccomp 2.5 resolves (a unit test checks);
// names of other architectures (mmap2, socketcall, ...) are harmless on
// x86_64: libseccomp leaves them out of an x86_64 filter.

constexpr Names kDefault[] = {
    "arch_prctl", "brk", "cacheflush", "clock_getres", "clock_getres_time64", "clock_gettime", "clock_gettime64",
    "clock_nanosleep", "clock_nanosleep_time64", "execve", "exit", "exit_group", "futex", "futex_time64",
    "futex_waitv", "futex_wake", "futex_wait", "futex_requeue", "get_robust_list", "get_thread_area", "getegid",
    "getegid32", "geteuid", "geteuid32", "getgid", "getgid32", "getgroups", "getgroups32", "getpgid", "getpgrp",
    "getpid", "getppid", "getrandom", "getresgid", "getresgid32", "getresuid", "getresuid32", "getrlimit", "getsid",
    "gettid", "gettimeofday", "getuid", "getuid32", "map_shadow_stack", "membarrier", "mmap", "mmap2", "mprotect",
    "munmap", "nanosleep", "pause", "pkey_alloc", "pkey_free", "pkey_mprotect", "prlimit64", "restart_syscall",
    "riscv_flush_icache", "rseq", "rt_sigreturn", "sched_getaffinity", "sched_yield", "set_robust_list",
    "set_thread_area", "set_tid_address", "set_tls", "sigreturn", "time", "ugetrlimit"};

constexpr Names kBasicIo[] = {"_llseek", "close",  "close_range", "dup",     "dup2",     "dup3",
                              "lseek",   "pread64", "preadv",     "preadv2", "pwrite64", "pwritev",
                              "pwritev2", "read",   "readv",      "write",   "writev"};

// openat2 is not here: its mode is in memory a filter cannot read, so it is
// answered ENOSYS unless a tier opts in to set-user-ID files.
constexpr Names kFileSystem[] = {
    "access", "cachestat", "chdir", "chmod", "close", "creat", "faccessat", "faccessat2", "fallocate", "fchdir",
    "fchmod", "fchmodat", "fchmodat2", "fcntl", "fcntl64", "fgetxattr", "flistxattr", "fremovexattr", "fsetxattr",
    "fstat", "fstat64", "fstatat64", "fstatfs", "fstatfs64", "ftruncate", "ftruncate64", "futimesat", "getcwd",
    "getdents", "getdents64", "getxattr", "inotify_add_watch", "inotify_init", "inotify_init1", "inotify_rm_watch",
    "lgetxattr", "link", "linkat", "listxattr", "llistxattr", "lremovexattr", "lsetxattr", "lstat", "lstat64",
    "mkdir", "mkdirat", "mknod", "mknodat", "newfstatat", "oldfstat", "oldlstat", "oldstat", "open", "openat",
    "readlink", "readlinkat", "removexattr", "rename", "renameat", "renameat2", "rmdir", "setxattr",
    "stat", "stat64", "statfs", "statfs64", "statx", "symlink", "symlinkat", "truncate", "truncate64", "unlink",
    "unlinkat", "utime", "utimensat", "utimensat_time64", "utimes"};

constexpr Names kIoEvent[] = {"_newselect", "epoll_create", "epoll_create1", "epoll_ctl", "epoll_ctl_old",
                              "epoll_pwait", "epoll_pwait2", "epoll_wait", "epoll_wait_old", "eventfd",
                              "eventfd2", "poll", "ppoll", "ppoll_time64", "pselect6", "pselect6_time64",
                              "select"};

constexpr Names kIpc[] = {"ipc", "memfd_create", "mq_getsetattr", "mq_notify", "mq_open", "mq_timedreceive",
                          "mq_timedreceive_time64", "mq_timedsend", "mq_timedsend_time64", "mq_unlink", "msgctl",
                          "msgget", "msgrcv", "msgsnd", "pipe", "pipe2", "process_madvise", "semctl", "semget",
                          "semop", "semtimedop", "semtimedop_time64", "shmat", "shmctl", "shmdt", "shmget"};

constexpr Names kNetworkIo[] = {"accept", "accept4", "bind", "connect", "getpeername", "getsockname",
                                "getsockopt", "listen", "recv", "recvfrom", "recvmmsg", "recvmmsg_time64",
                                "recvmsg", "send", "sendmmsg", "sendmsg", "sendto", "setsockopt", "shutdown",
                                "socket", "socketcall", "socketpair"};

// clone3 is not here: its flags are in memory a filter cannot read, so it is
// answered ENOSYS unless a tier opts in to new user namespaces.
constexpr Names kProcess[] = {"capget", "clone", "execveat", "fork", "getrusage", "kill", "pidfd_open",
                              "pidfd_send_signal", "prctl", "process_mrelease", "rt_sigqueueinfo",
                              "rt_tgsigqueueinfo", "setns", "swapcontext", "tgkill", "times", "tkill", "unshare",
                              "vfork", "wait4", "waitid", "waitpid"};

constexpr Names kSignal[] = {"rt_sigaction", "rt_sigpending", "rt_sigprocmask", "rt_sigsuspend", "rt_sigtimedwait",
                             "rt_sigtimedwait_time64", "sigaction", "sigaltstack", "signal", "signalfd",
                             "signalfd4", "sigpending", "sigprocmask", "sigsuspend"};

constexpr Names kTimer[] = {"alarm", "getitimer", "setitimer", "timer_create", "timer_delete", "timer_getoverrun",
                            "timer_gettime", "timer_gettime64", "timer_settime", "timer_settime64",
                            "timerfd_create", "timerfd_gettime", "timerfd_gettime64", "timerfd_settime",
                            "timerfd_settime64", "times"};

constexpr Names kSync[] = {"fdatasync", "fsync", "msync", "sync", "sync_file_range", "sync_file_range2", "syncfs"};

constexpr Names kMemlock[] = {"mlock", "mlock2", "mlockall", "munlock", "munlockall"};

constexpr Names kResources[] = {"ioprio_set", "mbind", "migrate_pages", "move_pages", "nice", "sched_setaffinity",
                                "sched_setattr", "sched_setparam", "sched_setscheduler", "set_mempolicy",
                                "set_mempolicy_home_node", "setpriority", "setrlimit"};

constexpr Names kChown[] = {"chown", "chown32", "fchown", "fchown32", "fchownat", "lchown", "lchown32"};

constexpr Names kSetuid[] = {"setgid",     "setgid32",   "setgroups",   "setgroups32", "setregid",
                             "setregid32", "setresgid",  "setresgid32", "setresuid",   "setresuid32",
                             "setreuid",   "setreuid32", "setuid",      "setuid32"};

constexpr Names kAio[] = {"io_cancel", "io_destroy", "io_getevents", "io_pgetevents", "io_pgetevents_time64",
                          "io_setup", "io_submit"};

constexpr Names kSandbox[] = {"landlock_add_rule", "landlock_create_ruleset", "landlock_restrict_self", "seccomp"};

constexpr Names kMount[] = {"chroot", "fsconfig", "fsmount", "fsopen", "fspick", "mount", "mount_setattr",
                            "move_mount", "open_tree", "pivot_root", "umount", "umount2"};

constexpr Names kModule[] = {"delete_module", "finit_module", "init_module"};

constexpr Names kReboot[] = {"kexec_file_load", "kexec_load", "reboot"};

constexpr Names kSwap[] = {"swapoff", "swapon"};

constexpr Names kRawIo[] = {"ioperm", "iopl", "pciconfig_iobase", "pciconfig_read", "pciconfig_write",
                            "s390_pci_mmio_read", "s390_pci_mmio_write"};

constexpr Names kClock[] = {"adjtimex", "clock_adjtime", "clock_adjtime64", "clock_settime", "clock_settime64",
                            "settimeofday", "stime"};

constexpr Names kDebug[] = {"lookup_dcookie", "perf_event_open", "pidfd_getfd", "process_vm_readv",
                            "process_vm_writev", "ptrace", "rtas", "s390_runtime_instr", "sys_debug_setcontext"};

constexpr Names kKeyring[] = {"add_key", "keyctl", "request_key"};

constexpr Names kBpf[] = {"bpf"};

constexpr Names kIoUring[] = {"io_uring_enter", "io_uring_register", "io_uring_setup"};

constexpr Names kCpuEmulation[] = {"modify_ldt", "subpage_prot", "switch_endian", "vm86", "vm86old"};

constexpr Names kObsolete[] = {"_sysctl", "afs_syscall", "bdflush", "break", "create_module", "ftime",
                               "get_kernel_syms", "getpmsg", "gtty", "idle", "lock", "mpx", "prof", "profil",
                               "putpmsg", "query_module", "security", "sgetmask", "ssetmask", "stime", "stty",
                               "sysfs", "tuxcall", "ulimit", "uselib", "ustat", "vserver"};

constexpr Names kPrivileged[] = {"@chown", "@clock", "@module", "@raw-io", "@reboot", "@swap", "_sysctl",
                                 "acct", "bpf", "capset", "chroot", "fanotify_init", "fanotify_mark",
                                 "nfsservctl", "open_by_handle_at", "pivot_root", "quotactl", "quotactl_fd",
                                 "setdomainname", "setfsuid", "setfsuid32", "setgroups", "setgroups32",
                                 "sethostname", "setresuid", "setresuid32", "setreuid", "setreuid32", "setuid",
                                 "setuid32", "vhangup"};

// What ordinary programs (shells, interpreters, compilers, git) use. Unlike
// systemd's set of the same name it leaves out @keyring and userfaultfd,
// which are always blocked here anyway, and adds @sandbox so a task may
// restrict itself further.
constexpr Names kSystemService[] = {
    "@aio", "@basic-io", "@chown", "@default", "@file-system", "@io-event", "@ipc", "@memlock", "@network-io",
    "@process", "@resources", "@sandbox", "@setuid", "@signal", "@sync", "@timer", "capget", "capset",
    "copy_file_range", "fadvise64", "fadvise64_64", "flock", "get_mempolicy", "getcpu", "getpriority", "ioctl",
    "ioprio_get", "kcmp", "madvise", "mincore", "mremap", "name_to_handle_at", "oldolduname", "olduname",
    "personality", "readahead", "readdir", "remap_file_pages", "sched_get_priority_max", "sched_get_priority_min",
    "sched_getattr", "sched_getparam", "sched_getscheduler", "sched_rr_get_interval", "sched_rr_get_interval_time64",
    "sendfile", "sendfile64", "setfsgid", "setfsgid32", "setfsuid", "setfsuid32", "setpgid", "setsid", "splice",
    "sysinfo", "tee", "umask", "uname", "vmsplice"};

constexpr SyscallGroup kGroups[] = {
    {"@default", "what every program needs: memory, futexes, time, its own ids, exit", kDefault},
    {"@basic-io", "read, write, seek and close file descriptors", kBasicIo},
    {"@file-system", "open, stat, create, rename and remove files and directories", kFileSystem},
    {"@io-event", "poll, select, epoll, eventfd", kIoEvent},
    {"@ipc", "pipes, SysV and POSIX IPC, memfd", kIpc},
    {"@network-io", "sockets: create, bind, connect, send, receive", kNetworkIo},
    {"@process", "create, signal and wait for processes", kProcess},
    {"@signal", "signal handlers and masks", kSignal},
    {"@timer", "timers and alarms", kTimer},
    {"@sync", "flush files to storage", kSync},
    {"@memlock", "lock memory", kMemlock},
    {"@resources", "scheduling, priorities, NUMA policy, rlimits", kResources},
    {"@chown", "change file owners", kChown},
    {"@setuid", "change user and group ids", kSetuid},
    {"@aio", "Linux native asynchronous I/O (io_setup, io_submit, ...)", kAio},
    {"@sandbox", "restrict oneself further: seccomp, Landlock", kSandbox},
    {"@system-service", "everything ordinary programs use (the shipped tiers' allow list)", kSystemService},
    {"@mount", "mount, unmount, pivot_root, the new mount API, chroot", kMount},
    {"@module", "load and unload kernel modules", kModule},
    {"@reboot", "reboot, kexec", kReboot},
    {"@swap", "swapon, swapoff", kSwap},
    {"@raw-io", "raw I/O ports and PCI configuration", kRawIo},
    {"@clock", "set the system clock", kClock},
    {"@debug", "ptrace, process_vm_readv/writev, perf_event_open, pidfd_getfd", kDebug},
    {"@keyring", "the kernel keyring", kKeyring},
    {"@bpf", "load eBPF programs and maps", kBpf},
    {"@io-uring", "io_uring", kIoUring},
    {"@cpu-emulation", "vm86, modify_ldt and other CPU emulation", kCpuEmulation},
    {"@obsolete", "syscalls no current program uses", kObsolete},
    {"@privileged", "what needs capabilities a task never has", kPrivileged},
};

constexpr Names kRuntime[] = {"clock_gettime", "clone",   "close",          "close_range",     "execve",
                              "exit",          "exit_group", "getrusage",   "kill",            "restart_syscall",
                              "rt_sigaction",  "rt_sigprocmask", "rt_sigreturn", "rt_sigtimedwait", "sendmsg",
                              "sendto",        "setpgid",  "wait4",          "write"};

// --- the always-blocked list ---

constexpr std::span<const Names> kNoNames{};
constexpr std::span<const ArgumentBlock> kNoArguments{};

constexpr Names kClone3[] = {"clone3"};
// clone's and unshare's flags are their first argument on x86_64 (and i386).
constexpr ArgumentBlock kNewUserNamespace[] = {
    {"clone", {0, CLONE_NEWUSER, CLONE_NEWUSER}},
    {"unshare", {0, CLONE_NEWUSER, CLONE_NEWUSER}},
};
constexpr Names kMountApi[] = {"fsconfig", "fsmount",    "fsopen",     "fspick",      "mount",
                               "mount_setattr", "move_mount", "open_tree", "pivot_root", "umount", "umount2"};
constexpr Names kKexec[] = {"kexec_file_load", "kexec_load"};
constexpr Names kPerf[] = {"perf_event_open"};
constexpr Names kPtrace[] = {"ptrace"};
constexpr Names kProcessVm[] = {"process_vm_readv", "process_vm_writev"};
constexpr Names kUserfaultfd[] = {"userfaultfd"};
// ioctl's request is an unsigned int: the kernel ignores the upper 32 bits of
// the register, so only the lower 32 are compared (a filter comparing all 64
// is bypassed with 0x1'0000'5412).
constexpr ArgumentBlock kTiocsti[] = {{"ioctl", {1, 0xffffffffULL, TIOCSTI}}};
constexpr ArgumentBlock kTioclinux[] = {{"ioctl", {1, 0xffffffffULL, TIOCLINUX}}};
// A line discipline other than the terminal's own loads (where the host
// allows ldisc autoloading, Debian's default) and reaches kernel code no
// ordinary program uses, such as n_hdlc and n_gsm, each with privilege
// escalations of its own. Any pty the task opens would do.
constexpr ArgumentBlock kTiocsetd[] = {{"ioctl", {1, 0xffffffffULL, TIOCSETD}}};
// Each flag that turns off or weakens address-space randomisation or NX.
// personality() stores any value it is given except 0xffffffff (the query),
// so every flag is tested on its own. libseccomp 2.5 cannot compare one
// argument twice in a rule, so the query, which has every bit set, is
// refused too (a program can read /proc/self/personality instead).
constexpr ArgumentBlock kPersonality[] = {
    {"personality", {0, ADDR_NO_RANDOMIZE, ADDR_NO_RANDOMIZE}},
    {"personality", {0, ADDR_COMPAT_LAYOUT, ADDR_COMPAT_LAYOUT}},
    {"personality", {0, READ_IMPLIES_EXEC, READ_IMPLIES_EXEC}},
    {"personality", {0, MMAP_PAGE_ZERO, MMAP_PAGE_ZERO}},
    {"personality", {0, ADDR_LIMIT_32BIT, ADDR_LIMIT_32BIT}},
    {"personality", {0, ADDR_LIMIT_3GB, ADDR_LIMIT_3GB}},
};

// socket() families a task may use: local sockets, IP (which the network
// namespace and nftables confine) and netlink (per network namespace; `ip`
// and getaddrinfo use it). Every other family is refused: AF_VSOCK is not
// confined by a network namespace and reaches the hypervisor host of a VM
// (and, on a hypervisor, its guests) whatever the tier's network mode says;
// the rest (AF_PACKET, AF_ALG, AF_TIPC, AF_RDS, ...) are kernel code a task
// never needs, some loaded on demand by the very call.
//
// The refused families below the highest permitted one are grouped into
// aligned blocks, each one masked comparison ({0}, {3}, 4-7, 8-9, {11},
// 12-15), and everything above it is one comparison on all 64 bits: far
// fewer instructions than a rule per family, which the kernel emulates for
// every syscall number when the filter is attached. The family is an int,
// so the blocks compare the lower 32 bits; the last rule also refuses
// families newer than this build, negative numbers and upper bits set.
constexpr bool is_permitted_family(std::uint64_t family) {
  return family == AF_UNIX || family == AF_INET || family == AF_INET6 || family == AF_NETLINK;
}
constexpr std::uint64_t kFamiliesAbove = AF_NETLINK + 1;  // the highest permitted, plus one
constexpr std::size_t kMaxFamilyBlocks = 16;
struct FamilyBlocks {
  std::array<ArgumentBlock, kMaxFamilyBlocks> blocks{};
  std::size_t count = 0;
};
constexpr FamilyBlocks kFamilyBlocks = [] {
  FamilyBlocks out;
  for (std::uint64_t first = 0; first < kFamiliesAbove;) {
    if (is_permitted_family(first)) {
      ++first;
      continue;
    }
    // The largest aligned power-of-two block from first that is all refused.
    std::uint64_t size = 1;
    for (;;) {
      const std::uint64_t next = size * 2;
      if (first % next != 0 || first + next > kFamiliesAbove) break;
      bool all_refused = true;
      for (std::uint64_t family = first; family < first + next; ++family) all_refused &= !is_permitted_family(family);
      if (!all_refused) break;
      size = next;
    }
    out.blocks[out.count++] = {"socket", {0, 0xffffffffULL & ~(size - 1), first}};
    first += size;
  }
  out.blocks[out.count++] = {"socket", {0, 0, kFamiliesAbove, ArgumentMatch::Compare::at_least}};
  return out;
}();
static_assert(kFamilyBlocks.count == 7, "{0}, {3}, 4-7, 8-9, {11}, 12-15 and everything from 17 up");
constexpr std::span<const ArgumentBlock> kSocketFamilies{kFamilyBlocks.blocks.data(), kFamilyBlocks.count};

// Set-user-ID and set-group-ID files. A writable workspace is mapped to its
// owner on the host (often root in CI), so a task that marks a copy of a
// shell set-user-ID there leaves a root shell for any local user, and a
// `nosuid` mount inside the sandbox does not follow the file out. The bits
// come from a mode argument: chmod and friends, mknod and creat always, open
// and openat when they create (O_CREAT, or O_TMPFILE, whose __O_TMPFILE bit
// is enough). mkdir ignores both bits (a directory only inherits set-group-ID
// from its parent) and is left alone; openat2 carries its mode in memory a
// filter cannot read, so it answers ENOSYS and libc's open stays the way in.
// The mode is a umode_t and the flags an int: only their low bits count.
constexpr Names kOpenat2[] = {"openat2"};
constexpr std::uint64_t kTmpfileFlag = 020000000;  // __O_TMPFILE
static_assert((O_TMPFILE & kTmpfileFlag) == kTmpfileFlag);
constexpr auto kSetuidFiles = [] {
  constexpr std::pair<std::string_view, unsigned> kModeArgument[] = {
      {"chmod", 1}, {"creat", 1}, {"fchmod", 1}, {"fchmodat", 2}, {"fchmodat2", 2}, {"mknod", 1}, {"mknodat", 2}};
  constexpr std::pair<std::string_view, unsigned> kCreating[] = {{"open", 1}, {"openat", 2}};  // flags; mode follows
  std::array<ArgumentBlock, 2 * (std::size(kModeArgument) + 2 * std::size(kCreating))> blocks{};
  std::size_t next = 0;
  for (std::uint64_t bit : {std::uint64_t{S_ISUID}, std::uint64_t{S_ISGID}}) {
    for (const auto& [syscall, arg] : kModeArgument) blocks[next++] = {syscall, {arg, bit, bit}};
    for (const auto& [syscall, flags] : kCreating)
      for (std::uint64_t creating : {std::uint64_t{O_CREAT}, kTmpfileFlag})
        blocks[next++] = {syscall, {flags, creating, creating}, ArgumentMatch{flags + 1, bit, bit}};
  }
  return blocks;
}();

constexpr BlockedItem kBlocked[] = {
    {"new_user_namespace",
     "new user namespaces from inside: unshare/clone with CLONE_NEWUSER; clone3 answers ENOSYS (its flags are in "
     "memory a filter cannot read, and libc then falls back to clone)",
     kNoNames, kClone3, kNewUserNamespace},
    {"mount", "mount, umount, pivot_root and the new mount API (open_tree, move_mount, fsopen, fsmount, ...)",
     kMountApi, kNoNames, kNoArguments},
    {"kexec", "kexec_load, kexec_file_load", kKexec, kNoNames, kNoArguments},
    {"kernel_modules", "init_module, finit_module, delete_module", kModule, kNoNames, kNoArguments},
    {"bpf", "bpf (eBPF programs and maps)", kBpf, kNoNames, kNoArguments},
    {"perf_event_open", "perf_event_open", kPerf, kNoNames, kNoArguments},
    {"keyring", "keyctl, add_key, request_key", kKeyring, kNoNames, kNoArguments},
    {"ptrace", "ptrace", kPtrace, kNoNames, kNoArguments},
    {"process_vm", "process_vm_readv, process_vm_writev", kProcessVm, kNoNames, kNoArguments},
    {"userfaultfd", "userfaultfd", kUserfaultfd, kNoNames, kNoArguments},
    {"io_uring", "io_uring_setup, io_uring_enter, io_uring_register", kIoUring, kNoNames, kNoArguments},
    {"tiocsti", "ioctl(TIOCSTI): pushing input into a terminal", kNoNames, kNoNames, kTiocsti},
    {"tioclinux", "ioctl(TIOCLINUX): console selection and paste", kNoNames, kNoNames, kTioclinux},
    {"tiocsetd", "ioctl(TIOCSETD): changing a terminal's line discipline (n_hdlc, n_gsm, ...)", kNoNames, kNoNames,
     kTiocsetd},
    {"personality",
     "personality() with ADDR_NO_RANDOMIZE, ADDR_COMPAT_LAYOUT, READ_IMPLIES_EXEC, MMAP_PAGE_ZERO or the "
     "ADDR_LIMIT flags",
     kNoNames, kNoNames, kPersonality},
    {"foreign_abi", "32-bit x86 (int 0x80) and x32 system call entry on x86_64: the process is killed", kNoNames,
     kNoNames, kNoArguments, true},
    {"socket_families",
     "socket() with a family other than AF_UNIX, AF_INET, AF_INET6 and AF_NETLINK (AF_VSOCK reaches a VM's host "
     "whatever the network namespace); answered EAFNOSUPPORT, as for a family the kernel lacks",
     kNoNames, kNoNames, kSocketFamilies, false, EAFNOSUPPORT},
    {"setuid_files",
     "set-user-ID and set-group-ID modes: chmod, fchmod, fchmodat, fchmodat2, mknod, mknodat and creat with either bit, "
     "open and openat with either bit and O_CREAT or O_TMPFILE; openat2 answers ENOSYS (its mode is in memory a "
     "filter cannot read)",
     kNoNames, kOpenat2, kSetuidFiles},
};

bool contains(std::span<const Names> names, std::string_view name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

}  // namespace

namespace {

void visit_names(std::string_view name, const std::function<void(std::string_view)>& visit, int depth) {
  if (depth > 8) return;  // the table has no cycles; a bound all the same
  if (!name.empty() && name.front() == '@') {
    if (const auto* group = find_syscall_group(name))
      for (auto member : group->members) visit_names(member, visit, depth + 1);
    return;
  }
  // Not checked against libseccomp here (a linear search per name, 0.3 ms
  // for a whole allow list): profile names are checked when the profile is
  // loaded, and the table's by a unit test.
  visit(name);
}

}  // namespace

void for_each_syscall(std::string_view name_or_group, const std::function<void(std::string_view)>& visit) {
  visit_names(name_or_group, visit, 0);
}

std::span<const SyscallGroup> syscall_groups() { return kGroups; }

const SyscallGroup* find_syscall_group(std::string_view name) {
  for (const auto& group : kGroups)
    if (group.name == name) return &group;
  return nullptr;
}

std::vector<std::string> expand_syscall_names(std::string_view name_or_group) {
  std::set<std::string_view> names;
  for_each_syscall(name_or_group, [&](std::string_view name) { names.insert(name); });
  return {names.begin(), names.end()};
}

bool is_known_syscall(std::string_view name) {
  if (name.empty() || name.front() == '@') return false;
  // The tables first: their names are known (a unit test checks), and a
  // profile load then need not page in libseccomp's syscall tables.
  for (const auto& group : kGroups)
    if (contains(group.members, name)) return true;
  const std::string text(name);
  return seccomp_syscall_resolve_name(text.c_str()) != __NR_SCMP_ERROR;
}

std::span<const std::string_view> runtime_syscalls() { return kRuntime; }

std::span<const BlockedItem> always_blocked_items() { return kBlocked; }

const BlockedItem* find_blocked_item(std::string_view id) {
  for (const auto& item : kBlocked)
    if (item.id == id) return &item;
  return nullptr;
}

const BlockedItem* blocked_item_of_syscall(std::string_view syscall) {
  for (const auto& item : kBlocked)
    if (contains(item.syscalls, syscall) || contains(item.enosys_syscalls, syscall)) return &item;
  return nullptr;
}

}  // namespace tierbox::policy
