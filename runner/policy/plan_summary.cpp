#include "policy/plan_summary.h"

#include <cstdio>
#include <nlohmann/json.hpp>

#include "common/digest.h"
#include "common/json_bytes.h"
#include "common/units.h"

namespace tierbox::policy {
namespace {

using json = nlohmann::json;

// The tier's and the caller's binds (not the fixed device nodes), with where
// they appear.
json binds(const LaunchPlan& plan) {
  json out = json::array();
  for (const auto& op : plan.mount_ops) {
    if (op.kind != MountOp::Kind::attach_prepared || op.prepared < 0) continue;
    const auto& prepared = plan.prepared_mounts[static_cast<std::size_t>(op.prepared)];
    if (prepared.allow_devices || prepared.kind == PreparedMount::Kind::termination_message) continue;
    out.push_back({{"source", prepared.source}, {"target", "/" + op.target}, {"writable", !prepared.read_only},
                   {"workspace", prepared.kind == PreparedMount::Kind::workspace}});
  }
  return out;
}

json limits(const LaunchPlan& plan) {
  const auto& cgroup = plan.cgroup_limits;
  const auto value = [](const auto& limit) { return limit.value ? json(*limit.value) : json(nullptr); };
  return {{"wall_time_ms", plan.wall_time.count()},
          {"memory", value(cgroup.memory)},
          {"memory_swap", value(cgroup.memory_swap)},
          {"pids", value(cgroup.pids)},
          {"cpu_millicores", value(cgroup.cpu_millicores)}};
}

json network(const LaunchPlan& plan) {
  json allow = json::array();
  // The destinations as written (names, not the addresses they resolved to).
  if (plan.egress) {
    std::vector<std::string> seen;
    for (const auto& rule : plan.egress->allow) {
      if (std::find(seen.begin(), seen.end(), rule.origin) != seen.end()) continue;
      seen.push_back(rule.origin);
      allow.push_back(rule.origin);
    }
    for (const auto& name : plan.egress->names) allow.push_back(name.origin);
  }
  return {{"mode", to_string(plan.network)}, {"allow", allow}};
}

json environment_names(const LaunchPlan& plan) {
  json names = json::array();
  for (const auto& entry : plan.env) names.push_back(entry.substr(0, entry.find('=')));
  return names;
}

std::string cores(std::uint32_t millicores) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", static_cast<double>(millicores) / 1000.0);
  return text;
}

}  // namespace

json plan_summary(const LaunchPlan& plan) {
  json summary;
  summary["tier"] = plan.tier;
  summary["profile_sha256"] = plan.profile_sha256;
  summary["data_classes_sha256"] = plan.data_classes_sha256;
  // Only image tiers carry it, so a host tier's digest is what it was.
  if (plan.rootfs_image) summary["rootfs"] = {{"image", plan.rootfs_image->name}, {"digest", plan.rootfs_image->digest}};
  // Only a container's writable root carries it, so other digests stay.
  if (plan.root_layer) summary["rootfs"]["writable_layer"] = {{"size_bytes", plan.root_layer->size_bytes}};
  summary["argv"] = plan.argv;
  summary["exec_path"] = plan.exec_path;
  summary["workspace"] = plan.workspace ? json{{"path", plan.workspace->host_path}, {"target", plan.workspace->target},
                                               {"writable", plan.workspace->writable}}
                                        : json(nullptr);
  // Only staged workspaces and output limits carry these, so the digests
  // of plans without them are what they were.
  if (plan.workspace && plan.workspace->staged)
    summary["workspace"]["staged"] = {{"layer_size_bytes", plan.workspace->layer_size_bytes}};
  if (plan.output_limit_bytes) summary["output_limit_bytes"] = *plan.output_limit_bytes;
  summary["binds"] = binds(plan);
  // Only a container with the engine's termination-message file carries it.
  if (plan.termination_message)
    summary["termination_message"] = {{"target", plan.termination_message->target},
                                      {"size_bytes", plan.termination_message->size_bytes},
                                      {"engine_file", plan.termination_message->engine_file}};
  json exposure = json::array();
  for (const auto& tree : plan.data_exposure)
    exposure.push_back({{"target", tree.target}, {"class", to_string(tree.data_class)}, {"writable", tree.writable}});
  summary["data_classes"] = exposure;
  summary["network"] = network(plan);
  // Only a pod's containers carry it (oci/pod.h), so other digests stay.
  for (const auto& joined : plan.joined_namespaces)
    summary["joined_namespaces"].push_back({{"path", joined.path}, {"owner", joined.owner}});
  summary["limits"] = limits(plan);
  summary["env"] = environment_names(plan);
  json secrets = json::array();
  if (plan.secrets)
    for (const auto& file : plan.secrets->files) secrets.push_back(file.name);
  summary["secrets"] = secrets;
  summary["pass_fds"] = plan.pass_fds;
  json widening = json::array();
  for (const auto& item : plan.widening) widening.push_back({{"kind", item.kind}, {"text", item.text}});
  summary["widening"] = widening;
  summary["overrides"] = plan.overrides;
  return summary;
}

