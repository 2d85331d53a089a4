#include "launch/launcher.h"

#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "audit/audit_log.h"
#include "common/errors.h"
#include "common/logging.h"
#include "common/process_info.h"
#include "common/rfc3339.h"
#include "launch/child.h"
#include "launch/launch_cgroups.h"
#include "launch/prepared_sandbox.h"
#include "launch/parent_sync.h"
#include "launch/run_inputs.h"
#include "policy/plan_split.h"
#include "control/control_server.h"
#include "launch/run_registry.h"
#include "launch/run_slot.h"
#include "launch/supervisor.h"
#include "launch/workspace_review.h"
#include "launch/sync.h"
#include "stages/capabilities.h"
#include "stages/cgroup.h"
#include "stages/network.h"
#include "stages/joined_namespaces.h"
#include "stages/placeholders.h"
#include "stages/prepared_mounts.h"
#include "stages/process.h"
#include "stages/seccomp_cache.h"
#include "stages/root_layer.h"
#include "stages/termination_message.h"
#include "stages/staged_overlay.h"
#include "stages/seccomp_notify.h"
#include "stages/user_namespace.h"

namespace tierbox::launch {
namespace {

char* g_title_area = nullptr;
std::size_t g_title_size = 0;

// Every namespace but cgroup, which the child unshares after sync #2 (see
// child.cpp: on cgroup v1 it must first join its cgroups), and network,
// which network mode host leaves out.
constexpr std::uint64_t kNamespaces = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS;

std::uint64_t namespaces_for(const policy::LaunchPlan& plan) {
  return plan.network == policy::NetworkMode::host ? kNamespaces : kNamespaces | CLONE_NEWNET;
}

// Through the daemon the task's passed fds are placed at their numbers in the
// child at sync #1b (child.cpp): none of the fds the child keeps from clone3
// may sit at one of those numbers, which in the daemon's table name anything
// (another session's socket). Moves fd above the highest of them. On the
// direct path those numbers are the caller's own open fds: nothing collides.
void keep_clear_of_passed_fds(UniqueFd& fd, const std::vector<int>& pass_fds) {
  if (!fd || !std::binary_search(pass_fds.begin(), pass_fds.end(), fd.get())) return;
  const int floor = pass_fds.back() + 1;
  UniqueFd moved(::fcntl(fd.get(), F_DUPFD_CLOEXEC, floor));
  if (!moved)
    throw_sys_error("fcntl(" + std::to_string(fd.get()) + ", F_DUPFD_CLOEXEC, " + std::to_string(floor) +
                    "): moving a fd of the launch off a number the task's --pass-fd takes");
  fd = std::move(moved);
}

// The sandbox's network namespace, for the network helper; its inode goes
// into the run's record so that isolation can tell this sandbox from a
// later process with the same pid.
UniqueFd open_network_namespace(pid_t pid, std::uint64_t& inode) {
  const auto path = "/proc/" + std::to_string(pid) + "/ns/net";
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) throw_sys_error("open(" + quote(path) + ")");
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) throw_sys_error("fstat(" + quote(path) + ")");
  inode = st.st_ino;
  return fd;
}

// Kills and reaps the sandbox unless released: no error path leaves one behind.
class SandboxGuard {
 public:
  explicit SandboxGuard(int pidfd) : pidfd_(pidfd) {}
  ~SandboxGuard() {
    if (pidfd_ >= 0) kill_and_reap(pidfd_);
  }
  SandboxGuard(const SandboxGuard&) = delete;
  SandboxGuard& operator=(const SandboxGuard&) = delete;
  void release() { pidfd_ = -1; }

 private:
  int pidfd_;
};

// Which signals the runner ignores (SigIgn of /proc/self/status): one read
// instead of 64 rt_sigaction calls in the task.
std::uint64_t ignored_signals() {
  UniqueFd fd(::open("/proc/self/status", O_RDONLY | O_CLOEXEC));
  // Unknown: then reset them all.
  if (!fd) return ~0ULL;
  char buffer[4096];
  ssize_t n = ::read(fd.get(), buffer, sizeof buffer - 1);
  if (n <= 0) return ~0ULL;
  buffer[n] = '\0';
  const char* field = std::strstr(buffer, "\nSigIgn:");
  if (!field) return ~0ULL;
  return std::strtoull(field + 9, nullptr, 16);
}

