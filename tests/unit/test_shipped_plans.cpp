// The shipped tiers load to the same plans, whatever the loader's inner
// structure: each tier is planned with fixed inputs (run id, request, fake
// host facts) and the plan's digest, and a fingerprint of what the digest
// leaves out (mount steps, identity, rlimits, seccomp, Landlock), are compared
// with constants recorded on the code before the profile registry (issue 26).
// A change to a shipped tier or to the planner changes them on purpose: then
// record the new values printed by the failing test, and say why in the commit.
#include <boost/test/unit_test.hpp>

#include <string>

#include "common/digest.h"
#include "policy/plan_summary.h"
#include "policy/planner.h"
#include "policy/profile_loader.h"
#include "profile_text.h"

using namespace tierbox;
using namespace tierbox::policy;
using namespace tierbox::testing;

namespace {

TaskRequest fixed_request() {
  TaskRequest request;
  request.argv = {"/usr/bin/env", "-0"};
  request.workspace = "/home/dev/repo";
  request.caller_env = {{"TERM", "xterm"}, {"LD_PRELOAD", "/evil.so"}};
  request.caller.uid = 1234;
  request.caller.user_name = "dev";
  return request;
}

HostFacts fixed_host() {
  HostFacts facts;
  facts.landlock_abi = 7;
  facts.today = Date{2026, 12, 1};
  facts.workspace = WorkspaceFacts{"/home/dev/repo", true, 1234, 1234, 64769, 4242, 0xEF53};
  facts.data_classes_file = "/etc/tierbox/data-classes.json";
  facts.data_classes_sha256 = std::string(64, 'a');
  facts.resolved_names["api.github.com"] = {net::Ipv4Address{0xC0000201}};
  // sealed's image (host tiers ignore it).
  facts.rootfs_image = RootfsImageFacts{"minimal", "sha256:" + std::string(64, 'c'), "/var/lib/tierbox/rootfs/images/cc/tree",
                                        {{"bin", rootfs::EntryKind::directory, ""}, {"etc", rootfs::EntryKind::directory, ""},
                                         {"sbin", rootfs::EntryKind::symlink, "bin"}, {"tmp", rootfs::EntryKind::directory, ""},
                                         {"usr", rootfs::EntryKind::directory, ""}},
                                        {}};
  return facts;
}

// What plan_digest leaves out but a launch carries out. The file's own sha256
// is left out of both: adding `$schema` to the shipped files changes their
// bytes, not what they ask for.
std::string plan_fingerprint(LaunchPlan plan) {
  plan.profile_sha256.clear();
  nlohmann::json out;
  out["digest"] = plan_digest(plan);
  out["hostname"] = plan.hostname;
  out["uid"] = {plan.task_uid, plan.task_gid};
  out["cwd"] = plan.cwd;
  out["env"] = plan.env;
  out["exec_search_path"] = plan.exec_search_path;
  out["root_size"] = plan.root_size_bytes;
  for (const auto& op : plan.mount_ops)
    out["mount_ops"].push_back({to_string(op.kind), op.target, op.data, op.mode, op.flags, op.prepared});
  for (const auto& mount : plan.prepared_mounts)
    out["prepared"].push_back({mount.source, mount.read_only, mount.allow_devices, mount.optional, mount.idmap_owner});
  for (const auto& limit : plan.rlimits) out["rlimits"].push_back({limit.resource, limit.soft, limit.hard});
  out["seccomp"] = {to_string(plan.seccomp.default_action), to_string(plan.seccomp.deny_action), plan.seccomp.allow,
                    plan.seccomp.deny, plan.seccomp.allow_dangerous, plan.seccomp.log_denials,
                    plan.seccomp.count_denials};
  const auto& landlock = plan.landlock;
  out["landlock"] = {to_string(landlock.setting), landlock.abi, landlock.handled_fs, landlock.handled_net,
                     landlock.scoped};
  for (const auto& rule : landlock.paths) out["landlock_paths"].push_back({rule.path, rule.access, rule.optional});
  return sha256_hex(out.dump());
}

std::string shipped_fingerprint(const std::string& tier) {
  return plan_fingerprint(make_plan(load_tier(tier, {kShipped}), fixed_request(), fixed_host(), "run-fixed"));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(shipped_plans)

BOOST_AUTO_TEST_CASE(shipped_tiers_plan_as_recorded) {
  // All seven changed on purpose with issue 19 (warm launches): the fixed
  // request has a workspace, and its mount ops now come after every op of
  // the tier (LaunchPlan::first_run_op, policy/plan_split.h), so a sandbox
  // can be prepared up to them. The ops themselves are the same.
  const std::pair<const char*, const char*> kExpected[] = {
      {"base", "92bc675aa1b8d8f260a331a66690c00674691ce4424827f3ff8aa377573601be"},
      // networked changed on purpose with issue 25: its name is answered by
      // the run's resolver (network.names "resolver", the new default), so
      // /etc/hosts pins nothing and resolv.conf names 127.0.0.53 (edns0).
      // Re-recorded when main (issue 25) was merged into warm (issue 19):
      // both changes at once, the resolver's files and the run's ops last.
      {"networked", "b75961f001e45fbdf2b791a95fb66c3390bce12ac24e057e6af8e78d0c3a97ce"},
      // sealed (and sealed-debian with it) changed on purpose on 2026-12-07:
      // Landlock {"minimum_abi": 1} instead of "required", so it launches on
      // the stock kernels (6.1, 5.15, 5.14) too.
      {"sealed", "45e0e5a77d9a6e1b0d8c050c27dbcf5c635ad19a41caae181993fdf28e668a02"},
      // sealed-debian added with issue 22: sealed on image:debian.
      {"sealed-debian", "c9a34994304c11fa1613b40e9140ab3a57cf7d3d77ef95e3c91d3fed4b2bb5f7"},
      {"readonly", "61478214ab15a93ba210bfde06f4334ef6cc7e69a45b1d5b7568473632392a4d"},
      // untrusted changed on purpose with issue 18: "landlock": {"minimum_abi": 1}
      // instead of "required" (ABI 6), so the default tier runs on Linux 6.1.
      {"untrusted", "35e8c2c418fb3557210ee93f8f38cc9c1c50aacb4de7d256bea1023752a9cce8"},
      {"workspace-write", "b205e91ba213e40eae3ee28256ebf6a2c58f93b79ef004d6ad2b8fd2d14f023f"},
      // new with issue 21: workspace-write, staged, limits.disk 2G; re-recorded
      // in the merge with issue 19: its workspace ops come last, like the
      // other tiers' (first_run_op), so it can take a prepared sandbox.
      {"workspace-staged", "5e05006bafbfaf6e358aabf5f1f6fea5d33033460105f17eb3494af3aabc6041"},
  };
  for (const auto& [tier, expected] : kExpected) {
    BOOST_TEST_CONTEXT("tier " << tier) { BOOST_TEST(shipped_fingerprint(tier) == expected); }
  }
}

// The control: the fingerprint sees a change a tier file could make.
BOOST_AUTO_TEST_CASE(fingerprint_changes_with_the_hostname) {
  auto profile = load_tier("untrusted", {kShipped});
  const auto before = plan_fingerprint(make_plan(profile, fixed_request(), fixed_host(), "run-fixed"));
  profile.hostname = "other";
  BOOST_TEST(plan_fingerprint(make_plan(profile, fixed_request(), fixed_host(), "run-fixed")) != before);
}

BOOST_AUTO_TEST_SUITE_END()
