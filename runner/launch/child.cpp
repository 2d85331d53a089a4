#include "launch/child.h"
#include "launch/exec_server.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstring>

#include "launch/exec_start.h"
#include "launch/init.h"
#include "launch/sync.h"
#include "policy/plan_split.h"
#include "stages/capabilities.h"
#include "stages/cgroup_join.h"
#include "stages/child_failure.h"
#include "stages/landlock.h"
#include "stages/loopback.h"
#include "stages/mounts.h"
#include "stages/process.h"
#include "stages/root.h"
#include "stages/seccomp.h"
#include "stages/secrets.h"
#include "stages/time_namespace.h"
#include "stages/user_namespace.h"
#include "stages/uts.h"

namespace tierbox::launch {
namespace {

std::uint64_t monotonic_ns() noexcept {
  struct timespec now {};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<std::uint64_t>(now.tv_sec) * 1'000'000'000ULL + static_cast<std::uint64_t>(now.tv_nsec);
}

[[noreturn]] void report_failure_and_exit(int sync_fd, ChildStep step, const stages::ChildFailure& failure,
                                          int exit_status) noexcept {
  SyncMessage message;
  message.kind = SyncKind::failure;
  message.step = step;
  message.err = failure.err;
  std::memcpy(message.detail, failure.detail, sizeof message.detail);
  send_sync(sync_fd, message);
  ::_exit(exit_status);
}

bool wait_for(int sync_fd, SyncKind kind, stages::ChildFailure& failure) noexcept {
  if (receive_sync(sync_fd, kind)) return true;
  failure.record(errno).add("recv(sync socket): the parent did not send sync #").add_number(static_cast<int>(kind));
  return false;
}

// The same, taking the fds that come with the message.
bool wait_for(int sync_fd, SyncKind kind, int* fds, std::size_t* count, stages::ChildFailure& failure) noexcept {
  if (receive_sync_with_fds(sync_fd, kind, fds, count)) return true;
  failure.record(errno).add("recvmsg(sync socket): the parent did not send sync #").add_number(static_cast<int>(kind));
  return false;
}

bool unshare_cgroup_namespace(stages::ChildFailure& failure) noexcept {
  // Here, not at clone: on cgroup v1 the child joins its cgroups after sync
  // #2, and the namespace's root is wherever the child is when it is
  // created. The task then sees its own cgroup as "/".
  if (::unshare(CLONE_NEWCGROUP) == 0) return true;
  return failure.fail_errno("unshare(CLONE_NEWCGROUP)");
}

bool change_directory(const char* path, stages::ChildFailure& failure) noexcept {
  if (::chdir(path) == 0) return true;
  return failure.fail_errno("chdir", path);
}

bool block_all_signals(stages::ChildFailure& failure) noexcept {
  sigset_t all;
  sigfillset(&all);
  if (::sigprocmask(SIG_SETMASK, &all, nullptr) == 0) return true;
  return failure.fail_errno("sigprocmask(SIG_SETMASK, all)");
}

// Sync #1b, fds the daemon passes (--pass-fd): the kernel put the received
// fds at the lowest free numbers, which may be the very numbers the task's
// fds must take; those move above the highest first (the parent kept the
// child's own fds off them), then each passed fd is dup'd to its number,
// without close-on-exec (the task keeps it). received: every fd after 0-2.
bool place_passed_fds(const std::vector<int>& targets, int* received, std::size_t received_count,
                      stages::ChildFailure& failure) noexcept {
  const auto is_target = [&](int fd) {
    for (int target : targets)
      if (target == fd) return true;
    return false;
  };
  const int floor = targets.back() + 1;
  for (std::size_t i = 0; i < received_count; ++i) {
    if (!is_target(received[i])) continue;
    const int moved = ::fcntl(received[i], F_DUPFD_CLOEXEC, floor);
    if (moved < 0) return failure.fail_errno("fcntl(F_DUPFD_CLOEXEC) of a received fd off a --pass-fd number");
    ::close(received[i]);
    received[i] = moved;
  }
  for (std::size_t i = 0; i < targets.size(); ++i) {
    if (::dup2(received[i], targets[i]) < 0) return failure.fail_errno("dup2(a --pass-fd fd to its number)");
    ::close(received[i]);
  }
  return true;
}

// Sync #1b: the task's fds 0-2 go onto 0-2; sent passed fds onto their
// numbers; the run's own trees, in the order of their mount ops, into
// prepared_fds (a missing optional one: -1).
bool receive_run_inputs(const ChildContext& context, stages::ChildFailure& failure) noexcept {
  static int fds[3 + 64 + 64 + kMaxSyncFds];
  std::size_t have = 0;
  SyncMessage message;
  do {
    std::size_t count = 0;
    if (!receive_sync_message(context.sync_fd, SyncKind::run_inputs, message, fds + have, &count)) {
      failure.record(errno).add("recvmsg(sync socket): the parent did not send sync #1b");
      return false;
    }
    have += count;
  } while (have < message.fds_total && have + kMaxSyncFds <= sizeof fds / sizeof fds[0]);
  if (have != message.fds_total || have < 3) {
    failure.record(EPROTO).add("sync #1b: ").add_number(static_cast<std::int64_t>(have)).add(" fds arrived of ")
        .add_number(message.fds_total);
    return false;
  }
  for (int target = 0; target < 3; ++target) {
    if (fds[target] == target) continue;
    if (::dup2(fds[target], target) < 0) return failure.fail_errno("dup2(the task's standard fd)");
    ::close(fds[target]);
  }
  std::size_t next = 3;
  if (context.pass_fds_sent) {
    const auto& targets = context.plan->pass_fds;
    if (have < 3 + targets.size()) {
      failure.record(EPROTO).add("sync #1b: fewer fds than the task's --pass-fd numbers");
      return false;
    }
    if (!place_passed_fds(targets, fds + 3, have - 3, failure)) return false;
    next += targets.size();
  }
  const auto& ops = context.plan->mount_ops;
  std::size_t ordinal = 0;
  for (std::size_t i = policy::first_run_op(*context.plan); i < ops.size(); ++i) {
    if (ops[i].kind != policy::MountOp::Kind::attach_prepared || ops[i].prepared < 0) continue;
    const bool missing = ordinal < 64 && (message.missing_trees & (1ULL << ordinal));
    context.prepared_fds[static_cast<std::size_t>(ops[i].prepared)] = missing || next >= have ? -1 : fds[next++];
    ++ordinal;
  }
  return true;
}

// Exec argv[0], searching the PATH of the sandbox's environment (execvpe
// would search the runner's). Returns the errno to report (exec_start.h).
int exec_searching_path(const ChildContext& context) noexcept {
  const RunInputs& run = *context.run;
  const char* file = run.argv[0];
  // allowed_commands: the file the parent resolved and checked, no search.
  if (run.exec_path[0] != '\0') {
    ::execve(run.exec_path, run.argv, run.envp);
    return errno;
  }
  return exec_searching(run.exec_search_path, file, run.argv, run.envp);
}


// The task: pid 2 of the sandbox, in its own process group. Signals back to
// their defaults, report #3, exec.
[[noreturn]] void run_task(const ChildContext& context, SyncMessage& ready) noexcept;

struct TaskStart {
  const ChildContext* context;
  SyncMessage* ready;
};

// The task's stack until it execs. It shares init's memory (CLONE_VM), so it
// needs a stack of its own; static, because nothing may be allocated here.
alignas(64) char g_task_stack[128 * 1024];

int task_entry(void* start) {
  auto* task = static_cast<TaskStart*>(start);
  run_task(*task->context, *task->ready);
}

// clone(CLONE_VM | CLONE_VFORK), the way posix_spawn starts a process: no copy
// of init's page tables (a fork of the runner's address space costs about
// 0.1 ms), and init sleeps until the task has exec'd or died.
pid_t start_task(const ChildContext& context, SyncMessage& ready) noexcept {
  TaskStart start{&context, &ready};
  const pid_t task = ::clone(task_entry, g_task_stack + sizeof g_task_stack, CLONE_VM | CLONE_VFORK | SIGCHLD, &start);
  if (task >= 0 || errno != EINVAL) return task;
  // Linux 5.6-5.19 refuse CLONE_VM into another time namespace (6.0+ let a
  // vfork child enter it at execve). Without CLONE_VM the task gets a copy
  // of init's memory, and with it the time namespace at once.
  return ::clone(task_entry, g_task_stack + sizeof g_task_stack, CLONE_VFORK | SIGCHLD, &start);
}

[[noreturn]] void run_task(const ChildContext& context, SyncMessage& ready) noexcept {
  stages::ChildFailure failure;
  // The sync fd is close-on-exec: its EOF tells the parent exec succeeded.
  // The fds the plan passes stay, at their numbers.
  if (!stages::close_fds_except(context.task_keep_fds.data(), context.task_keep_fds.size(), failure))
    report_failure_and_exit(context.sync_fd, ChildStep::fork_task, failure, 125);
  ::setpgid(0, 0);
  reset_signals(context.ignored_signals);

  ready.kind = SyncKind::ready_to_exec;
  ready.step_done_ns[static_cast<std::uint32_t>(ChildStep::report_ready)] = monotonic_ns();
  if (!send_sync(context.sync_fd, ready)) ::_exit(125);

  int err = exec_searching_path(context);
  failure.record(err).add("execve(").add_quoted(context.run->argv[0]).add(")");
  report_failure_and_exit(context.sync_fd, ChildStep::exec, failure, err == ENOENT ? 127 : 126);
}

}  // namespace

[[noreturn]] void run_child(const ChildContext& context) noexcept {
  const auto& plan = *context.plan;
  stages::ChildFailure failure;
  stages::LinuxMountSyscalls mount_syscalls;
  SyncMessage ready;  // carries the step timings to the parent with #3
  const auto step = [&](ChildStep which, bool ok) {
    if (!ok) report_failure_and_exit(context.sync_fd, which, failure, 125);
    ready.step_done_ns[static_cast<std::uint32_t>(which)] = monotonic_ns();
  };
  const std::size_t first_run_op = policy::first_run_op(plan);
  const stages::BuildRootInput tier_root{&plan, context.prepared_fds.data(), context.have_mount_setattr, 0, first_run_op};
  const stages::BuildRootInput run_root{&plan, context.prepared_fds.data(), context.have_mount_setattr, first_run_op};

  // Every fd but its own came along with clone3: the runner's end of the
  // pair (closed, a runner that dies before the task starts makes every wait
  // for a sync point below read EOF, and the child exits instead of waiting
  // forever), and in a runner with threads (the daemon, a pool refilling)
  // another launch's fds: its child's end of the sync socket held here would
  // keep that launch from ever reading EOF after its exec, some are far above
  // the task's RLIMIT_NOFILE (the kernel then could not install the fds the
  // syncs carry) and some hold their runs' locks. The task's stdio (the
  // caller's, in the daemon) comes with sync #1b.
  step(ChildStep::own_fds_only, stages::close_fds_except(context.own_fds.data(), context.own_fds.size(), failure));
  step(ChildStep::parent_death_signal, stages::set_parent_death_signal(failure));
  step(ChildStep::wait_ids_mapped, wait_for(context.sync_fd, SyncKind::ids_mapped, failure));  // sync #1
  // Changing credentials clears the parent-death signal (prctl(2)): set it
  // again at once, as after becoming the task user below.
  step(ChildStep::become_setup_root, stages::become_setup_root(failure) && stages::set_parent_death_signal(failure));
  step(ChildStep::forbid_nested_user_namespaces, stages::forbid_nested_user_namespaces(failure));
  step(ChildStep::private_mounts, stages::make_mounts_private(failure));
  step(ChildStep::build_root, stages::enter_new_root(plan.root_size_bytes, failure) &&
                                  stages::build_root(tier_root, mount_syscalls, failure));
  // The steps that depend on the tier only (its hostname, its network mode)
  // come before #1b, so a sandbox prepared ahead has them done when its
  // request comes.
  // A joined UTS namespace (a pod's) has its owner's name, and this child
  // has no privilege over it (its owner's user namespace is another).
  step(ChildStep::hostname, policy::joins_namespace(plan, CLONE_NEWUTS) || stages::set_host_name(plan.hostname.c_str(), failure));
  // For the task, which enters it at execve; init keeps the host's clocks.
  step(ChildStep::time_namespace, stages::enter_time_namespace_for_children(failure));
  // Mode host has no network namespace of its own: lo is the host's (and up).
  // A joined network namespace is its owner's: lo is up there already.
  step(ChildStep::loopback, plan.network == policy::NetworkMode::host || policy::joins_namespace(plan, CLONE_NEWNET) ||
                                stages::bring_up_loopback(failure));
  // A sandbox prepared ahead of its request waits here (prepared_sandbox.h).
  step(ChildStep::wait_run_inputs, receive_run_inputs(context, failure));  // sync #1b
  step(ChildStep::build_run_root, stages::build_root(run_root, mount_syscalls, failure));
  step(ChildStep::pivot_root, stages::pivot_into_new_root(failure));
  step(ChildStep::root_read_only, stages::make_root_read_only(failure));
  if (plan.secrets)
    step(ChildStep::write_secrets, stages::write_secrets(*plan.secrets, plan.task_uid, plan.task_gid, failure));
  step(ChildStep::rlimits, stages::apply_rlimits(context.run->rlimits, context.run->rlimit_count, failure));
  int join_fds[kMaxSyncFds];
  std::size_t join_count = 0;
  step(ChildStep::wait_network_ready, wait_for(context.sync_fd, SyncKind::network_ready, join_fds, &join_count, failure));  // sync #2
  step(ChildStep::join_cgroups, stages::join_cgroups(join_fds, join_count, failure));
  step(ChildStep::cgroup_namespace, unshare_cgroup_namespace(failure));
  step(ChildStep::new_session, stages::start_new_session(failure));
  step(ChildStep::close_fds, stages::close_fds_except(context.keep_fds.data(), context.keep_fds.size(), failure));
  // Landlock while the child still has CAP_SYS_ADMIN in its user namespace
  // (landlock_restrict_self needs it or no_new_privs), on the new root's paths.
  step(ChildStep::landlock, stages::apply_landlock(plan.landlock, failure));
  step(ChildStep::drop_capabilities, stages::drop_bounding_and_ambient(context.capabilities, failure));
  step(ChildStep::no_new_privs, stages::set_no_new_privs(failure));
  step(ChildStep::become_task_user, stages::become_task_user(plan.task_uid, plan.task_gid, failure) &&
                                        stages::clear_capability_sets(context.capabilities, failure) &&
                                        stages::set_parent_death_signal(failure));
  step(ChildStep::session_keyring, stages::join_new_session_keyring(failure));  // owned by the task user
  step(ChildStep::verify_capabilities, stages::verify_no_capabilities(context.capabilities, failure));
  step(ChildStep::working_directory, change_directory(context.run->cwd, failure));
  // #2a: set up, in its cgroups, namespaces and credentials; the parent may
  // now report the sandbox created (an OCI create returns with init here).
  SyncMessage set_up;
  set_up.kind = SyncKind::set_up;
  step(ChildStep::report_set_up, send_sync(context.sync_fd, set_up) || failure.fail_errno("send", "sync socket, #2a"));
  // The start record is on disk before anything of the task runs (fail
  // closed: no #2b, no task); its fsync ran while the steps above did.
  step(ChildStep::wait_start_allowed, wait_for(context.sync_fd, SyncKind::start_allowed, failure));  // sync #2b
  stages::set_process_title(context.title_area, context.title_size, "tierbox-init");
  // Last: init and the task share the filters, and everything above ran
  // without them (see policy/seccomp_groups.h for what init still needs).
  // (exec) init's signals through a signalfd, made before the filter.
  ExecServer exec_server{context.exec_listener, -1, context.ignored_signals};
  if (context.exec_listener >= 0) {
    sigset_t all;
    sigfillset(&all);
    exec_server.signal_fd = ::signalfd(-1, &all, SFD_CLOEXEC);
    if (exec_server.signal_fd < 0) step(ChildStep::seccomp, failure.fail_errno("signalfd(every signal)"));
  }
  int listener = -1;
  step(ChildStep::seccomp, stages::install_seccomp(*context.seccomp, &listener, failure));
  ready.seccomp_listener = listener;  // init keeps it; the task closes its copy before exec
  // Signals stay blocked in init (it takes them with sigwaitinfo) from before
  // the fork, so none is lost in between; the task unblocks its own.
  step(ChildStep::fork_task, block_all_signals(failure));
  const pid_t task = start_task(context, ready);  // sync #3, then exec
  if (task < 0) step(ChildStep::fork_task, failure.fail_errno("clone(CLONE_VM|CLONE_VFORK)"));
  ::close(context.sync_fd);
  if (exec_server.listener >= 0) run_init_serving_exec(task, context.status_fd, exec_server);
  run_init(task, context.status_fd);
}

}  // namespace tierbox::launch
