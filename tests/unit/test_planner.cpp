#include <linux/magic.h>
#include <sys/resource.h>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <tuple>

#include "common/errors.h"
#include "policy/planner.h"
#include "policy/profile_loader.h"
#include "profile_text.h"

using namespace tierbox;
using namespace tierbox::policy;
using namespace tierbox::testing;
using namespace std::chrono_literals;
using Kind = MountOp::Kind;

namespace {

TaskRequest request_for(std::vector<std::string> argv) {
  TaskRequest request;
  request.argv = std::move(argv);
  request.caller_env = {{"TERM", "xterm"}, {"LD_PRELOAD", "/evil.so"}, {"AWS_SECRET_ACCESS_KEY", "x"}};
  return request;
}

// A kernel with every Landlock restriction (the shipped untrusted tier requires it).
HostFacts landlock_kernel() {
  HostFacts facts;
  facts.landlock_abi = 7;
  return facts;
}

HostFacts with_workspace(const std::string& path = "/home/dev/repo") {
  HostFacts facts = landlock_kernel();
  facts.workspace = WorkspaceFacts{path, true, 1234, 1234};
  return facts;
}

std::ptrdiff_t index_of(const LaunchPlan& plan, Kind kind, const std::string& target) {
  auto it = std::find_if(plan.mount_ops.begin(), plan.mount_ops.end(),
                         [&](const auto& op) { return op.kind == kind && op.target == target; });
  return it == plan.mount_ops.end() ? -1 : it - plan.mount_ops.begin();
}

template <typename Fn>
std::string refusal_of(Fn&& fn) {
  try {
    fn();
  } catch (const Refusal& refusal) {
    BOOST_TEST(refusal.exit_status() == 126);
    return refusal.what();
  }
  return "";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(planner)

BOOST_AUTO_TEST_CASE(plan_carries_identity_command_and_limits) {
  auto profile = load_tier("untrusted", {kShipped});
  auto plan = make_plan(profile, request_for({"/bin/true"}), landlock_kernel(), "run1");
  BOOST_TEST(plan.run_id == "run1");
  BOOST_TEST(plan.tier == "untrusted");
  BOOST_TEST(plan.profile_sha256 == profile.sha256);
  BOOST_TEST(plan.argv == std::vector<std::string>{"/bin/true"}, boost::test_tools::per_element());
  BOOST_TEST((plan.wall_time == 10min));
  BOOST_TEST(plan.task_uid == 1000u);
  BOOST_TEST(plan.cwd == "/");
  BOOST_TEST(plan.exec_search_path == "/usr/local/bin:/usr/bin:/bin");
  auto core = std::find_if(plan.rlimits.begin(), plan.rlimits.end(), [](auto& r) { return r.resource == RLIMIT_CORE; });
  BOOST_REQUIRE(core != plan.rlimits.end());
  BOOST_TEST(core->hard == 0u);
}

BOOST_AUTO_TEST_CASE(environment_comes_only_from_the_tier) {
  auto plan = make_plan(load_tier("untrusted", {kShipped}), request_for({"x"}), landlock_kernel(), "r");
  for (const auto& entry : plan.env) {
    BOOST_TEST(entry.rfind("LD_PRELOAD", 0) != 0u);
    BOOST_TEST(entry.rfind("AWS_", 0) != 0u);
  }
  BOOST_TEST(std::count(plan.env.begin(), plan.env.end(), "TERM=xterm") == 1);
}

BOOST_AUTO_TEST_CASE(parents_are_mounted_before_children) {
  auto plan = make_plan(load_tier("untrusted", {kShipped}), request_for({"x"}), with_workspace(), "r");
  BOOST_TEST(index_of(plan, Kind::attach_prepared, "usr") >= 0);
  BOOST_TEST(index_of(plan, Kind::directory, "dev") < index_of(plan, Kind::attach_prepared, "dev/null"));
  BOOST_TEST(index_of(plan, Kind::proc, "proc") < index_of(plan, Kind::read_only_rebind, "proc/sys"));
  // Masks clone the sandbox's own dev/null.
  BOOST_TEST(index_of(plan, Kind::attach_prepared, "dev/null") < index_of(plan, Kind::mask_with_null, "proc/kcore"));
  BOOST_TEST(index_of(plan, Kind::directory, "etc") < index_of(plan, Kind::attach_prepared, "etc/ld.so.cache"));
  BOOST_TEST(index_of(plan, Kind::tmpfs, "dev/shm") > index_of(plan, Kind::directory, "dev"));
  // No directory is ever created inside a bound host tree.
  for (const auto& op : plan.mount_ops)
    if (op.kind == Kind::directory) BOOST_TEST(op.target.rfind("usr/", 0) != 0u, op.target);
}

BOOST_AUTO_TEST_CASE(dev_has_exactly_the_minimal_devices) {
  auto plan = make_plan(load_tier("untrusted", {kShipped}), request_for({"x"}), landlock_kernel(), "r");
  std::vector<std::string> devices;
  for (const auto& op : plan.mount_ops) {
    if (op.kind != Kind::attach_prepared || op.target.rfind("dev/", 0) != 0) continue;
    devices.push_back(op.target);
    const auto& prepared = plan.prepared_mounts.at(static_cast<std::size_t>(op.prepared));
    BOOST_TEST(prepared.allow_devices);
    BOOST_TEST(!prepared.read_only);
  }
  std::vector<std::string> expected = {"dev/null", "dev/zero", "dev/full", "dev/random", "dev/urandom", "dev/tty"};
  BOOST_TEST(devices == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(host_binds_are_read_only_unless_the_tier_says_writable) {
  auto plan = make_plan(load_tier("untrusted", {kShipped}), request_for({"x"}), with_workspace(), "r");
  for (const auto& mount : plan.prepared_mounts) {
    if (mount.kind == PreparedMount::Kind::workspace) {
      BOOST_TEST(mount.read_only);
      BOOST_TEST(mount.idmap_owner);
      BOOST_TEST(mount.source == "/home/dev/repo");
    } else if (!mount.allow_devices) {
      BOOST_TEST(mount.read_only, mount.source);
    }
  }
  auto writable = make_plan(load_tier("workspace-write", {kShipped}), request_for({"x"}), with_workspace(), "r");
  auto workspace = std::find_if(writable.prepared_mounts.begin(), writable.prepared_mounts.end(),
                                [](auto& m) { return m.kind == PreparedMount::Kind::workspace; });
  BOOST_REQUIRE(workspace != writable.prepared_mounts.end());
  BOOST_TEST(!workspace->read_only);
  BOOST_TEST(writable.cwd == "/workspace");
  BOOST_TEST(index_of(writable, Kind::attach_prepared, "workspace") >= 0);
}

BOOST_AUTO_TEST_CASE(generated_etc_files_name_the_task_user) {
  auto plan = make_plan(load_tier("untrusted", {kShipped}), request_for({"x"}), landlock_kernel(), "r");
  auto passwd = index_of(plan, Kind::file, "etc/passwd");
  BOOST_REQUIRE(passwd >= 0);
  BOOST_TEST(plan.mount_ops[static_cast<std::size_t>(passwd)].data.find("agent:x:1000:1000:") != std::string::npos);
  auto hosts = index_of(plan, Kind::file, "etc/hosts");
  BOOST_TEST(plan.mount_ops[static_cast<std::size_t>(hosts)].data.find("127.0.1.1\tsandbox") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_tier_binding_etc_gets_no_generated_files) {
  Profile profile;
  profile.name = "t";
  profile.metadata.chain.push_back({"t.json", "o", "r", Date{2026, 1, 1}, Date{2099, 1, 1}});
  profile.mounts.push_back({MountType::bind, "/etc", "/etc"});
  auto plan = make_plan(profile, request_for({"x"}), landlock_kernel(), "r");
  BOOST_TEST(index_of(plan, Kind::file, "etc/passwd") == -1);
}

BOOST_AUTO_TEST_CASE(timeout_may_only_shorten_the_wall_time) {
  auto profile = load_tier("untrusted", {kShipped});
  auto request = request_for({"x"});
  request.timeout = 30s;
  BOOST_TEST((make_plan(profile, request, landlock_kernel(), "r").wall_time == 30s));
  request.timeout = 2h;
  auto message = refusal_of([&] { make_plan(profile, request, landlock_kernel(), "r"); });
  BOOST_TEST(message.find("limits.wall_time") != std::string::npos, message);
  BOOST_TEST(message.find("untrusted") != std::string::npos, message);
}

BOOST_AUTO_TEST_CASE(env_overrides_need_the_tier_allowlist) {
  auto untrusted = load_tier("untrusted", {kShipped});
  auto request = request_for({"x"});
  request.env_overrides = {{"FOO", "1"}};
  auto message = refusal_of([&] { make_plan(untrusted, request, landlock_kernel(), "r"); });
  BOOST_TEST(message.find("environment.allow") != std::string::npos, message);

  auto readonly = load_tier("readonly", {kShipped});
  request.env_overrides = {{"TIERBOX_DEBUG", "1"}};
  auto plan = make_plan(readonly, request, landlock_kernel(), "r");
  BOOST_TEST(std::count(plan.env.begin(), plan.env.end(), "TIERBOX_DEBUG=1") == 1);

  readonly.environment.allow = {"*"};
  request.env_overrides = {{"LD_PRELOAD", "/x.so"}};
  message = refusal_of([&] { make_plan(readonly, request, landlock_kernel(), "r"); });
  BOOST_TEST(message.find("never passed") != std::string::npos, message);
}

BOOST_AUTO_TEST_CASE(empty_command_and_non_directory_workspace_are_refused) {
  auto profile = load_tier("untrusted", {kShipped});
  BOOST_TEST(!refusal_of([&] { make_plan(profile, request_for({}), landlock_kernel(), "r"); }).empty());
  auto request = request_for({"x"});
  request.workspace = "/etc/passwd";
  HostFacts facts;
  facts.workspace = WorkspaceFacts{"/etc/passwd", false, 0, 0};
  BOOST_TEST(refusal_of([&] { make_plan(profile, request, facts, "r"); }).find("not a directory") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_workspace_on_a_kernel_filesystem_is_refused_whatever_the_inventory_says) {
  auto profile = load_tier("untrusted", {kShipped});
  auto request = request_for({"x"});
  for (const auto& [path, magic, name] : {std::tuple{"/proc", PROC_SUPER_MAGIC, "proc"}, {"/sys", SYSFS_MAGIC, "sysfs"},
                                          {"/sys/fs/cgroup/pids", CGROUP_SUPER_MAGIC, "cgroup"},
                                          {"/dev/pts", DEVPTS_SUPER_MAGIC, "devpts"}}) {
    request.workspace = path;
    auto facts = landlock_kernel();
    facts.workspace = WorkspaceFacts{path, true, 0, 0, 1, 2, static_cast<std::uint64_t>(magic)};
    const auto message = refusal_of([&] { make_plan(profile, request, facts, "r"); });
    BOOST_TEST(message.find(std::string("a directory of the kernel's ") + name + " filesystem") != std::string::npos,
               message);
    BOOST_TEST(message.find("(fix: ") != std::string::npos, message);
  }
  // The same for a caller's --bind, in a tier that allows extra binds.
  auto widening = profile;
  widening.widening.binds = BindWidening::read_only;
  auto bind_request = request_for({"x"});
  bind_request.binds = {{"/proc", "/hostproc", false}};
  auto bind_facts = landlock_kernel();
  bind_facts.bind_filesystems["/proc"] = PROC_SUPER_MAGIC;
  const auto bind_message = refusal_of([&] { make_plan(widening, bind_request, bind_facts, "r"); });
  BOOST_TEST(bind_message.find("--bind /proc:/hostproc: a directory of the kernel's proc filesystem") != std::string::npos,
             bind_message);
  // A source that is no kernel filesystem but holds one (cgroup v1's
  // hierarchies on a tmpfs /sys/fs/cgroup): the bind is recursive, so it is
  // refused the same way, naming the mount below. Control: nothing below.
  bind_request.binds = {{"/sys/fs/cgroup", "/cg", false}};
  bind_facts.bind_filesystems = {{"/sys/fs/cgroup", TMPFS_MAGIC}};
  BOOST_TEST(refusal_of([&] { make_plan(widening, bind_request, bind_facts, "r"); }).empty());
  bind_facts.bind_kernel_mounts_below["/sys/fs/cgroup"] = {"/sys/fs/cgroup/memory", CGROUP_SUPER_MAGIC};
  const auto below_message = refusal_of([&] { make_plan(widening, bind_request, bind_facts, "r"); });
  BOOST_TEST(below_message.find("--bind /sys/fs/cgroup:/cg: the kernel's cgroup filesystem is mounted below it, at "
                                "/sys/fs/cgroup/memory") != std::string::npos,
             below_message);
  BOOST_TEST(below_message.find("(fix: ") != std::string::npos, below_message);
  // A project on a disk or a tmpfs is planned as usual.
  for (auto magic : {EXT4_SUPER_MAGIC, XFS_SUPER_MAGIC, TMPFS_MAGIC}) {
    request.workspace = "/home/dev/repo";
    auto facts = with_workspace("/home/dev/repo");
    facts.workspace->filesystem = static_cast<std::uint64_t>(magic);
    BOOST_TEST(refusal_of([&] { make_plan(profile, request, facts, "r"); }).empty());
  }
}

// Through the daemon the workspace is id-mapped to its owner: a caller who
// is not the owner (or not in its group) would hand the task the owner's
// files, so it is refused; root's direct runs and the owner's are planned.
BOOST_AUTO_TEST_CASE(through_the_daemon_only_the_workspaces_owner_may_use_it) {
  auto profile = load_tier("untrusted", {kShipped});
  auto request = request_for({"x"});
  request.workspace = "/home/dev/repo";
  request.caller.uid = 1234;
  request.caller.gid = 100;
  request.caller.groups = {100, 1234};
  request.caller.user_name = "dev";
  const auto facts = with_workspace("/home/dev/repo");  // owner 1234:1234
  BOOST_TEST(refusal_of([&] { make_plan(profile, request, facts, "r"); }).empty());  // a direct run
  request.caller.through_daemon = true;
  BOOST_TEST(refusal_of([&] { make_plan(profile, request, facts, "r"); }).empty());  // the owner
  auto others = facts;
  others.workspace->owner_uid = 0;
  const auto message = refusal_of([&] { make_plan(profile, request, others, "r"); });
  BOOST_TEST(message.find("--workspace /home/dev/repo: owned by uid 0, not by dev") != std::string::npos, message);
  BOOST_TEST(message.find("(fix: pass a directory you own") != std::string::npos, message);
  auto foreign_group = facts;
  foreign_group.workspace->owner_gid = 42;
  const auto group_message = refusal_of([&] { make_plan(profile, request, foreign_group, "r"); });
  BOOST_TEST(group_message.find("its group is gid 42, which dev is not in") != std::string::npos, group_message);
  request.caller.groups = {100, 1234, 42};
  BOOST_TEST(refusal_of([&] { make_plan(profile, request, foreign_group, "r"); }).empty());
  // Root through the daemon (a client of its own) chooses as root does.
  request.caller.uid = 0;
  BOOST_TEST(refusal_of([&] { make_plan(profile, request, others, "r"); }).empty());
}

BOOST_AUTO_TEST_CASE(path_for_exec_follows_the_tier_path) {
  auto profile = load_tier("untrusted", {kShipped});
  profile.environment.set["PATH"] = "/opt/tools/bin:/usr/bin";
  BOOST_TEST(make_plan(profile, request_for({"x"}), landlock_kernel(), "r").exec_search_path == "/opt/tools/bin:/usr/bin");
}

// `tierbox redteam`'s report fd (TaskRequest::simulation): planned beside
// a tier that allows no passed fd, and named in the plan's overrides (so in
// the request and start records). Control: the same fd as a caller's
// --pass-fd is refused in the same tier; an fd 0-2 or a closed one is refused.
BOOST_AUTO_TEST_CASE(a_simulation_report_fd_is_planned_beside_pass_fds_and_named_in_the_overrides) {
  const auto tier = load_tier("untrusted", {kShipped});
  BOOST_TEST(tier.pass_fds == 0u);
  auto request = request_for({"x"});
  request.simulation = SimulationAdditions{"redteam", 7, ""};
  auto facts = landlock_kernel();
  facts.simulation_report_fd = PassedFdFacts{7, true, false};
  const auto plan = make_plan(tier, request, facts, "r");
  BOOST_TEST(plan.pass_fds == std::vector<int>{7});
  BOOST_REQUIRE(plan.overrides.size() == 1u);
  BOOST_TEST(plan.overrides[0].find("simulation redteam: fd 7 passed to the task as the scenario program's report channel") == 0u,
             plan.overrides[0]);
  auto caller = landlock_kernel();
  caller.passed_fds = {PassedFdFacts{7, true, false}};
  BOOST_TEST(refusal_of([&] { make_plan(tier, request_for({"x"}), caller, "r"); }).find("allows passing 0") != std::string::npos);
  for (const auto& bad : {PassedFdFacts{2, true, false}, PassedFdFacts{7, false, false}, PassedFdFacts{7, true, true}}) {
    facts.simulation_report_fd = bad;
    BOOST_CHECK_THROW(make_plan(tier, request, facts, "r"), Error);
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(planner_data_access)

namespace {

HostFacts facts_with(std::vector<TreeEntryAction> actions) {
  auto facts = with_workspace("/home/dev/repo");
  TreeAssessment tree;
  tree.target = "/workspace";
  tree.host_path = "/home/dev/repo";
  tree.writable = true;
  tree.workspace = true;
  tree.actions = std::move(actions);
  facts.data_access.trees.push_back(tree);
  return facts;
}

}  // namespace

BOOST_AUTO_TEST_CASE(tree_actions_become_ops_after_every_mount_and_placeholders) {
  using Action = TreeEntryAction::Kind;
  auto facts = facts_with({{Action::hide, {".env"}, EntryType::file, "secret"},
                           {Action::hide, {"keys"}, EntryType::directory, "secret"},
                           {Action::read_only, {".git", "hooks"}, EntryType::directory, "protected"},
                           {Action::placeholder, {".tierbox"}, EntryType::directory, "protected"}});
  auto plan = make_plan(load_tier("workspace-write", {kShipped}), request_for({"x"}), facts, "r");
  auto hide = index_of(plan, Kind::hide_file_beneath, "workspace");
  BOOST_REQUIRE(hide >= 0);
  BOOST_TEST(plan.mount_ops[static_cast<std::size_t>(hide)].data == ".env");
  BOOST_TEST(index_of(plan, Kind::hide_dir_beneath, "workspace") > hide);
  // After /dev (its null is what hides files) and after the workspace.
  BOOST_TEST(hide > index_of(plan, Kind::symlink, "dev/stderr"));
  BOOST_TEST(hide > index_of(plan, Kind::attach_prepared, "workspace"));
  BOOST_REQUIRE(plan.placeholders.size() == 1u);
  BOOST_TEST(plan.placeholders[0].tree == "/home/dev/repo");
  BOOST_TEST(plan.placeholders[0].relative == ".tierbox");
  BOOST_TEST(plan.placeholders[0].directory);
  std::size_t read_only = 0;
  for (const auto& op : plan.mount_ops) read_only += op.kind == Kind::read_only_beneath ? 1 : 0;
  BOOST_TEST(read_only == 2u);  // .git/hooks, and the placeholder
}

// A staged workspace's placeholders are made in its layer: none in the real
// tree (plan.placeholders), the same read-only ops over them.
BOOST_AUTO_TEST_CASE(a_staged_workspace_takes_its_placeholders_into_its_layer) {
  using Action = TreeEntryAction::Kind;
  const auto facts = facts_with({{Action::placeholder, {".tierbox"}, EntryType::directory, "protected"},
                                 {Action::placeholder, {".git", "hooks"}, EntryType::directory, "protected"}});
  const auto staged = make_plan(load_tier("workspace-staged", {kShipped}), request_for({"x"}), facts, "r");
  BOOST_TEST(staged.placeholders.empty());
  BOOST_REQUIRE(staged.workspace && staged.workspace->layer_placeholders.size() == 2u);
  BOOST_TEST(staged.workspace->layer_placeholders[0].relative == ".tierbox");
  BOOST_TEST(staged.workspace->layer_placeholders[1].relative == ".git/hooks");
  std::size_t read_only = 0;
  for (const auto& op : staged.mount_ops) read_only += op.kind == Kind::read_only_beneath ? 1 : 0;
  BOOST_TEST(read_only == 2u);
  // Control: the same facts unstaged put them in the real tree.
  const auto unstaged = make_plan(load_tier("workspace-write", {kShipped}), request_for({"x"}), facts, "r");
  BOOST_TEST(unstaged.placeholders.size() == 2u);
  BOOST_TEST(unstaged.workspace->layer_placeholders.empty());
}

BOOST_AUTO_TEST_CASE(parents_of_protected_paths_are_pinned_first_and_parents_of_masks_are_not) {
  using Action = TreeEntryAction::Kind;
  auto facts = facts_with({{Action::hide, {"app", "keys", ".env"}, EntryType::file, "secret"},
                           {Action::read_only, {".git", "config"}, EntryType::file, "protected"},
                           {Action::read_only, {".git", "hooks"}, EntryType::directory, "protected"},
                           {Action::placeholder, {"a", "b", ".env"}, EntryType::file, "protected"}});
  auto plan = make_plan(load_tier("workspace-write", {kShipped}), request_for({"x"}), facts, "r");
  std::vector<std::string> pins;
  std::ptrdiff_t last_pin = -1, first_stand_in = -1;
  for (std::size_t i = 0; i < plan.mount_ops.size(); ++i) {
    const auto& op = plan.mount_ops[i];
    if (op.kind == Kind::pin_beneath) {
      BOOST_TEST(op.target == "workspace");
      pins.push_back(op.data);
      last_pin = static_cast<std::ptrdiff_t>(i);
    } else if ((op.kind == Kind::read_only_beneath || op.kind == Kind::hide_file_beneath) && first_stand_in < 0) {
      first_stand_in = static_cast<std::ptrdiff_t>(i);
    }
  }
  // Each parent once, shallower first; none for the mask under app/keys.
  BOOST_TEST((pins == std::vector<std::string>{".git", "a", "a/b"}), boost::test_tools::per_element());
  BOOST_TEST(last_pin < first_stand_in);
}

BOOST_AUTO_TEST_CASE(exposures_and_tree_problems_refuse) {
  auto facts = with_workspace();
  facts.data_access.exposures.push_back({"--workspace /root", "/root/.ssh", DataClass::secret, "secret (rule ~/.ssh)",
                                         "through a parent directory bind"});
  auto message = refusal_of([&] { make_plan(load_tier("untrusted", {kShipped}), request_for({"x"}), facts, "r"); });
  BOOST_TEST(message.find("/root/.ssh") != std::string::npos, message);
  BOOST_TEST(message.find("secret") != std::string::npos, message);
  BOOST_TEST(message.find("tier 'untrusted' may see at most internal") != std::string::npos, message);
  auto problem = facts_with({});
  problem.data_access.trees[0].problems.push_back("protected path .git/hooks/: /workspace/.git is a symlink");
  auto text = refusal_of([&] { make_plan(load_tier("workspace-write", {kShipped}), request_for({"x"}), problem, "r"); });
  BOOST_TEST(text.find("is a symlink") != std::string::npos, text);
}

BOOST_AUTO_TEST_CASE(a_checked_command_is_executed_by_its_resolved_path) {
  auto facts = with_workspace();
  CommandAssessment command;
  command.restricted = true;
  command.exec_path = "/usr/bin/git";
  facts.command = command;
  auto plan = make_plan(load_tier("untrusted", {kShipped}), request_for({"git", "status"}), facts, "r");
  BOOST_TEST(plan.exec_path == "/usr/bin/git");
  BOOST_TEST(plan.argv[0] == "git");
  facts.command->refusal = "\"curl\" resolves to /usr/bin/curl, which tier 'untrusted' does not allow";
  BOOST_TEST(refusal_of([&] { make_plan(load_tier("untrusted", {kShipped}), request_for({"curl"}), facts, "r"); }).find("curl") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(planner_limits)

const RlimitSetting* find_rlimit(const LaunchPlan& plan, int resource) {
  auto it = std::find_if(plan.rlimits.begin(), plan.rlimits.end(), [&](auto& r) { return r.resource == resource; });
  return it == plan.rlimits.end() ? nullptr : &*it;
}

BOOST_AUTO_TEST_CASE(rlimits_and_cgroup_limits_come_from_the_tier) {
  auto profile = load_tier("untrusted", {kShipped});
  auto plan = make_plan(profile, request_for({"/bin/true"}), landlock_kernel(), "run1");
  BOOST_REQUIRE(find_rlimit(plan, RLIMIT_NOFILE));
  BOOST_TEST(find_rlimit(plan, RLIMIT_NOFILE)->soft == 256u);
  BOOST_TEST(find_rlimit(plan, RLIMIT_NOFILE)->hard == 256u);
  BOOST_REQUIRE(find_rlimit(plan, RLIMIT_FSIZE));
  BOOST_TEST(find_rlimit(plan, RLIMIT_FSIZE)->hard == 1ULL << 30);
  BOOST_TEST(find_rlimit(plan, RLIMIT_CORE)->hard == 0u);
  BOOST_TEST(!find_rlimit(plan, RLIMIT_AS));  // not set: the caller's applies
  BOOST_TEST(plan.cgroup_limits.memory.value.value() == 512ULL << 20);
  BOOST_TEST(plan.cgroup_limits.pids.value.value() == 128u);
  BOOST_TEST(plan.cgroup_parent == "");
  BOOST_TEST(std::string(rlimit_name(RLIMIT_NOFILE)) == "nofile");
}

BOOST_AUTO_TEST_CASE(an_rlimit_above_the_callers_hard_limit_is_lowered_to_it) {
  auto profile = load_tier("workspace-write", {kShipped});  // nofile 4096
  HostFacts host = landlock_kernel();
  host.rlimit_hard[RLIMIT_NOFILE] = 1024;
  host.rlimit_hard[RLIMIT_CORE] = 0;
  auto plan = make_plan(profile, request_for({"/bin/true"}), host, "run1");
  BOOST_TEST(find_rlimit(plan, RLIMIT_NOFILE)->hard == 1024u);
  BOOST_TEST(find_rlimit(plan, RLIMIT_NOFILE)->soft == 1024u);
  host.rlimit_hard[RLIMIT_NOFILE] = 1 << 20;  // higher: the tier's stands
  plan = make_plan(profile, request_for({"/bin/true"}), host, "run1");
  BOOST_TEST(find_rlimit(plan, RLIMIT_NOFILE)->hard == 4096u);
}

BOOST_AUTO_TEST_CASE(cgroup_parent_must_be_a_cgroup_path) {
  auto profile = load_tier("untrusted", {kShipped});
  auto request = request_for({"/bin/true"});
  for (const char* bad : {"/tierbox.slice/../x", "../x", "jobs/./ci", "jobs/", "/"}) {
    request.cgroup_parent = bad;
    BOOST_TEST(refusal_of([&] { make_plan(profile, request, landlock_kernel(), "run1"); }).find("--cgroup-parent") != std::string::npos, bad);
  }
  request.cgroup_parent = "jobs/ci";  // below the runner's own cgroup
  BOOST_TEST(make_plan(profile, request, landlock_kernel(), "run1").cgroup_parent == "jobs/ci");
  request.cgroup_parent = "/tierbox.slice";
  BOOST_TEST(make_plan(profile, request, landlock_kernel(), "run1").cgroup_parent == "/tierbox.slice");
}

BOOST_AUTO_TEST_SUITE_END()