void record_task_status(Outcome& outcome, const SupervisionResult& result) {
  if (result.task_exit) {
    const int status = result.task_exit->status;
    if (WIFEXITED(status)) outcome.exit_code = WEXITSTATUS(status);
    else if (WIFSIGNALED(status)) outcome.signal = WTERMSIG(status);
  } else if (WIFSIGNALED(result.init_status)) {
    outcome.signal = WTERMSIG(result.init_status);  // the whole sandbox was killed
  }
  outcome.timed_out = result.timed_out;
}

UniqueFd take_listener(int pidfd, int fd_in_init) {
  UniqueFd listener(static_cast<int>(::syscall(SYS_pidfd_getfd, pidfd, fd_in_init, 0)));
  if (!listener) throw_sys_error("pidfd_getfd(sandbox init, fd " + std::to_string(fd_in_init) + " (the seccomp listener))");
  return listener;
}

void log_landlock(const policy::LandlockPlan& landlock) {
  for (const auto& missing : landlock.not_enforced)
    logging::warn("Landlock ({}): this kernel cannot enforce {}; the task runs without it", to_string(landlock.setting),
                  missing);
  if (landlock.abi == 0) {
    logging::step("landlock: not applied ({})", to_string(landlock.setting));
    return;
  }
  logging::step("landlock: ABI {} ({}), {} path rules, {} port rules{}", landlock.abi, to_string(landlock.setting),
                landlock.paths.size(), landlock.ports.size(),
                landlock.scoped ? ", abstract unix sockets and signals scoped" : "");
}

}  // namespace

void set_process_title_area(char* area, std::size_t size) {
  g_title_area = area;
  g_title_size = size;
}

struct PreparedSandbox::State {
  State(std::string sandbox_id, const std::filesystem::path& state_dir)
      : id(std::move(sandbox_id)), registry(state_dir) {}
  std::string id;
  RunSlot slot;
  stages::IdMapping ids;
  RunRegistry registry;
  // The run's entry. The cold path registers it in step 2; a sandbox prepared
  // ahead has none until its run comes (step 7b): its cgroups hold its child,
  // so `tierbox gc` leaves them alone meanwhile.
  std::optional<RunRegistry::Entry> run_entry;
  std::optional<net::RunNetwork> network;
  std::optional<stages::NetworkSession> network_session;
  stages::LinuxCgroupSyscalls cgroup_syscalls;
  std::optional<stages::RunCgroups> cgroups;
  bool have_mount_setattr = true;
  RunInputsArea run_inputs;
  Channel channel;
  Pipe status;
  std::vector<bool> run_trees;  // which prepared mounts the run brings (policy::run_trees)
  UniqueFd pidfd;
  pid_t pid = 0;
  std::optional<SandboxGuard> guard;  // after pidfd: kills the child before it is closed
  bool ids_sent = false;  // sync #1 reached the child
  bool pass_fds_sent = false;  // the plan's pass_fds come with sync #1b (LaunchHooks::pass_fd_sources)
  UniqueFd termination_message;  // the task's termination-message file (stages/termination_message.h)
};

PreparedSandbox::PreparedSandbox(std::unique_ptr<State> state) : state_(std::move(state)) {}
PreparedSandbox::~PreparedSandbox() = default;

const std::string& PreparedSandbox::id() const { return state_->id; }

bool PreparedSandbox::waiting() const {
  struct pollfd check[2] = {{state_->pidfd.get(), POLLIN, 0}, {state_->channel.parent_end.get(), POLLIN, 0}};
  return state_->ids_sent && ::poll(check, 2, 0) == 0;
}

