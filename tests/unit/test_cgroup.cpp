// The cgroup stage against a temp directory laid out like /sys/fs/cgroup
// (fake_cgroup.h): which hierarchy each controller comes from, exactly what
// is written where and in which order, how usage is read back, how the tree
// is killed and the cgroups removed. The v2 code path is tested only here on
// this machine (its cgroup2 mount has no controllers); the v1 path also runs
// for real in the integration tests.
#include <signal.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include <algorithm>

#include "common/errors.h"
#include "launch/sync.h"
#include "stages/cgroup.h"
#include "stages/cgroup_join.h"
#include "unit/fake_cgroup.h"

using namespace tierbox;
using namespace tierbox::stages;
using tierbox::testing::FakeCgroupHost;

namespace {

constexpr pid_t kRunner = 4242;

policy::CgroupLimits untrusted_limits() {
  policy::CgroupLimits limits;
  limits.memory.value = 512ULL << 20;
  limits.pids.value = 128;
  limits.cpu_millicores.value = 500;
  return limits;
}

RunCgroupsRequest request_with(const policy::CgroupLimits& limits) {
  RunCgroupsRequest request;
  request.run_id = "00c0ffee12345678";
  request.tier = "untrusted";
  request.limits = limits;
  request.runner_pid = kRunner;
  return request;
}

RunCgroups create(FakeCgroupHost& fake, const CgroupHostInputs& inputs, const RunCgroupsRequest& request) {
  return RunCgroups::create(request, parse_host_cgroups(inputs), fake);
}

// create() before clone, create_v1_part() while the child builds its root.
RunCgroups create_with_v1(FakeCgroupHost& fake, const CgroupHostInputs& inputs, const RunCgroupsRequest& request) {
  auto cgroups = create(fake, inputs, request);
  cgroups.create_v1_part();
  return cgroups;
}

// What the child does after sync #2 on cgroup v1 (stages/cgroup_join.h),
// with its own copies of the fds, as sent with #2.
void join_as_the_child(RunCgroups& cgroups) {
  std::vector<int> copies;
  for (int fd : cgroups.join_fds()) copies.push_back(::dup(fd));
  cgroups.close_join_fds();
  ChildFailure failure;
  BOOST_REQUIRE_MESSAGE(join_cgroups(copies.data(), copies.size(), failure), failure.detail);
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

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

BOOST_AUTO_TEST_SUITE(cgroup_detect)

BOOST_AUTO_TEST_CASE(this_machine_mixes_v1_controllers_with_an_empty_cgroup2) {
  FakeCgroupHost fake;
  const auto host = parse_host_cgroups(fake.this_machine("/process_api/abc"));
  const auto* memory = host.v1_with("memory");
  BOOST_REQUIRE(memory);
  BOOST_TEST(memory->own_cgroup == "/process_api/abc");
  BOOST_TEST(memory->directory_of("/process_api/abc") == fake.root() + "/sys/fs/cgroup/memory/process_api/abc");
  BOOST_REQUIRE(host.v1_with("pids"));
  BOOST_TEST(host.v1_with("pids")->directory_of("/") == fake.root() + "/sys/fs/cgroup/pids");
  BOOST_TEST(host.v1_with("freezer") != nullptr);
  BOOST_TEST(host.v1_with("cpuacct") != host.v1_with("cpu"));
  BOOST_REQUIRE(host.unified());
  BOOST_TEST(host.unified()->mount_point == fake.root() + "/sys/fs/cgroup/unified");
  // name=systemd carries no controller: not a hierarchy tierbox uses.
  BOOST_TEST(host.hierarchies.size() == 7u);
}

BOOST_AUTO_TEST_CASE(pure_v2_is_one_hierarchy) {
  const auto host = parse_host_cgroups({"0::/user.slice/session-1.scope\n",
                                        "24 1 0:22 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n", ""});
  BOOST_REQUIRE(host.hierarchies.size() == 1u);
  BOOST_REQUIRE(host.unified());
  BOOST_TEST(host.unified()->directory_of("/user.slice/session-1.scope") == "/sys/fs/cgroup/user.slice/session-1.scope");
  BOOST_TEST(host.unified()->directory_of("/") == "/sys/fs/cgroup");
  BOOST_TEST(host.v1_with("memory") == nullptr);
}

BOOST_AUTO_TEST_CASE(co_mounted_controllers_share_a_hierarchy) {
  const auto host = parse_host_cgroups({"3:cpu,cpuacct:/ci\n",
                                        "30 1 0:25 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n", ""});
  BOOST_REQUIRE(host.v1_with("cpu"));
  BOOST_TEST(host.v1_with("cpu") == host.v1_with("cpuacct"));
  BOOST_TEST(host.v1_with("cpu")->directory_of("/ci") == "/sys/fs/cgroup/cpu,cpuacct/ci");
}

BOOST_AUTO_TEST_CASE(a_mount_of_a_subtree_maps_paths_below_its_root) {
  // A container sees its own cgroup as the mount's root.
  const auto host = parse_host_cgroups({"0::/kubepods/pod1/runner\n",
                                        "24 1 0:22 /kubepods/pod1 /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n", ""});
  BOOST_REQUIRE(host.unified());
  BOOST_TEST(host.unified()->directory_of("/kubepods/pod1/runner") == "/sys/fs/cgroup/runner");
  BOOST_TEST(host.unified()->directory_of("/kubepods/pod2") == "");  // not visible here
  // The runner's cgroup outside every mount: the hierarchy cannot be used.
  const auto hidden = parse_host_cgroups({"0::/elsewhere\n",
                                          "24 1 0:22 /kubepods/pod1 /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n", ""});
  BOOST_TEST(hidden.hierarchies.empty());
}

BOOST_AUTO_TEST_CASE(escaped_mount_points_and_missing_mounts) {
  const auto host = parse_host_cgroups({"4:memory:/\n8:pids:/\n",
                                        "35 31 0:32 / /sys/fs/cgroup/my\\040memory rw - cgroup cgroup rw,memory\n", ""});
  BOOST_REQUIRE(host.v1_with("memory"));
  BOOST_TEST(host.v1_with("memory")->mount_point == "/sys/fs/cgroup/my memory");
  BOOST_TEST(host.v1_with("pids") == nullptr);  // in /proc/self/cgroup but not mounted
  BOOST_TEST(cgroup_path_is_within("/a/b", "/a"));
  BOOST_TEST(!cgroup_path_is_within("/ab", "/a"));
  BOOST_TEST(cgroup_path_is_within("/anything", "/"));
}

BOOST_AUTO_TEST_CASE(keyed_files_and_pid_lists) {
  const std::string control = "oom_kill_disable 1\nunder_oom 0\noom_kill 3\n";
  BOOST_TEST(keyed_value(control, "oom_kill").value() == 3u);  // not oom_kill_disable
  BOOST_TEST(keyed_value(control, "oom_kill_disable").value() == 1u);
  BOOST_TEST(!keyed_value(control, "oom").has_value());
  BOOST_TEST(parse_pid_list("12\n7\n") == (std::vector<pid_t>{12, 7}), boost::test_tools::per_element());
  BOOST_TEST(run_id_of_cgroup_name("tierbox-00c0ffee12345678") == "00c0ffee12345678");
  BOOST_TEST(run_id_of_cgroup_name("tierbox-runner") == "");
  BOOST_TEST(run_id_of_cgroup_name("tierbox-") == "");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(cgroup_v2)

BOOST_AUTO_TEST_CASE(creates_the_run_cgroup_below_the_runner_with_exactly_the_limit_files) {
  FakeCgroupHost fake;
  const auto inputs = fake.pure_v2("/user.slice/ci.scope");
  auto cgroups = create(fake, inputs, request_with(untrusted_limits()));
  const std::string dir = "/sys/fs/cgroup/user.slice/ci.scope/tierbox-00c0ffee12345678";
  BOOST_TEST(fake.made == std::vector<std::string>{dir}, boost::test_tools::per_element());
  std::vector<std::string> expected = {
      "/sys/fs/cgroup/user.slice/ci.scope/cgroup.subtree_control=+memory +pids +cpu",
      dir + "/memory.max=536870912",
      dir + "/memory.swap.max=0",  // no swap unless the tier grants it
      dir + "/pids.max=128",
      dir + "/cpu.max=50000 100000",
  };
  std::vector<std::string> written;
  for (const auto& write : fake.writes) written.push_back(write.path + "=" + write.text);
  BOOST_TEST(written == expected, boost::test_tools::per_element());
  BOOST_TEST(cgroups.clone_into_fd() >= 0);
  BOOST_TEST(cgroups.report().mode == "v2");
  BOOST_TEST(cgroups.report().kill == "cgroup.kill");
  BOOST_TEST(cgroups.report().paths == std::vector<std::string>{fake.root() + dir}, boost::test_tools::per_element());
  BOOST_TEST(cgroups.report().enforced.size() == 4u);
  cgroups.destroy();
  BOOST_TEST(fake.removed == std::vector<std::string>{dir}, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(controllers_already_enabled_are_not_written_again) {
  FakeCgroupHost fake;
  const auto inputs = fake.pure_v2("/tierbox.slice");
  fake.set_file("/sys/fs/cgroup/tierbox.slice/cgroup.subtree_control", "cpu memory pids\n");
  auto cgroups = create(fake, inputs, request_with(untrusted_limits()));
  BOOST_TEST(fake.writes_to("cgroup.subtree_control").empty());
  BOOST_TEST(fake.writes_to("memory.max") == std::vector<std::string>{"536870912"}, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(without_limits_only_accounting_controllers_and_no_limit_files) {
  FakeCgroupHost fake;
  const auto inputs = fake.pure_v2("/ci");
  auto cgroups = create(fake, inputs, request_with({}));
  std::vector<std::string> written;
  for (const auto& write : fake.writes) written.push_back(write.path + "=" + write.text);
  BOOST_TEST(written == std::vector<std::string>{"/sys/fs/cgroup/ci/cgroup.subtree_control=+memory +pids"},
             boost::test_tools::per_element());
  BOOST_TEST(cgroups.report().enforced.empty());
}

BOOST_AUTO_TEST_CASE(usage_is_read_from_peak_events_and_cpu_stat) {
  FakeCgroupHost fake;
  const auto inputs = fake.pure_v2("/ci");
  auto cgroups = create(fake, inputs, request_with(untrusted_limits()));
  const std::string dir = "/sys/fs/cgroup/ci/tierbox-00c0ffee12345678";
  fake.set_file(dir + "/memory.peak", "536870912\n");
  fake.set_file(dir + "/memory.events", "low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\noom_group_kill 0\n");
  fake.set_file(dir + "/pids.peak", "128\n");
  fake.set_file(dir + "/pids.events", "max 37\n");
  fake.set_file(dir + "/cpu.stat",
                "usage_usec 1500000\nuser_usec 1200000\nsystem_usec 300000\nnr_periods 20\nnr_throttled 19\n"
                "throttled_usec 950000\n");
  const auto usage = cgroups.usage();
  BOOST_TEST(usage.memory_peak_bytes.value() == 536870912u);
  BOOST_TEST(usage.oom_killed);
  BOOST_TEST(usage.pids_peak.value() == 128u);
  BOOST_TEST(usage.pids_limit_hit);
  BOOST_TEST(usage.cpu_user_us.value() == 1200000u);
  BOOST_TEST(usage.cpu_system_us.value() == 300000u);
  BOOST_TEST(usage.cpu_throttled_us.value() == 950000u);
}

BOOST_AUTO_TEST_CASE(a_calm_run_reports_no_oom_and_no_pids_limit) {
  FakeCgroupHost fake;
  const auto inputs = fake.pure_v2("/ci");
  auto cgroups = create(fake, inputs, request_with(untrusted_limits()));
  const auto usage = cgroups.usage();
  BOOST_TEST(!usage.oom_killed);
  BOOST_TEST(!usage.pids_limit_hit);
  BOOST_TEST(usage.memory_peak_bytes.value() == 0u);
}

BOOST_AUTO_TEST_CASE(kill_writes_cgroup_kill_and_destroy_waits_for_the_cgroup_to_empty) {
  FakeCgroupHost fake;
  const auto inputs = fake.pure_v2("/ci");
  auto cgroups = create(fake, inputs, request_with(untrusted_limits()));
  const std::string dir = "/sys/fs/cgroup/ci/tierbox-00c0ffee12345678";
  fake.set_file(dir + "/cgroup.procs", "101\n102\n");
  BOOST_TEST(cgroups.kill());
  BOOST_TEST(fake.writes_to(dir + "/cgroup.kill") == std::vector<std::string>{"1"}, boost::test_tools::per_element());
  BOOST_TEST(fake.file(dir + "/cgroup.procs").empty());
  // A leftover keeps rmdir busy: destroy kills it and retries.
  fake.set_file(dir + "/cgroup.procs", "103\n");
  cgroups.destroy();
  BOOST_TEST(fake.busy_rmdirs > 0);
  BOOST_TEST(fake.writes_to(dir + "/cgroup.kill").size() == 2u);
  BOOST_TEST(!fake.exists(dir));
}

BOOST_AUTO_TEST_CASE(kernels_without_cgroup_kill_freeze_kill_and_thaw) {
  FakeCgroupHost fake;
  const auto inputs = fake.pure_v2("/ci");
  auto cgroups = create(fake, inputs, request_with({}));
  const std::string dir = "/sys/fs/cgroup/ci/tierbox-00c0ffee12345678";
  std::filesystem::remove(fake.root() + dir + "/cgroup.kill");  // Linux < 5.14
  fake.set_file(dir + "/cgroup.procs", "201\n202\n");
  fake.set_file(dir + "/cgroup.events", "populated 1\nfrozen 1\n");
  BOOST_TEST(cgroups.kill());
  BOOST_TEST(fake.writes_to(dir + "/cgroup.freeze") == (std::vector<std::string>{"1", "0"}),
             boost::test_tools::per_element());
  BOOST_TEST(fake.killed == (std::vector<pid_t>{201, 202}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_required_limit_the_host_cannot_enforce_refuses_the_launch) {
  FakeCgroupHost fake;
  const auto inputs = fake.pure_v2("/ci", "cpu pids");  // no memory controller
  const auto message = refusal_of([&] { create(fake, inputs, request_with(untrusted_limits())); });
  BOOST_TEST(contains(message, "tier 'untrusted' limits.memory: this host cannot enforce it"), message);
  BOOST_TEST(contains(message, "\"required\": false"), message);
  BOOST_TEST(fake.made.empty());  // refused before anything was made
}

BOOST_AUTO_TEST_CASE(an_optional_limit_the_host_cannot_enforce_is_reported_not_refused) {
  FakeCgroupHost fake;
  const auto inputs = fake.pure_v2("/ci", "cpu pids");
  auto limits = untrusted_limits();
  limits.memory.required = false;
  auto cgroups = create(fake, inputs, request_with(limits));
  BOOST_TEST(cgroups.report().not_enforced == std::vector<std::string>{"memory"}, boost::test_tools::per_element());
  BOOST_REQUIRE(cgroups.report().warnings.size() == 1u);
  BOOST_TEST(contains(cgroups.report().warnings[0], "limits.memory is not enforced"));
  BOOST_TEST(fake.writes_to("memory.max").empty());
  BOOST_TEST(fake.writes_to("pids.max") == std::vector<std::string>{"128"}, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(swap_limits_need_swap_accounting_unless_implied) {
  FakeCgroupHost fake;
  const auto inputs = fake.pure_v2("/ci");
  const std::string dir = "/sys/fs/cgroup/ci/tierbox-00c0ffee12345678";
  // A kernel without swap accounting has no memory.swap.max.
  fake.fail_next_write("memory.swap.max", ENOENT);
  {
    auto cgroups = create(fake, inputs, request_with(untrusted_limits()));  // swap 0 implied: best effort
    BOOST_TEST(cgroups.report().not_enforced.empty());
  }
  auto limits = untrusted_limits();
  limits.memory_swap.value = 256ULL << 20;
  fake.fail_next_write("memory.swap.max", ENOENT);
  const auto message = refusal_of([&] { create(fake, inputs, request_with(limits)); });
  BOOST_TEST(contains(message, "limits.memory_swap"), message);
  BOOST_TEST(contains(message, "swap accounting"), message);
  BOOST_TEST(!fake.exists(dir), "the refused run's cgroup was left behind");
  fake.writes.clear();
  auto granted = create(fake, inputs, request_with(limits));
  BOOST_TEST(fake.writes_to("memory.swap.max") == std::vector<std::string>{"268435456"}, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(io_weight_uses_iocost_or_bfq_whichever_is_there) {
  policy::CgroupLimits limits;
  limits.io_weight.value = 50;
  {
    FakeCgroupHost fake;
    const auto inputs = fake.pure_v2("/ci");
    auto cgroups = create(fake, inputs, request_with(limits));
    BOOST_TEST(fake.writes_to("/io.weight") == std::vector<std::string>{"default 50"}, boost::test_tools::per_element());
    BOOST_TEST(fake.writes_to("cgroup.subtree_control").back() == "+memory +pids +io");
  }
  {
    FakeCgroupHost fake;
    const auto inputs = fake.pure_v2("/ci");
    fake.drop_from_new_cgroups("io.weight");  // no blk-iocost: BFQ's file instead
    fake.add_to_new_cgroups("io.bfq.weight", "default 100\n");
    auto cgroups = create(fake, inputs, request_with(limits));
    BOOST_TEST(fake.writes_to("/io.bfq.weight") == std::vector<std::string>{"default 50"}, boost::test_tools::per_element());
  }
  {
    FakeCgroupHost fake;
    const auto inputs = fake.pure_v2("/ci");
    fake.drop_from_new_cgroups("io.weight");
    const auto message = refusal_of([&] { create(fake, inputs, request_with(limits)); });
    BOOST_TEST(contains(message, "limits.io_weight"), message);
    BOOST_TEST(contains(message, "io.bfq.weight"), message);
  }
}

BOOST_AUTO_TEST_CASE(a_runner_alone_in_its_cgroup_moves_to_a_leaf_of_its_own) {
  FakeCgroupHost fake;
  const auto inputs = fake.pure_v2("/system.slice/agent.scope");
  const std::string scope = "/sys/fs/cgroup/system.slice/agent.scope";
  // No internal processes: the scope holds the runner, so the kernel
  // refuses to hand controllers down until the runner leaves it.
  fake.set_file(scope + "/cgroup.procs", std::to_string(kRunner) + "\n");
  fake.fail_next_write(scope + "/cgroup.subtree_control", EBUSY);
  auto cgroups = create(fake, inputs, request_with(untrusted_limits()));
  BOOST_TEST(fake.made.front() == scope + "/tierbox-runner");
  BOOST_TEST(fake.writes_to(scope + "/tierbox-runner/cgroup.procs") == std::vector<std::string>{std::to_string(kRunner)},
             boost::test_tools::per_element());
  BOOST_TEST(fake.writes_to(scope + "/cgroup.subtree_control") == (std::vector<std::string>{"+memory +pids +cpu", "+memory +pids +cpu"}),
             boost::test_tools::per_element());
  BOOST_TEST(fake.writes_to("memory.max").size() == 1u);
}

BOOST_AUTO_TEST_CASE(a_cgroup_shared_with_other_processes_is_not_rearranged) {
  FakeCgroupHost fake;
  const auto inputs = fake.pure_v2("/user.slice/session-1.scope");
  const std::string scope = "/sys/fs/cgroup/user.slice/session-1.scope";
  fake.set_file(scope + "/cgroup.procs", "1000\n" + std::to_string(kRunner) + "\n");  // the login shell too
  fake.fail_next_write(scope + "/cgroup.subtree_control", EBUSY);
  const auto message = refusal_of([&] { create(fake, inputs, request_with(untrusted_limits())); });
  BOOST_TEST(contains(message, "limits.memory"), message);
  BOOST_TEST(contains(message, "Delegate=yes"), message);
  BOOST_TEST(std::none_of(fake.made.begin(), fake.made.end(), [](auto& made) { return made.find("tierbox-runner") != std::string::npos; }));
  BOOST_TEST(fake.file(scope + "/cgroup.procs") == "1000\n" + std::to_string(kRunner) + "\n");
}

BOOST_AUTO_TEST_CASE(cgroup_parent_must_stay_inside_the_callers_subtree) {
  FakeCgroupHost fake;
  const auto inputs = fake.pure_v2("/user.slice/ci.scope");
  // Subtrees prepared for tierbox hand the controllers down.
  fake.set_file("/sys/fs/cgroup/user.slice/ci.scope/cgroup.subtree_control", "cpu io memory pids\n");
  fake.make_cgroup("/sys/fs/cgroup/user.slice/ci.scope/jobs");
  fake.make_cgroup("/sys/fs/cgroup/tierbox.slice");
  fake.set_file("/sys/fs/cgroup/tierbox.slice/cgroup.subtree_control", "cpu io memory pids\n");
  fake.make_cgroup("/sys/fs/cgroup/tierbox.slice/team-a");
  auto request = request_with(untrusted_limits());
  request.requested_parent = "/user.slice/ci.scope/jobs";
  {
    auto cgroups = create(fake, inputs, request);
    BOOST_TEST(fake.made.back() == "/sys/fs/cgroup/user.slice/ci.scope/jobs/tierbox-00c0ffee12345678");
  }
  request.requested_parent = "jobs";  // relative: below the runner's own cgroup
  {
    auto cgroups = create(fake, inputs, request);
    BOOST_TEST(fake.made.back() == "/sys/fs/cgroup/user.slice/ci.scope/jobs/tierbox-00c0ffee12345678");
  }
  request.requested_parent = "missing";  // inside, but nobody made it
  try {
    create(fake, inputs, request);
    BOOST_ERROR("a missing parent was not reported");
  } catch (const Error& error) {
    BOOST_TEST(std::string(error.what()).find("parent cgroup") != std::string::npos, error.what());
    BOOST_TEST(std::string(error.what()).find("does not exist") != std::string::npos, error.what());
  }
  request.requested_parent = "/tierbox.slice";
  auto message = refusal_of([&] { create(fake, inputs, request); });
  BOOST_TEST(contains(message, "--cgroup-parent /tierbox.slice lies outside the runner's own"), message);
  // The administrator's cgroup_parent grants a subtree: the default place,
  // and --cgroup-parent may go below it.
  request.configured_parent = "/tierbox.slice";
  request.requested_parent.clear();
  {
    auto cgroups = create(fake, inputs, request);
    BOOST_TEST(fake.made.back() == "/sys/fs/cgroup/tierbox.slice/tierbox-00c0ffee12345678");
  }
  request.requested_parent = "team-a";
  {
    auto cgroups = create(fake, inputs, request);
    BOOST_TEST(fake.made.back() == "/sys/fs/cgroup/tierbox.slice/team-a/tierbox-00c0ffee12345678");
  }
  request.requested_parent = "/tierbox.slice/team-a";
  {
    auto cgroups = create(fake, inputs, request);
    BOOST_TEST(fake.made.back() == "/sys/fs/cgroup/tierbox.slice/team-a/tierbox-00c0ffee12345678");
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(cgroup_v1)

BOOST_AUTO_TEST_CASE(this_machine_gets_one_directory_per_hierarchy_below_the_runners_cgroup) {
  FakeCgroupHost fake;
  const auto inputs = fake.this_machine("/process_api/abc");
  auto cgroups = create(fake, inputs, request_with(untrusted_limits()));
  // Before clone nothing is made on v1 (no CLONE_INTO_CGROUP needs it): the
  // directories are made while the child builds its root.
  BOOST_TEST(fake.made.empty());
  BOOST_TEST(cgroups.clone_into_fd() == -1);
  cgroups.create_v1_part();
  const std::string id = "tierbox-00c0ffee12345678";
  const std::vector<std::string> dirs = {"/sys/fs/cgroup/memory/process_api/abc/" + id, "/sys/fs/cgroup/pids/" + id,
                                         "/sys/fs/cgroup/cpu/" + id, "/sys/fs/cgroup/freezer/" + id};
  BOOST_TEST(fake.made == dirs, boost::test_tools::per_element());
  std::vector<std::string> written;
  for (const auto& write : fake.writes) written.push_back(write.path + "=" + write.text);
  const std::vector<std::string> expected = {
      dirs[0] + "/memory.limit_in_bytes=536870912",
      dirs[0] + "/memory.memsw.limit_in_bytes=536870912",  // memory + 0 swap
      dirs[1] + "/pids.max=128",
      dirs[2] + "/cpu.cfs_quota_us=50000",
  };
  BOOST_TEST(written == expected, boost::test_tools::per_element());
  BOOST_TEST(cgroups.clone_into_fd() == -1);  // no CLONE_INTO_CGROUP on v1
  BOOST_TEST(cgroups.report().mode == "v1");
  BOOST_TEST(cgroups.report().kill == "freezer");
  BOOST_TEST(cgroups.report().paths.size() == 4u);

  // The child joins each through `tasks` (itself, one thread: no global
  // lock), with files the parent opened.
  std::vector<std::string> tasks;
  for (const auto& dir : dirs) tasks.push_back(dir + "/tasks");
  BOOST_TEST(fake.opened == tasks, boost::test_tools::per_element());
  BOOST_REQUIRE(cgroups.join_fds().size() == 4u);
  join_as_the_child(cgroups);
  BOOST_TEST(cgroups.join_fds().empty());
  for (const auto& file : tasks) BOOST_TEST(fake.file(file) == "0", file);
  BOOST_TEST(fake.writes.size() == expected.size());  // nothing written by the parent
}

BOOST_AUTO_TEST_CASE(the_join_files_travel_with_sync_2_and_arrive_close_on_exec) {
  FakeCgroupHost fake;
  const auto inputs = fake.this_machine();
  auto cgroups = create_with_v1(fake, inputs, request_with(untrusted_limits()));
  int pair[2];
  BOOST_REQUIRE(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) == 0);
  launch::SyncMessage message;
  message.kind = launch::SyncKind::network_ready;
  const auto fds = cgroups.join_fds();
  BOOST_REQUIRE(launch::send_sync_with_fds(pair[0], message, fds.data(), fds.size()));
  cgroups.close_join_fds();
  int received[launch::kMaxSyncFds];
  std::size_t count = 0;
  BOOST_REQUIRE(launch::receive_sync_with_fds(pair[1], launch::SyncKind::network_ready, received, &count));
  BOOST_TEST(count == 4u);
  for (std::size_t i = 0; i < count; ++i) BOOST_TEST((::fcntl(received[i], F_GETFD) & FD_CLOEXEC) != 0);
  ChildFailure failure;
  BOOST_TEST(join_cgroups(received, count, failure));
  BOOST_TEST(fake.file("/sys/fs/cgroup/freezer/tierbox-00c0ffee12345678/tasks") == "0");
  // The wrong sync point is refused, fds or not.
  BOOST_REQUIRE(launch::send_sync_with_fds(pair[0], message, nullptr, 0));
  BOOST_TEST(!launch::receive_sync_with_fds(pair[1], launch::SyncKind::ids_mapped, received, &count));
  BOOST_TEST(errno == EPROTO);
  ::close(pair[0]);
  ::close(pair[1]);
}

BOOST_AUTO_TEST_CASE(a_failed_join_names_the_file_and_errno_and_closes_every_fd) {
  int pipe_fds[2];
  BOOST_REQUIRE(::pipe(pipe_fds) == 0);
  const int read_only = pipe_fds[0];  // writing it fails with EBADF
  int fds[] = {read_only, pipe_fds[1]};
  ChildFailure failure;
  BOOST_TEST(!join_cgroups(fds, 2, failure));
  BOOST_TEST(failure.err == EBADF);
  BOOST_TEST(std::string(failure.detail).find("tasks") != std::string::npos, failure.detail);
  BOOST_TEST(::fcntl(pipe_fds[0], F_GETFD) == -1);  // both closed, the failed one too
  BOOST_TEST(::fcntl(pipe_fds[1], F_GETFD) == -1);
}

BOOST_AUTO_TEST_CASE(swap_is_granted_on_top_of_memory) {
  FakeCgroupHost fake;
  const auto inputs = fake.this_machine();
  auto limits = untrusted_limits();
  limits.memory_swap.value = 1ULL << 30;
  auto cgroups = create_with_v1(fake, inputs, request_with(limits));
  BOOST_TEST(fake.writes_to("memory.memsw.limit_in_bytes") == std::vector<std::string>{std::to_string((512ULL << 20) + (1ULL << 30))},
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(the_freezer_kills_the_tree_frozen_so_nothing_forks_meanwhile) {
  FakeCgroupHost fake;
  const auto inputs = fake.this_machine();
  auto cgroups = create_with_v1(fake, inputs, request_with({}));
  const std::string freezer = "/sys/fs/cgroup/freezer/tierbox-00c0ffee12345678";
  fake.set_file(freezer + "/cgroup.procs", "501\n502\n503\n");
  fake.writes.clear();
  BOOST_TEST(cgroups.kill());
  std::vector<std::string> written;
  for (const auto& write : fake.writes) written.push_back(write.path + "=" + write.text);
  BOOST_TEST(written == (std::vector<std::string>{freezer + "/freezer.state=FROZEN", freezer + "/freezer.state=THAWED"}),
             boost::test_tools::per_element());
  BOOST_TEST(fake.killed == (std::vector<pid_t>{501, 502, 503}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(usage_from_max_usage_oom_control_pids_and_cpu_stat) {
  FakeCgroupHost fake;
  const auto inputs = fake.this_machine();
  auto cgroups = create_with_v1(fake, inputs, request_with(untrusted_limits()));
  const std::string id = "tierbox-00c0ffee12345678";
  fake.set_file("/sys/fs/cgroup/memory/process_api/abc/" + id + "/memory.max_usage_in_bytes", "536870912\n");
  fake.set_file("/sys/fs/cgroup/memory/process_api/abc/" + id + "/memory.oom_control",
                "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n");
  fake.set_file("/sys/fs/cgroup/pids/" + id + "/pids.peak", "128\n");
  fake.set_file("/sys/fs/cgroup/pids/" + id + "/pids.events", "max 5\n");
  fake.set_file("/sys/fs/cgroup/cpu/" + id + "/cpu.stat", "nr_periods 10\nnr_throttled 9\nthrottled_time 450000000\n");
  const auto usage = cgroups.usage();
  BOOST_TEST(usage.memory_peak_bytes.value() == 536870912u);
  BOOST_TEST(usage.oom_killed);
  BOOST_TEST(usage.pids_peak.value() == 128u);
  BOOST_TEST(usage.pids_limit_hit);
  BOOST_TEST(usage.cpu_throttled_us.value() == 450000u);
  BOOST_TEST(!usage.cpu_user_us.has_value());  // no v2 cgroup: the launcher uses init's rusage
}

BOOST_AUTO_TEST_CASE(destroy_removes_every_directory_and_kills_leftovers_through_the_freezer) {
  FakeCgroupHost fake;
  const auto inputs = fake.this_machine();
  auto cgroups = create_with_v1(fake, inputs, request_with(untrusted_limits()));
  const std::string id = "tierbox-00c0ffee12345678";
  // A process the pid namespace teardown somehow missed, in every hierarchy.
  for (const char* dir : {"memory/process_api/abc/", "pids/", "cpu/", "freezer/"})
    fake.set_file("/sys/fs/cgroup/" + std::string(dir) + id + "/cgroup.procs", "777\n");
  cgroups.destroy();
  BOOST_TEST(fake.killed.front() == 777);
  BOOST_TEST(fake.removed.size() == 4u);
  BOOST_TEST(!fake.exists("/sys/fs/cgroup/freezer/" + id));
  BOOST_TEST(!fake.exists("/sys/fs/cgroup/memory/process_api/abc/" + id));
}

BOOST_AUTO_TEST_CASE(a_failed_creation_removes_what_was_made) {
  FakeCgroupHost fake;
  const auto inputs = fake.this_machine();
  fake.fail_next_write("pids.max", EINVAL);
  BOOST_CHECK_THROW(create_with_v1(fake, inputs, request_with(untrusted_limits())), SysError);
  BOOST_TEST(fake.made.size() == 2u);  // memory, pids
  BOOST_TEST(fake.removed.size() == 2u);
}

BOOST_AUTO_TEST_CASE(without_a_freezer_or_cgroup2_the_pid_namespace_kill_is_all) {
  FakeCgroupHost fake;
  const auto inputs = fake.v1_without_freezer();
  auto cgroups = create_with_v1(fake, inputs, request_with({}));
  BOOST_TEST(cgroups.report().kill == "none");
  BOOST_TEST(cgroups.report().mode == "v1");
  BOOST_TEST(!cgroups.kill());
}

BOOST_AUTO_TEST_CASE(without_a_freezer_an_empty_cgroup2_still_kills_and_counts_cpu) {
  // cgroup.kill and cpu.stat's usage are core files of every v2 cgroup: no
  // controller needed, so an otherwise empty cgroup2 mount is enough.
  FakeCgroupHost fake;
  auto inputs = fake.this_machine("/");
  inputs.self_cgroup = "8:pids:/\n4:memory:/\n0::/\n";
  inputs.mountinfo =
      "35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
      "39 31 0:36 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n"
      "41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n";
  auto cgroups = create_with_v1(fake, inputs, request_with({}));
  BOOST_TEST(cgroups.report().kill == "cgroup.kill");
  BOOST_TEST(cgroups.report().mode == "mixed");
  BOOST_TEST(cgroups.clone_into_fd() >= 0);
  BOOST_TEST(fake.made.front() == "/sys/fs/cgroup/unified/tierbox-00c0ffee12345678");  // v2 first, then v1
  BOOST_TEST(fake.writes_to("cgroup.subtree_control").empty());
  fake.set_file("/sys/fs/cgroup/unified/tierbox-00c0ffee12345678/cpu.stat", "usage_usec 9\nuser_usec 7\nsystem_usec 2\n");
  BOOST_TEST(cgroups.usage().cpu_user_us.value() == 7u);
  BOOST_TEST(cgroups.kill());
  BOOST_TEST(fake.writes_to("unified/tierbox-00c0ffee12345678/cgroup.kill") == std::vector<std::string>{"1"},
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_mixed_host_takes_each_controller_where_it_is) {
  // memory on cgroup v2, pids and freezer on v1: a v2 cgroup (entered with
  // CLONE_INTO_CGROUP) and a v1 pids directory; cgroup.kill kills the tree.
  FakeCgroupHost fake;
  auto inputs = fake.this_machine("/");
  fake.set_file("/sys/fs/cgroup/unified/cgroup.controllers", "memory hugetlb\n");
  inputs.self_cgroup = "8:pids:/\n6:freezer:/\n0::/\n";
  inputs.mountinfo =
      "37 31 0:34 / /sys/fs/cgroup/freezer rw - cgroup cgroup rw,freezer\n"
      "39 31 0:36 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n"
      "41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n";
  auto limits = untrusted_limits();
  limits.cpu_millicores = {};  // no cpu controller in this layout
  auto cgroups = create_with_v1(fake, inputs, request_with(limits));
  const auto& report = cgroups.report();
  BOOST_TEST(report.mode == "mixed");
  BOOST_TEST(report.kill == "cgroup.kill");
  BOOST_TEST(cgroups.clone_into_fd() >= 0);
  BOOST_TEST(fake.writes_to("/sys/fs/cgroup/unified/cgroup.subtree_control") == std::vector<std::string>{"+memory"},
             boost::test_tools::per_element());
  BOOST_TEST(fake.writes_to("unified/tierbox-00c0ffee12345678/memory.max") == std::vector<std::string>{"536870912"},
             boost::test_tools::per_element());
  BOOST_TEST(fake.writes_to("pids/tierbox-00c0ffee12345678/pids.max") == std::vector<std::string>{"128"},
             boost::test_tools::per_element());
  BOOST_TEST(report.not_enforced.empty());
  // The child joins the v1 part itself; clone3 places it in the v2 part.
  BOOST_TEST(fake.opened == std::vector<std::string>{"/sys/fs/cgroup/pids/tierbox-00c0ffee12345678/tasks"},
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE_END()
