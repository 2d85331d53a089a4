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
  const std::pair<const char*, const char*> kExpected[] = {
      {"base", "d18482a95b9983ccdd4adbbd45271cf34c037889ed679a477f7175dcd4fddf40"},
      // networked changed on purpose with issue 25: its name is answered by
      // the run's resolver (network.names "resolver", the new default), so
      // /etc/hosts pins nothing and resolv.conf names 127.0.0.53 (edns0).
      {"networked", "3c6770b34b395028e184fe19315db7f9531eecc155ff815208bf881bffd73d0e"},
      {"sealed", "c9952ef9d52444f0631551d5207b685300205a0b8f3058123d8448b4620baa03"},
      // sealed-debian added with issue 22: sealed on image:debian.
      {"sealed-debian", "20c9c47d25ac038897cec1b986506e4ea0e4cbba41e9f5c38ac46ffe963991ee"},
      {"readonly", "19b4c22c5c7d074374d169bbc0470bcdbfc48be6afb4fb83377795c0e208a5b7"},
      // untrusted changed on purpose with issue 18: "landlock": {"minimum_abi": 1}
      // instead of "required" (ABI 6), so the default tier runs on Linux 6.1.
      {"untrusted", "9129344474d586c5edf28bbc05f4f55b3fec5a4846243ce07997dbc7dc25a3c0"},
      {"workspace-write", "0751e2fd366093f734fdd7287366f38d2b0f6fb75b8099fafe7e914376757b35"},
      // new with issue 21: workspace-write, staged, limits.disk 2G.
      {"workspace-staged", "6e0624477380d8e022d04568d073a67b5d1806a6b8924d11f14fe6eedd599e87"},
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