std::unique_ptr<PreparedSandbox> PreparedSandbox::prepare(const policy::LaunchPlan& plan,
                                                          const policy::RunnerConfig& config, const std::string& id,
                                                          int exec_listener, bool pass_fds_sent) {
  auto state = std::make_unique<State>(id, config.state_dir);
  auto& sandbox = *state;

  // Parent 1: a run slot, and from it the task's host ids, locked host-wide
  // (no live run of another state_dir has them). Only the task's id: inside
  // root's, host_id_base, is every run's by design (docs/launch-sequence.md).
  sandbox.slot = acquire_run_slot({config.state_dir / "slots", config.max_concurrent_runs, config.host_id_base});
  sandbox.ids = stages::IdMapping{plan.task_uid, plan.task_gid, config.host_id_base, sandbox.slot.host_id};
  logging::step("run slot {}: the task is host uid {}", sandbox.slot.index, sandbox.ids.host_task);

  // Parent 2: register the run (its lock), before anything is made on the
  // host, so that `tierbox gc` can always find what a crashed runner left.
  // A sandbox prepared ahead registers its run when it comes (7b).
  RunRecord record;
  record.run_id = plan.run_id;
  record.tier = plan.tier;
  record.runner_pid = ::getpid();
  record.network_mode = policy::to_string(plan.network);
  // A pod's container that joins its pod sandbox's network namespace runs
  // under that sandbox's rules (policy/planner.cpp): no network of its own.
  if (plan.egress && !policy::joins_namespace(plan, CLONE_NEWNET)) {
    sandbox.network = with_stage("network", [&] {
      return stages::plan_run_network(*plan.egress, config, sandbox.slot.index, plan.run_id, sandbox.slot.path);
    });
    record.resources["network"] = net::to_json(*sandbox.network);
  }
  if (id == plan.run_id) {
    sandbox.run_entry.emplace(with_stage("register the run", [&] { return sandbox.registry.register_run(std::move(record)); }));
    logging::step("run {} registered", plan.run_id);
  }

  // Parent 2b (allowlist, cold path only): the record first (what gc would
  // clean), then the network helper, which prepares the host side while this
  // runner clones.
  if (sandbox.network) {
    with_stage("register the run", [&] { sandbox.run_entry->update(); });
    with_stage("network", [&] { sandbox.network_session.emplace(*sandbox.network, sandbox.slot.lock.get(), sandbox.slot.id_lock.get()); });
    logging::step("network helper started (pid {}): subnet {}, host interface {}",
                  sandbox.network_session->helper_pid(), sandbox.network->addresses.subnet.to_string(),
                  sandbox.network->addresses.host_interface);
  }

  // Parent 2c: choose the run's cgroups and make the v2 part, which clone3
  // enters; a host that cannot enforce a required limit refuses here.
  sandbox.cgroups.emplace(with_stage("cgroup", [&] { return create_cgroups(plan, config, id, sandbox.cgroup_syscalls); }));
  logging::step("cgroups chosen");

  // Parent 3: open and seal every host tree the tier's part of the root binds
  // (the run's own come with sync #1b).
  sandbox.have_mount_setattr = stages::kernel_has_mount_setattr();
  sandbox.run_trees = policy::run_trees(plan);
  std::vector<bool> tier_trees(sandbox.run_trees.size());
  for (std::size_t i = 0; i < tier_trees.size(); ++i) tier_trees[i] = !sandbox.run_trees[i];
  auto prepared = with_stage("prepare mounts", [&] {
    return stages::prepare_mounts(plan, sandbox.ids.host_task, sandbox.ids.host_task, sandbox.have_mount_setattr,
                                  &tier_trees);
  });
  logging::step("{} host trees of the tier opened and sealed", prepared.trees.size());
  // Parent 3 (a container's writable root): the image's directories become
  // overlays on the sandbox's own layer (stages/root_layer.h).
  if (plan.root_layer) {
    const auto layer = with_stage("root layer", [&] {
      return stages::make_root_layer(plan, prepared.trees, config.state_dir, id, sandbox.ids.host_task,
                                     sandbox.ids.host_task, sandbox.have_mount_setattr);
    });
    logging::step("root layer: {} image directories writable on a layer of {} bytes ({} id-mapped to the task; {} "
                  "directories of the others made ahead{}; {})",
                  layer.overlays, plan.root_layer->size_bytes, layer.idmapped, layer.mirrored_directories,
                  layer.mirror_cut ? ", cut at the limit: the rest stay the image's owners'" : "",
                  layer.detached ? "a detached tmpfs, its directories given by fd"
                                 : "mounted under the state directory while the overlays were made");
  }

  // Parent 3 (a container's termination-message file): the task's own file
  // on a small tmpfs of the runner's (stages/termination_message.h).
  if (plan.termination_message)
    sandbox.termination_message = with_stage("termination message", [&] {
      return stages::make_termination_message_file(plan, prepared.trees, config.state_dir, id, sandbox.ids.host_task,
                                                   sandbox.ids.host_task, sandbox.have_mount_setattr);
    });

  // Parent 4: the sync channel, init's status pipe, the block the run's
  // inputs go into, the child's inputs, among them the seccomp filters,
  // compiled here (or read from the cache): the child may not allocate, and
  // libseccomp does.
  const auto seccomp = with_stage("seccomp", [&] {
    return stages::load_or_compile_seccomp(plan.seccomp, config.state_dir / "cache" / "seccomp");
  });
  logging::step("seccomp: {} + {} BPF instructions, {}{}", seccomp.filters.arguments.size(),
                seccomp.filters.syscalls.size(), seccomp.from_cache ? "from the cache" : "compiled",
                seccomp.cache_note.empty() ? "" : " (" + seccomp.cache_note + ")");
  for (const auto& item : plan.seccomp.allow_dangerous) logging::step("seccomp: the tier opts in to the always-blocked '{}'", item);
  sandbox.channel = make_sync_channel();
  sandbox.status = make_status_pipe();
  sandbox.pass_fds_sent = pass_fds_sent && !plan.pass_fds.empty();
  if (sandbox.pass_fds_sent) {
    keep_clear_of_passed_fds(sandbox.channel.child_end, plan.pass_fds);
    keep_clear_of_passed_fds(sandbox.status.write_end, plan.pass_fds);
    for (auto& tree : prepared.trees) keep_clear_of_passed_fds(tree, plan.pass_fds);
  }
  ChildContext context;
  context.plan = &plan;
  context.sync_fd = sandbox.channel.child_end.get();
  context.status_fd = sandbox.status.write_end.get();
  context.prepared_fds = prepared.raw_fds();
  context.pass_fds_sent = sandbox.pass_fds_sent;
  context.keep_fds = {context.sync_fd, context.status_fd};
  // (exec) init keeps the container's exec socket; the task does not get it.
  context.exec_listener = exec_listener;
  if (exec_listener >= 0) context.keep_fds.push_back(exec_listener);
  context.keep_fds.insert(context.keep_fds.end(), plan.pass_fds.begin(), plan.pass_fds.end());
  std::sort(context.keep_fds.begin(), context.keep_fds.end());
  // The passed fds are the child's from clone3 on the direct path; sent
  // ones (the daemon) arrive with sync #1b, and the numbers they take are
  // the daemon's unrelated fds until then: not kept.
  context.own_fds = {context.sync_fd, context.status_fd};
  if (exec_listener >= 0) context.own_fds.push_back(exec_listener);
  if (!sandbox.pass_fds_sent) context.own_fds.insert(context.own_fds.end(), plan.pass_fds.begin(), plan.pass_fds.end());
  for (int tree : context.prepared_fds)
    if (tree >= 0) context.own_fds.push_back(tree);
  std::sort(context.own_fds.begin(), context.own_fds.end());
  context.task_keep_fds = {context.sync_fd};
  context.task_keep_fds.insert(context.task_keep_fds.end(), plan.pass_fds.begin(), plan.pass_fds.end());
  std::sort(context.task_keep_fds.begin(), context.task_keep_fds.end());
  context.run = sandbox.run_inputs.inputs();
  context.capabilities = stages::prepare_capability_input();
  context.seccomp = &seccomp.filters;
  context.have_mount_setattr = sandbox.have_mount_setattr;
  context.ignored_signals = ignored_signals();
  context.title_area = g_title_area;
  context.title_size = g_title_size;

  // Parent 5 is the caller's: launch() blocks the relayed signals before this
  // (the child inherits the mask); a pool prepares on a thread that blocks all.

  // Parent 6: clone3 into the new namespaces and, on cgroup v2, straight
  // into the run's cgroup: the task never runs anywhere else.
  // (A pod's container) the thread enters the pod's namespaces it joins;
  // clone3 leaves their flags out, so init starts inside them.
  std::optional<stages::JoinedNamespaces> joined;
  if (!plan.joined_namespaces.empty())
    with_stage("joined namespaces", [&] { joined.emplace(plan.joined_namespaces); });
  int pidfd_raw = -1;
  struct clone_args args {};
  args.flags = (namespaces_for(plan) & ~(joined ? joined->flags() : 0)) | CLONE_PIDFD;
  args.pidfd = reinterpret_cast<std::uint64_t>(&pidfd_raw);
  args.exit_signal = SIGCHLD;
  if (sandbox.cgroups->clone_into_fd() >= 0) {
    args.flags |= CLONE_INTO_CGROUP;
    args.cgroup = static_cast<std::uint64_t>(sandbox.cgroups->clone_into_fd());
  }
  const long pid = ::syscall(SYS_clone3, &args, sizeof args);
  if (pid < 0)
    throw_sys_error("clone3(" + describe_flags(args.flags, {{CLONE_NEWUSER, "CLONE_NEWUSER"}, {CLONE_NEWNS, "CLONE_NEWNS"},
                                                            {CLONE_NEWPID, "CLONE_NEWPID"}, {CLONE_NEWNET, "CLONE_NEWNET"},
                                                            {CLONE_NEWIPC, "CLONE_NEWIPC"}, {CLONE_NEWUTS, "CLONE_NEWUTS"},
                                                            {CLONE_PIDFD, "CLONE_PIDFD"},
                                                            {CLONE_INTO_CGROUP, "CLONE_INTO_CGROUP"}}) + ")");
  if (pid == 0) run_child(context);
  sandbox.pidfd = UniqueFd(pidfd_raw);
  sandbox.pid = static_cast<pid_t>(pid);
  sandbox.guard.emplace(sandbox.pidfd.get());
  if (joined) {
    with_stage("joined namespaces", [&] { joined->restore(); });
    logging::step("clone3 in {} joined namespaces, the runner back in its own", plan.joined_namespaces.size());
  }
  sandbox.channel.child_end.reset();
  sandbox.status.write_end.reset();
  prepared.trees.clear();
  logging::step("clone3: sandbox init is host pid {}", pid);
  // (allowlist) The sandbox's network namespace exists now: the helper can
  // start attaching it while this runner writes the id maps and the record.
  if (sandbox.network_session) {
    with_stage("network", [&] {
      sandbox.network_session->begin_attach(open_network_namespace(sandbox.pid, sandbox.network->netns_inode).get());
    });
  }

  // Parent 7: id maps, then sync #1; the child builds the tier's part of the
  // root and waits for #1b.
  with_stage("user namespace", [&] { stages::write_id_maps(sandbox.pid, sandbox.ids); });
  sandbox.ids_sent = send_to_child(sandbox.channel.parent_end.get(), SyncKind::ids_mapped);
  if (sandbox.ids_sent) logging::step("sync #1 sent (id maps written)");
  return std::unique_ptr<PreparedSandbox>(new PreparedSandbox(std::move(state)));
}

