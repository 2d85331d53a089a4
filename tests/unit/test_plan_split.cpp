// policy/plan_split.h: the per-tier and per-run parts of a plan, which a
// prepared sandbox (launch/prepared_sandbox.h) is built from and matched by.
#include <boost/test/unit_test.hpp>

#include <algorithm>

#include "launch/run_inputs.h"
#include "launch/run_registry.h"
#include "policy/plan_split.h"
#include "policy/planner.h"
#include "common/errors.h"
#include "common/temp_dir.h"
#include "policy/profile_loader.h"
#include "policy/runner_config.h"
#include "profile_text.h"

using namespace tierbox;
using namespace tierbox::policy;
using namespace tierbox::testing;
using tierbox::testing::TempDir;
using Kind = MountOp::Kind;

namespace {

TaskRequest request_for(std::vector<std::string> argv) {
  TaskRequest request;
  request.argv = std::move(argv);
  request.caller_env = {{"TERM", "xterm"}};
  request.caller.uid = 1234;
  request.caller.user_name = "dev";
  return request;
}

HostFacts kernel_facts() {
  HostFacts facts;
  facts.landlock_abi = 7;
  return facts;
}

HostFacts with_workspace(const std::string& path) {
  HostFacts facts = kernel_facts();
  facts.workspace = WorkspaceFacts{path, true, 1234, 1234};
  return facts;
}

LaunchPlan untrusted(const TaskRequest& request, const HostFacts& facts, const std::string& run_id = "r1") {
  return make_plan(load_tier("untrusted", {kShipped}), request, facts, run_id);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(plan_split)

BOOST_AUTO_TEST_CASE(the_workspace_is_mounted_after_every_op_of_the_tier) {
  const auto plan = untrusted(request_for({"x"}), with_workspace("/home/dev/repo"));
  const auto first = first_run_op(plan);
  BOOST_REQUIRE(first < plan.mount_ops.size());
  // Everything from first_run_op on is at or below /workspace (or a stand-in
  // inside a tree); nothing before it is.
  for (std::size_t i = 0; i < first; ++i) BOOST_TEST(plan.mount_ops[i].target.rfind("workspace", 0) != 0);
  BOOST_TEST(plan.mount_ops[first].target == "workspace");
  const auto attach = std::find_if(plan.mount_ops.begin() + static_cast<std::ptrdiff_t>(first), plan.mount_ops.end(),
                                   [](const MountOp& op) { return op.kind == Kind::attach_prepared; });
  BOOST_REQUIRE(attach != plan.mount_ops.end());
  BOOST_TEST((plan.prepared_mounts[static_cast<std::size_t>(attach->prepared)].kind == PreparedMount::Kind::workspace));
  // /dev and /proc are the tier's: before the workspace.
  const auto proc = std::find_if(plan.mount_ops.begin(), plan.mount_ops.end(),
                                 [](const MountOp& op) { return op.kind == Kind::proc; });
  BOOST_TEST(static_cast<std::size_t>(proc - plan.mount_ops.begin()) < first);
  // Only the workspace's tree is the run's.
  const auto trees = run_trees(plan);
  for (std::size_t i = 0; i < trees.size(); ++i)
    BOOST_TEST(trees[i] == (plan.prepared_mounts[i].kind == PreparedMount::Kind::workspace));
}

BOOST_AUTO_TEST_CASE(without_a_workspace_every_mount_of_the_tier_is_prepared) {
  const auto plan = untrusted(request_for({"x"}), kernel_facts());
  BOOST_TEST(first_run_op(plan) == plan.mount_ops.size());
  for (bool per_run : run_trees(plan)) BOOST_TEST(!per_run);
}

BOOST_AUTO_TEST_CASE(the_key_ignores_what_is_the_requests_own) {
  const auto a = untrusted(request_for({"/bin/true"}), with_workspace("/home/dev/one"), "run-a");
  auto other_request = request_for({"python3", "skill.py"});
  other_request.caller.uid = 4321;
  other_request.caller_env = {{"TERM", "vt100"}};
  const auto b = untrusted(other_request, with_workspace("/srv/two"), "run-b");
  BOOST_TEST(prepared_key(a) == prepared_key(b));
  BOOST_TEST(prepared_key(a) == prepared_key(tier_part(a)));
}

BOOST_AUTO_TEST_CASE(the_key_changes_with_what_the_sandbox_is_built_from) {
  const auto base = untrusted(request_for({"x"}), kernel_facts());
  const auto key = prepared_key(base);
  auto changed = base;
  changed.hostname = "other";
  BOOST_TEST(prepared_key(changed) != key);
  changed = base;
  changed.profile_sha256 = "0000";  // the tier file edited on disk
  BOOST_TEST(prepared_key(changed) != key);
  changed = base;
  changed.data_classes_sha256 = "0000";  // the inventory edited
  BOOST_TEST(prepared_key(changed) != key);
  changed = base;
  changed.mount_ops.back().target += "x";
  BOOST_TEST(prepared_key(changed) != key);
  changed = base;
  changed.cgroup_limits.pids.value = 7;  // a request that lowers a cgroup limit
  BOOST_TEST(prepared_key(changed) != key);
  changed = base;
  changed.prepared_mounts.front().source = "/elsewhere";  // a tier bind moved
  BOOST_TEST(prepared_key(changed) != key);
  changed = base;
  changed.landlock.paths.front().access ^= 1;
  BOOST_TEST(prepared_key(changed) != key);
  // With and without a workspace: different roots.
  BOOST_TEST(prepared_key(untrusted(request_for({"x"}), with_workspace("/w"))) != key);
}

BOOST_AUTO_TEST_CASE(the_key_keeps_its_fields_apart) {
  // The key is a text of fields, not JSON: bytes moved from one field into
  // the next, or a field's value that looks like the next field, must not
  // give another plan's key.
  const auto base = untrusted(request_for({"x"}), kernel_facts());
  auto one = base, other = base;
  one.tier = "ab";
  one.profile_sha256 = "c";
  other.tier = "a";
  other.profile_sha256 = "bc";
  BOOST_TEST(prepared_key(one) != prepared_key(other));
  one = base, other = base;
  one.mount_ops.back().target += ";s1:x";
  other.mount_ops.back().data = "x" + other.mount_ops.back().data;
  BOOST_TEST(prepared_key(one) != prepared_key(other));
  // Control: the same fields, made apart, give the same key.
  one = base, other = base;
  one.tier = other.tier = "ab";
  BOOST_TEST(prepared_key(one) == prepared_key(other));
}

BOOST_AUTO_TEST_CASE(the_tier_part_holds_nothing_of_the_request) {
  auto request = request_for({"/bin/echo", "secret-argument"});
  request.caller_env = {{"TERM", "secret-term"}};
  const auto plan = untrusted(request, with_workspace("/home/dev/secret-repo"), "secret-run-id");
  const auto part = tier_part(plan);
  BOOST_TEST(part.argv.empty());
  BOOST_TEST(part.env.empty());
  BOOST_TEST(part.run_id.empty());
  BOOST_TEST(part.requester.empty());
  BOOST_TEST(part.requester_uid == 0U);
  BOOST_TEST(!part.workspace);
  BOOST_TEST(part.rlimits.empty());
  BOOST_TEST(part.cwd == "/");
  for (const auto& mount : part.prepared_mounts) BOOST_TEST(mount.source.find("secret-repo") == std::string::npos);
  // The control: the plan itself had them.
  BOOST_TEST(std::any_of(plan.prepared_mounts.begin(), plan.prepared_mounts.end(),
                         [](const auto& mount) { return mount.source.find("secret-repo") != std::string::npos; }));
  BOOST_TEST(part.mount_ops.size() == plan.mount_ops.size());
}

BOOST_AUTO_TEST_CASE(plans_a_prepared_sandbox_cannot_serve_are_named) {
  auto plan = untrusted(request_for({"x"}), kernel_facts());
  BOOST_TEST(why_not_preparable(plan) == "");
  auto passing = plan;
  passing.pass_fds = {5};
  BOOST_TEST(why_not_preparable(passing) == "--pass-fd");
  auto secrets = plan;
  secrets.secrets = SecretsPlan{"/run/secrets", {}};
  BOOST_TEST(why_not_preparable(secrets) == "the tier names secrets");
  auto egress = plan;
  egress.egress = EgressPlan{};
  BOOST_TEST(why_not_preparable(egress) == "network mode allowlist");
  // A caller's --bind through the daemon (the inode its client opened).
  auto bound = plan;
  PreparedMount bind{PreparedMount::Kind::host_path, "/srv/data", true};
  bound.prepared_mounts.push_back(bind);
  BOOST_TEST(why_not_preparable(bound) == "");  // a tier's own bind: preparable
  bound.prepared_mounts.back().device = 1;
  bound.prepared_mounts.back().inode = 42;
  BOOST_TEST(why_not_preparable(bound) == "a --bind whose source the caller's client opened");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(warm_pool_config)

namespace {
std::string config_error(const TempDir& dir) {
  try {
    (void)load_runner_config({dir.path()});
  } catch (const Error& error) {
    return error.what();
  }
  return "";
}
}  // namespace

BOOST_AUTO_TEST_CASE(the_pool_size_is_set_per_runner_and_per_tier) {
  TempDir dir;
  BOOST_TEST(load_runner_config({dir.path()}).warm_pool_size_of("untrusted") == 2U);  // the default
  dir.write("tierbox.json", R"({"warm_pool": {"size": 3, "tiers": {"untrusted": 0, "trusted": 5}}})");
  const auto config = load_runner_config({dir.path()});
  BOOST_TEST(config.warm_pool_size_of("untrusted") == 0U);  // 0 disables
  BOOST_TEST(config.warm_pool_size_of("trusted") == 5U);
  BOOST_TEST(config.warm_pool_size_of("readonly") == 3U);
}

BOOST_AUTO_TEST_CASE(a_bad_pool_size_names_the_file_the_field_and_the_fix) {
  TempDir dir;
  dir.write("tierbox.json", R"({"warm_pool": {"size": 1000}})");
  auto error = config_error(dir);
  BOOST_TEST(error.find("tierbox.json") != std::string::npos, error);
  BOOST_TEST(error.find("/warm_pool/size") != std::string::npos, error);
  dir.write("tierbox.json", R"({"warm_pool": {"tiers": {"../x": 1}}})");
  error = config_error(dir);
  BOOST_TEST(error.find("expected a tier name") != std::string::npos, error);
  dir.write("tierbox.json", R"({"warm_pool": {"sise": 1}})");
  error = config_error(dir);
  BOOST_TEST(error.find("sise") != std::string::npos, error);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(run_inputs)

BOOST_AUTO_TEST_CASE(the_block_holds_the_runs_own_inputs_for_the_child) {
  auto plan = untrusted(request_for({"/bin/echo", "two words", ""}), with_workspace("/home/dev/repo"));
  plan.exec_path = "/usr/bin/echo";
  launch::RunInputsArea area;
  area.fill(plan);
  const auto& inputs = *area.inputs();
  std::vector<std::string> argv;
  for (char** arg = inputs.argv; *arg; ++arg) argv.emplace_back(*arg);
  BOOST_TEST(argv == plan.argv, boost::test_tools::per_element());
  std::vector<std::string> env;
  for (char** entry = inputs.envp; *entry; ++entry) env.emplace_back(*entry);
  BOOST_TEST(env == plan.env, boost::test_tools::per_element());
  BOOST_TEST(std::string(inputs.cwd) == "/workspace");
  BOOST_TEST(std::string(inputs.exec_path) == "/usr/bin/echo");
  BOOST_TEST(std::string(inputs.exec_search_path) == plan.exec_search_path);
  BOOST_REQUIRE_EQUAL(inputs.rlimit_count, plan.rlimits.size());
  for (std::size_t i = 0; i < plan.rlimits.size(); ++i) {
    BOOST_TEST(inputs.rlimits[i].resource == plan.rlimits[i].resource);
    BOOST_TEST(inputs.rlimits[i].hard == plan.rlimits[i].hard);
  }
  // A second fill (never done in a launch: one block per sandbox) replaces it all.
  plan.argv = {"true"};
  area.fill(plan);
  BOOST_TEST(std::string(area.inputs()->argv[0]) == "true");
  BOOST_TEST(area.inputs()->argv[1] == nullptr);
}

BOOST_AUTO_TEST_CASE(more_rlimits_than_the_block_holds_are_refused) {
  auto plan = untrusted(request_for({"x"}), kernel_facts());
  plan.rlimits.resize(launch::kMaxRunRlimits + 1);
  launch::RunInputsArea area;
  BOOST_CHECK_THROW(area.fill(plan), Error);
}

BOOST_AUTO_TEST_CASE(a_warm_runs_cgroups_are_named_by_the_sandbox_the_record_names) {
  launch::RunRecord record;
  record.run_id = "aaaa";
  BOOST_TEST(launch::cgroup_owner_id(record) == "aaaa");
  record.resources["cgroup"] = {{"dirs", nlohmann::json::array()}};
  BOOST_TEST(launch::cgroup_owner_id(record) == "aaaa");
  record.resources["cgroup"]["id"] = "bbbb";
  BOOST_TEST(launch::cgroup_owner_id(record) == "bbbb");
}

BOOST_AUTO_TEST_SUITE_END()
