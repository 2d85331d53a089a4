#include "policy/plan_split.h"

#include <nlohmann/json.hpp>

#include "common/digest.h"
#include "common/json_bytes.h"

namespace tierbox::policy {
namespace {

using json = nlohmann::json;

template <typename T>
json limit(const CgroupLimit<T>& value) {
  return {value.value ? json(*value.value) : json(nullptr), value.required};
}

}  // namespace

std::size_t first_run_op(const LaunchPlan& plan) { return std::min(plan.first_run_op, plan.mount_ops.size()); }

std::vector<bool> run_trees(const LaunchPlan& plan) {
  std::vector<bool> per_run(plan.prepared_mounts.size(), false);
  for (std::size_t i = first_run_op(plan); i < plan.mount_ops.size(); ++i) {
    const auto& op = plan.mount_ops[i];
    if (op.kind == MountOp::Kind::attach_prepared && op.prepared >= 0 &&
        static_cast<std::size_t>(op.prepared) < per_run.size())
      per_run[static_cast<std::size_t>(op.prepared)] = true;
  }
  return per_run;
}

std::string why_not_preparable(const LaunchPlan& plan) {
  // The network helper attaches a namespace per run, from the run's slot.
  if (plan.egress) return "network mode allowlist";
  // Their values would have to travel to the prepared sandbox; not done yet.
  if (plan.secrets) return "the tier names secrets";
  // A passed fd keeps its number; a prepared sandbox was made without it.
  if (!plan.pass_fds.empty()) return "--pass-fd";
  // A caller's --bind through the daemon: its tree must be the inode that
  // caller's client opened, checked when the request arrives; a sandbox
  // prepared earlier (for whoever set the pattern) was not.
  for (const auto& mount : plan.prepared_mounts)
    if (mount.inode != 0) return "a --bind whose source the caller's client opened";
  // A staged workspace is preparable: its layer and overlay replace the
  // workspace's tree, one of the run's own, when the run comes (step 7b).
  return "";
}

LaunchPlan tier_part(const LaunchPlan& plan) {
  LaunchPlan part = plan;
  part.run_id.clear();
  part.requester_uid = 0;
  part.requester.clear();
  part.requester_sudo_uid.reset();
  part.requester_sudo_user.clear();
  part.argv.clear();
  part.env.clear();
  part.pass_fds.clear();
  part.exec_search_path.clear();
  part.exec_path.clear();
  part.cwd = "/";
  part.workspace.reset();
  part.placeholders.clear();
  part.overrides.clear();
  part.review_expired = false;
  part.widening.clear();
  part.data_exposure.clear();
  part.secrets.reset();
  part.wall_time = std::chrono::milliseconds{0};
  part.rlimits.clear();
  const auto per_run = run_trees(plan);
  for (std::size_t i = 0; i < part.prepared_mounts.size(); ++i)
    if (per_run[i]) part.prepared_mounts[i].source.clear();
  return part;
}

std::string prepared_key(const LaunchPlan& plan) {
  json key;
  key["tier"] = plan.tier;
  key["profile_sha256"] = plan.profile_sha256;
  key["data_classes_sha256"] = plan.data_classes_sha256;
  key["rootfs"] = plan.rootfs_image ? json{plan.rootfs_image->name, plan.rootfs_image->digest} : json(nullptr);
  key["ids"] = {plan.task_uid, plan.task_gid};
  key["hostname"] = json_bytes(plan.hostname);
  key["network"] = to_string(plan.network);
  // A sandbox in a pod's namespaces is never prepared ahead (its namespaces
  // are the pod's, chosen per container).
  for (const auto& joined : plan.joined_namespaces) key["joined"].push_back({joined.type, json_bytes(joined.path)});
  key["root_size"] = plan.root_size_bytes;
  const auto& cgroup = plan.cgroup_limits;
  key["cgroup"] = {limit(cgroup.memory), limit(cgroup.memory_swap), limit(cgroup.pids), limit(cgroup.cpu_millicores),
                   limit(cgroup.io_weight), json_bytes(plan.cgroup_parent)};
  const auto per_run = run_trees(plan);
  json trees = json::array();
  for (std::size_t i = 0; i < plan.prepared_mounts.size(); ++i) {
    const auto& mount = plan.prepared_mounts[i];
    trees.push_back({static_cast<int>(mount.kind), per_run[i] ? json(nullptr) : json_bytes(mount.source),
                     mount.read_only, mount.allow_devices, mount.optional, mount.idmap_owner});
  }
  key["trees"] = trees;
  json ops = json::array();
  for (const auto& op : plan.mount_ops)
    ops.push_back({static_cast<int>(op.kind), json_bytes(op.target), json_bytes(op.data), op.mode, op.flags, op.prepared});
  key["ops"] = ops;
  key["first_run_op"] = first_run_op(plan);
  const auto& landlock = plan.landlock;
  json paths = json::array();
  for (const auto& rule : landlock.paths) paths.push_back({json_bytes(rule.path), rule.access, rule.optional});
  json ports = json::array();
  for (const auto& rule : landlock.ports) ports.push_back({rule.port, rule.access});
  key["landlock"] = {landlock.abi, landlock.handled_fs, landlock.handled_net, landlock.scoped, paths, ports};
  // nlohmann keeps keys sorted: dump() is canonical.
  return sha256_hex("tierbox-prepared-v1\n" + key.dump());
}

}  // namespace tierbox::policy