namespace {

// Kills and reaps the sandbox when it goes out of scope, unless released.
struct KillFirst {
  std::optional<SandboxGuard>& guard;
  ~KillFirst() { guard.reset(); }
};

}  // namespace

Outcome run_prepared(std::unique_ptr<PreparedSandbox> prepared_sandbox, const policy::LaunchPlan& plan,
                     const policy::RunnerConfig& config, const LaunchHooks& hooks) {
  auto& sandbox = *prepared_sandbox->state_;
  log_landlock(plan.landlock);
  if (plan.secrets) logging::step("secrets: {} files at {}", plan.secrets->files.size(), plan.secrets->target);
  if (!plan.pass_fds.empty()) logging::step("{} fds passed to the task", plan.pass_fds.size());
  Outcome outcome;
  outcome.run_id = plan.run_id;
  outcome.overrides = plan.overrides;
  outcome.landlock = policy::landlock_report(plan.landlock);
  outcome.cgroup = sandbox.cgroups->report();
  outcome.pid = sandbox.pid;
  outcome.started_at = std::chrono::system_clock::now();
  const auto started = std::chrono::steady_clock::now();
  const auto deadline = started + plan.wall_time;
  auto& cgroups = *sandbox.cgroups;
  // Parent 5 (the run's): relay signals to the sandbox from here on, unless
  // the entry point relays them itself (the daemon, whose own SIGTERM must
  // stop the daemon, not one of its tasks). On the cold path launch()
  // blocked them before clone already, so none is lost.
  std::optional<SignalRelay> relay;
  if (hooks.relay_signals) relay.emplace();

  // Parent 7b: the run's entry (a sandbox prepared ahead registers its run
  // now; its cgroups keep the sandbox's id, which the record names), the
  // placeholders of missing protected paths (in the record before the
  // sandbox can see them, so gc finds them after a crash), the run's own
  // trees opened and sealed, its inputs written, then sync #1b.
  if (!sandbox.run_entry) {
    RunRecord record;
    record.run_id = plan.run_id;
    record.tier = plan.tier;
    record.runner_pid = ::getpid();
    record.network_mode = policy::to_string(plan.network);
    sandbox.run_entry.emplace(with_stage("register the run", [&] { return sandbox.registry.register_run(std::move(record)); }));
    logging::step("run {} registered (sandbox {} prepared ahead)", plan.run_id, sandbox.id);
    logging::step("prepared sandbox init is host pid {}", sandbox.pid);
  }
  auto& run_entry = *sandbox.run_entry;
  auto& record = run_entry.record();
  record.argv = plan.argv;
  record.requester_uid = plan.requester_uid;
  record.requester = plan.requester;
  record.sudo_uid = plan.requester_sudo_uid;
  record.sudo_user = plan.requester_sudo_user;
  record.started_at = rfc3339_utc(outcome.started_at);
  record.overrides = plan.overrides;
  auto placeholders = with_stage("protected paths", [&] { return stages::create_placeholders(plan.placeholders); });
  // On an error path the sandbox dies before its placeholders and record go
  // (as the guard's place after them in launch() always had it): a
  // placeholder removed under a running task would take its stand-in along.
  KillFirst kill_first{sandbox.guard};
  if (!placeholders.held.empty()) {
    record.resources["placeholders"] = placeholders.to_record();
    with_stage("register the run", [&] { run_entry.update(); });
    logging::step("{} placeholders for protected paths", placeholders.held.size());
  }
  auto run_trees = with_stage("prepare mounts", [&] {
    return stages::prepare_mounts(plan, sandbox.ids.host_task, sandbox.ids.host_task, sandbox.have_mount_setattr,
                                  &sandbox.run_trees);
  });
  // A writable workspace's git state as it is before the task (compared
  // after it: workspace_review.h).
  // Parent 7b (staged workspace): the run's layer, and the overlay that
  // takes the workspace tree's place (stages/staged_overlay.h); the
  // workspace is one of the run's trees, so a prepared sandbox takes it too.
  const auto staged_layer = with_stage("staged workspace", [&] {
    return stages::stage_workspace(plan, run_trees.trees, config.state_dir, sandbox.ids.host_task,
                                   sandbox.have_mount_setattr);
  });
  if (!staged_layer.empty()) logging::step("staged workspace: the task writes {}", staged_layer.string());
  const bool review_workspace = plan.workspace && plan.workspace->writable && !plan.workspace->staged;
  const auto git_before = review_workspace ? stamp_git_state(plan.workspace->host_path) : GitStateStamp{};
  std::vector<int> tree_fds;
  std::uint64_t missing = 0;
  std::size_t ordinal = 0;
  for (std::size_t i = policy::first_run_op(plan); i < plan.mount_ops.size(); ++i) {
    const auto& op = plan.mount_ops[i];
    if (op.kind != policy::MountOp::Kind::attach_prepared || op.prepared < 0) continue;
    const int fd = run_trees.trees[static_cast<std::size_t>(op.prepared)].get();
    if (ordinal >= 64) throw Error("more than 64 trees mounted at or below the workspace", exit_code::runner_failed);
    if (fd < 0) missing |= 1ULL << ordinal;
    else tree_fds.push_back(fd);
    ++ordinal;
  }
  stages::check_standard_fds(hooks.stdio);
  if (sandbox.pass_fds_sent != !hooks.pass_fd_sources.empty() ||
      (sandbox.pass_fds_sent && hooks.pass_fd_sources.size() != plan.pass_fds.size()))
    throw Error("the fds passed to the task do not match the sandbox's preparation (" +
                    std::to_string(hooks.pass_fd_sources.size()) + " sent, " + std::to_string(plan.pass_fds.size()) +
                    " in the plan)", exit_code::runner_failed);
  sandbox.run_inputs.fill(plan);
  // Sent --pass-fd fds (the daemon's) go first, before the trees: the child
  // dups them to their numbers (child.cpp, receive_run_inputs).
  tree_fds.insert(tree_fds.begin(), hooks.pass_fd_sources.begin(), hooks.pass_fd_sources.end());
  bool child_waits = sandbox.ids_sent &&
                     send_run_inputs(sandbox.channel.parent_end.get(), hooks.stdio, tree_fds, missing);
  run_trees.trees.clear();
  if (child_waits) logging::step("sync #1b sent ({} trees of the run)", tree_fds.size() - hooks.pass_fd_sources.size());

  std::unique_ptr<ControlServer> control;
  std::optional<SyncMessage> early;  // the child's failure in place of #2a
  if (child_waits) {
    // Parent 8: the run's record, with its cgroup directories as planned
    // (the v1 part is made at 8c; gc takes a missing one as removed) and the
    // audit trail, so gc can close the trail of a runner that dies from here.
    record.resources["cgroup"] = describe_for_record(cgroups);
    // The cgroups are named by the sandbox's id (tierbox-ID), not the run's
    // when it was prepared ahead: control commands and gc check that name.
    if (sandbox.id != plan.run_id) record.resources["cgroup"]["id"] = sandbox.id;
    record.sandbox_pid = outcome.pid;
    record.sandbox_start_time = process_start_time(outcome.pid).value_or(0);
    record.state = "running";
    if (sandbox.network_session) record.resources["network"]["netns_inode"] = sandbox.network->netns_inode;
    if (hooks.audit_trail) record.resources["audit"] = audit::to_json(*hooks.audit_trail);
    with_stage("register the run", [&] { run_entry.update(); });
    logging::step("run record written");
    // Parent 8b: the audit trail's start record (with the request and
    // decision still queued) into the log; its fsync runs while this runner
    // makes the cgroup v1 part and the control socket and the child does its
    // steps after #2, and #2b waits for it (Parent 9b): a log that cannot be
    // written or synced stops the launch, and the guard kills the sandbox.
    if (hooks.before_start) {
      std::vector<std::string> cgroup_dirs;
      for (const auto& [path, version] : cgroups.directories()) cgroup_dirs.push_back(path);
      with_stage("audit", [&] { hooks.before_start(outcome.pid, cgroup_dirs); });
    }
    // Parent 8c: the cgroup v1 part (the child joins it after #2, before
    // anything of the task runs), then the control socket, through which
    // users who are not root (operators, the requester) reach this run;
    // served from Parent 11. Its control records go to the run's own log.
    with_stage("cgroup", [&] { cgroups.create_v1_part(); });
    outcome.cgroup = cgroups.report();
    log_cgroups(outcome.cgroup);
    const std::filesystem::path control_audit_log =
        hooks.audit_trail ? hooks.audit_trail->log : audit::audit_log_path("", config.audit_log);
    control = with_stage("control socket", [&] {
      return std::make_unique<ControlServer>(sandbox.registry, record,
                                             ControlServer::Settings{config.operators_group, control_audit_log});
    });
    logging::step("control socket {}", sandbox.registry.control_socket(plan.run_id).string());
    // Parent 9: network, then sync #2. Mode none: nothing (the child brings
    // lo up); host: no namespace; allowlist: wait until the helper has
    // attached the veth pair and installed the sandbox's rules.
    if (sandbox.network_session) {
      const auto notes = with_stage("network", [&] { return sandbox.network_session->wait_attached(); });
      for (const auto& note : notes) logging::step("network: {}", note);
      logging::step("network ready: eth0 {} via {}", sandbox.network->addresses.sandbox_side.to_string(),
                    sandbox.network->addresses.host_side.to_string());
    }
    // Sync #2 carries the cgroup v1 join files (the child joins before the task).
    if (send_to_child(sandbox.channel.parent_end.get(), SyncKind::network_ready, cgroups.join_fds()))
      logging::step("sync #2 sent (network ready)");
    cgroups.close_join_fds();
    // Parent 9a: the child's #2a, every step before the task's done (in its
    // cgroups, its namespaces, the task's credentials), or its failure, which
    // Parent 10 reports: nothing is reported started or created before.
    early = receive_from_child(sandbox.channel.parent_end.get(), deadline);
    if (!early) {
      outcome.failure = "the sandbox ended before its setup was done";
      outcome.failure_exit_status = exit_code::runner_failed;
      outcome.ended_at = std::chrono::system_clock::now();
      return outcome;  // the guard kills and reaps the sandbox
    }
    if (early->kind == SyncKind::set_up) {
      early.reset();
      logging::step("sync #2a received (the child is set up)");
      // Parent 9b: the start record on disk (and the entry point's leave
      // to start), then sync #2b: the child installs its seccomp filters
      // and the task execs only after it.
      if (hooks.start_durable) with_stage("audit", [&] { hooks.start_durable(); });
      if (send_to_child(sandbox.channel.parent_end.get(), SyncKind::start_allowed))
        logging::step("sync #2b sent (the start record is on disk)");
    }
  }

  // Parent 10: wait for #3 (or the child's failure), then for exec: EOF.
  const int pidfd = sandbox.pidfd.get();
  auto message = early ? std::move(early) : receive_from_child(sandbox.channel.parent_end.get(), deadline);
  std::optional<stages::DenialCounter> denials;
  if (message && message->kind == SyncKind::ready_to_exec) {
    log_child_timings(*message);
    logging::step("sync #3 received (child ready to exec)");
    // count_denials: answer the filter's notifications from now on (the task
    // execs next). init keeps the listener; the runner takes a copy.
    if (message->seccomp_listener >= 0)
      denials.emplace(with_stage("seccomp", [&] { return take_listener(pidfd, message->seccomp_listener); }),
                      plan.seccomp);
    message = receive_from_child(sandbox.channel.parent_end.get(), deadline);
  }
  if (message) {
    outcome.failure = message->kind == SyncKind::failure ? describe_child_failure(*message)
                                                         : "unexpected message from the sandbox";
    outcome.failure_exit_status = message->step == ChildStep::exec
                                      ? (message->err == ENOENT ? exit_code::command_not_found : exit_code::refused)
                                      : exit_code::runner_failed;
    outcome.ended_at = std::chrono::system_clock::now();
    return outcome;  // the guard kills and reaps the sandbox
  }
  outcome.exec_succeeded = true;
  logging::step("exec succeeded");

  // Parent 11: supervise until init reports that the task exited (the whole
  // tree is dead and reaped then) or init is gone; on the wall-clock limit
  // the tree is killed through its cgroup and its pid namespace.
  auto result = supervise(pidfd, relay ? &*relay : nullptr, sandbox.status.read_end.get(), deadline,
                          [&] { kill_through_cgroup(cgroups, outcome.cgroup.kill); }, control.get());
  if (denials) {
    denials->stop();
    outcome.denied_syscalls = denials->counts();
    for (const auto& [name, count] : outcome.denied_syscalls) logging::step("seccomp denied {} {} times", name, count);
  }
  outcome.ended_at = std::chrono::system_clock::now();
  outcome.wall = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  if (result.task_exit) logging::step_at(result.task_exit->reaped_at_ns, "  init: the task exited and was reaped");
  logging::step("task tree ended after {} ms{}", outcome.wall.count(),
                result.init_reaped ? "" : " (init reported; the namespaces are being torn down)");

  // Parent 12: the network's counters; the helper removes the run's rules
  // (and then, on its own, the veth pair).
  outcome.network = sandbox.network_session
                        ? stages::finish_network(*sandbox.network_session, *sandbox.network, sandbox.slot.lock.get())
                        : stages::uncounted_network_report(plan.network);
  if (outcome.network) logging::step("network report: {}", outcome.network->to_json().dump());

  // Parent 13: what the task used (final: nothing of it runs), then the audit
  // trail's end record, while init's exit tears the namespaces down on
  // another CPU; the record comes before the run's registry entry goes with
  // this function.
  record_task_status(outcome, result);  // init's report, or (no report) init's own end
  outcome.usage = read_usage(cgroups, result);
  logging::step("usage read");
  if (review_workspace) {
    outcome.workspace_warnings = launch::review_workspace(plan.workspace->host_path, git_before);
    logging::step("workspace reviewed ({} warnings)", outcome.workspace_warnings.size());
  }
  if (hooks.after_end) hooks.after_end(outcome);

  // Parent 14: init's exit, then the cgroups go (they hold init until then).
  reap_init(pidfd, result);
  sandbox.guard->release();
  logging::step("sandbox ended");
  // (A container's termination message) init has exited: into the engine's
  // file before the supervising process ends, which is how the engine learns
  // of the container's end.
  if (sandbox.termination_message) stages::deliver_termination_message(plan, sandbox.termination_message.get());
  remove_cgroups(cgroups, run_entry);
  logging::step("cgroups removed");
  return outcome;
}

Outcome launch(const policy::LaunchPlan& plan, const policy::RunnerConfig& config, const LaunchHooks& hooks) {
  logging::step("plan ready: tier '{}', {} mount ops", plan.tier, plan.mount_ops.size());
  // Parent 5: relay signals from before clone (the child inherits the mask),
  // unless the entry point relays them itself (the daemon).
  std::optional<SignalRelay> relay;
  if (hooks.relay_signals) relay.emplace();
  auto sandbox =
      PreparedSandbox::prepare(plan, config, plan.run_id, hooks.exec_listener, !hooks.pass_fd_sources.empty());
  return run_prepared(std::move(sandbox), plan, config, hooks);
}

}  // namespace tierbox::launch