std::string plan_digest(const LaunchPlan& plan) {
  // nlohmann keeps keys sorted: dump() is canonical.
  return sha256_hex("tierbox-plan-v1\n" + utf8_safe(plan_summary(plan)).dump());
}

std::vector<std::string> plan_summary_lines(const LaunchPlan& plan) {
  std::vector<std::string> lines;
  lines.push_back("tier: " + plan.tier + " (profile sha256 " + plan.profile_sha256.substr(0, 12) + ")");
  if (plan.rootfs_image)
    lines.push_back("root filesystem: image " + plan.rootfs_image->name + " " + plan.rootfs_image->digest +
                    (plan.root_layer ? ", writable: its writes land in a layer of " + format_size(plan.root_layer->size_bytes) +
                                           " (memory), never in the image, discarded when the container ends"
                                     : std::string()));
  std::string command;
  for (const auto& arg : plan.argv) command += (command.empty() ? "" : " ") + json_bytes(arg).dump();
  lines.push_back("command: " + command + (plan.exec_path.empty() ? "" : " (executes " + plan.exec_path + ")"));
  if (plan.workspace)
    lines.push_back("workspace: " + plan.workspace->host_path + " at " + plan.workspace->target + " (" +
                    (plan.workspace->writable ? "read-write" : "read-only") + ")");
  std::string writable;
  for (const auto& bind : binds(plan))
    if (bind["writable"].get<bool>())
      writable += (writable.empty() ? "" : ", ") + bind["source"].get<std::string>() + " at " + bind["target"].get<std::string>();
  lines.push_back("writable host paths: " + (writable.empty() ? std::string("none") : writable));
  if (plan.termination_message)
    lines.push_back("termination message: " + plan.termination_message->target + " (" +
                    std::to_string(plan.termination_message->size_bytes) + " bytes, copied to the engine's file at the end)");
  std::string network_text = to_string(plan.network);
  const auto net = network(plan);
  if (!net["allow"].empty()) {
    network_text += ":";
    for (const auto& destination : net["allow"]) network_text += " " + destination.get<std::string>();
  }
  lines.push_back("network: " + network_text);
  std::string classes;
  for (const auto& tree : plan.data_exposure)
    classes += (classes.empty() ? "" : ", ") + tree.target + " " + to_string(tree.data_class);
  lines.push_back("data classes: " + (classes.empty() ? std::string("none bound") : classes));
  const auto& cgroup = plan.cgroup_limits;
  lines.push_back("limits: wall time " + format_duration(plan.wall_time) + ", memory " +
                  (cgroup.memory.value ? format_size(*cgroup.memory.value) : "unlimited") + ", pids " +
                  (cgroup.pids.value ? std::to_string(*cgroup.pids.value) : "unlimited") + ", cpu " +
                  (cgroup.cpu_millicores.value ? cores(*cgroup.cpu_millicores.value) + " cores" : "unlimited"));
  if (!plan.widening.empty()) {
    std::string asked;
    for (const auto& item : plan.widening) asked += (asked.empty() ? "" : ", ") + item.text;
    lines.push_back("asked beyond the tier: " + asked);
  }
  for (const auto& override_text : plan.overrides) lines.push_back("override: " + override_text);
  lines.push_back("plan digest: " + plan_digest(plan));
  return lines;
}

}  // namespace tierbox::policy
