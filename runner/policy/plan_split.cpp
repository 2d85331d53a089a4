#include "policy/plan_split.h"

#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include "common/digest.h"

namespace tierbox::policy {
namespace {

// The fields of a key, each a type tag, then a string's length and its
// bytes or a number in decimal, then ';': two different sequences of fields
// never make the same text (nothing is escaped, nothing can run into the
// next field).
class KeyText {
 public:
  KeyText& add(std::string_view bytes) {
    text_ += 's';
    text_ += std::to_string(bytes.size());
    text_ += ':';
    text_.append(bytes);
    text_ += ';';
    return *this;
  }
  KeyText& add(const char* bytes) { return add(std::string_view(bytes)); }
  KeyText& add(const std::string& bytes) { return add(std::string_view(bytes)); }
  template <typename T>
    requires std::is_integral_v<T> || std::is_enum_v<T>
  KeyText& add(T value) {
    if constexpr (std::is_enum_v<T>) {
      return add(static_cast<std::underlying_type_t<T>>(value));
    } else if constexpr (std::is_signed_v<T>) {
      text_ += 'i';
      text_ += std::to_string(static_cast<long long>(value));
    } else {
      text_ += 'u';
      text_ += std::to_string(static_cast<unsigned long long>(value));
    }
    text_ += ';';
    return *this;
  }
  template <typename T>
  KeyText& add(const std::optional<T>& value) {
    add(value.has_value());
    if (value) add(*value);
    return *this;
  }
  template <typename T>
  KeyText& add(const CgroupLimit<T>& limit) {
    return add(limit.value).add(limit.required);
  }
  [[nodiscard]] const std::string& text() const { return text_; }

 private:
  std::string text_;
};

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
  // Built per request on the daemon's path (service/pooled_launcher.cpp): a
  // flat text of tagged, length-prefixed fields in a fixed order instead of a
  // JSON document dumped, which took 3.5% of the daemon's CPU per launch.
  KeyText key;
  key.add("tierbox-prepared-v2");
  key.add(plan.tier).add(plan.profile_sha256).add(plan.data_classes_sha256);
  key.add(plan.rootfs_image.has_value());
  if (plan.rootfs_image) key.add(plan.rootfs_image->name).add(plan.rootfs_image->digest);
  key.add(plan.task_uid).add(plan.task_gid).add(plan.hostname).add(to_string(plan.network));
  // A sandbox in a pod's namespaces is never prepared ahead (its namespaces
  // are the pod's, chosen per container).
  key.add(plan.joined_namespaces.size());
  for (const auto& joined : plan.joined_namespaces) key.add(joined.type).add(joined.path);
  key.add(plan.root_size_bytes);
  const auto& cgroup = plan.cgroup_limits;
  key.add(cgroup.memory).add(cgroup.memory_swap).add(cgroup.pids).add(cgroup.cpu_millicores).add(cgroup.io_weight);
  key.add(plan.cgroup_parent);
  const auto per_run = run_trees(plan);
  key.add(plan.prepared_mounts.size());
  for (std::size_t i = 0; i < plan.prepared_mounts.size(); ++i) {
    const auto& mount = plan.prepared_mounts[i];
    // A per-run tree's source is the run's: only its place is the tier's.
    key.add(mount.kind).add(per_run[i]);
    if (!per_run[i]) key.add(mount.source);
    key.add(mount.read_only).add(mount.allow_devices).add(mount.optional).add(mount.idmap_owner).add(mount.layered);
    key.add(mount.idmap_from_uid).add(mount.idmap_from_gid);
  }
  // A container's root layer is made with the sandbox (its trees are the tier's).
  key.add(plan.root_layer.has_value());
  if (plan.root_layer)
    key.add(plan.root_layer->size_bytes).add(plan.root_layer->image_owner_uid).add(plan.root_layer->image_owner_gid);
  // A container's termination-message file is made with the sandbox.
  if (plan.termination_message) key.add("termination-message").add(plan.termination_message->target);
  key.add(plan.mount_ops.size());
  for (const auto& op : plan.mount_ops) key.add(op.kind).add(op.target).add(op.data).add(op.mode).add(op.flags).add(op.prepared);
  key.add(first_run_op(plan));
  const auto& landlock = plan.landlock;
  key.add(landlock.abi).add(landlock.handled_fs).add(landlock.handled_net).add(landlock.scoped);
  key.add(landlock.paths.size());
  for (const auto& rule : landlock.paths) key.add(rule.path).add(rule.access).add(rule.optional);
  key.add(landlock.ports.size());
  for (const auto& rule : landlock.ports) key.add(rule.port).add(rule.access);
  return sha256_hex(key.text());
}

}  // namespace tierbox::policy
