#include "audit/records.h"

#include <sys/utsname.h>

#include "common/utf8.h"
#include "policy/widening.h"

namespace tierbox::audit {
namespace {

// A message is text for people: a byte that is not UTF-8 in it (from a path
// or an argument it names) is spelled \xNN, so it stays a string; the
// faithful bytes are in the record's own fields (docs/governance.md).
std::string message_text(const std::string& text) { return spell_out_invalid_utf8(text); }

using json = nlohmann::json;

template <typename T>
json value_or_null(const std::optional<T>& value) {
  return value ? json(*value) : json(nullptr);
}

json widening_json(const policy::LaunchPlan& plan) {
  json items = json::array();
  for (const auto& item : plan.widening) items.push_back({{"kind", item.kind}, {"text", item.text}});
  return items;
}

json identities(const std::vector<Identity>& people) {
  json out = json::array();
  for (const auto& person : people) out.push_back(to_json(person));
  return out;
}

std::string end_outcome(const launch::Outcome& outcome) {
  if (outcome.timed_out) return "timeout";
  if (!outcome.exec_succeeded) return "error";
  if (outcome.signal) return "killed";
  if (outcome.exit_code && *outcome.exit_code == 0) return "ok";
  return "failed";
}

}  // namespace

std::string host_name() {
  struct utsname names {};
  return ::uname(&names) == 0 ? names.nodename : "";
}

json base_record(const std::string& event, const RunContext& context) {
  json record = {{"event", event},          {"run_id", context.run_id}, {"user", to_json(context.user)},
                 {"host", context.host},     {"tier", context.tier},     {"argv", context.argv},
                 {"cwd", context.cwd}};
  if (!context.container_id.empty())
    record["container"] = {{"id", context.container_id}, {"image_digest", context.image_digest}};
  if (!context.simulation.empty()) record["simulation"] = context.simulation;
  return record;
}

json daemon_record(const Identity& user, pid_t peer_pid, const std::string& action, const std::string& detail) {
  auto record = base_record("daemon", RunContext{"", user, host_name(), "", {}, ""});
  record["outcome"] = action;
  record["action"] = action;
  record["detail"] = detail;
  record["peer_pid"] = peer_pid;
  return record;
}

json request_record(const RunContext& context, const policy::LaunchPlan& plan, const std::string& plan_digest,
                    const policy::MatrixDecision& matrix) {
  auto record = base_record("request", context);
  record["profile_sha256"] = plan.profile_sha256;
  record["plan_digest"] = plan_digest;
  if (plan.rootfs_image) record["rootfs"] = {{"image", plan.rootfs_image->name}, {"digest", plan.rootfs_image->digest}};
  // A container's writable root: its writes go to a layer of this size.
  if (plan.root_layer) record["rootfs"]["writable_layer"] = {{"size_bytes", plan.root_layer->size_bytes}};
  record["workspace"] = plan.workspace ? json(plan.workspace->host_path) : json(nullptr);
  record["widening"] = widening_json(plan);
  json classes = json::array();
  for (const auto& tree : plan.data_exposure)
    classes.push_back({{"target", tree.target}, {"class", policy::to_string(tree.data_class)}});
  record["data_classes"] = classes;
  record["overrides"] = plan.overrides;
  json because = json::array();
  if (matrix.deciding)
    for (const auto& reason : matrix.deciding->because) because.push_back(reason);
  record["requirement"] = {{"require", policy::to_string(matrix.require)},
                           {"rule", matrix.deciding ? matrix.deciding->rule->id : ""},
                           {"because", because}};
  record["outcome"] = "requested";
  return record;
}

json decision_record(const RunContext& context, const Decision& decision) {
  auto record = base_record("decision", context);
  record["decision"] = {{"how", decision.how},           {"require", decision.require}, {"rule", decision.rule},
                        {"by", identities(decision.by)}, {"at", decision.at},           {"reason", message_text(decision.reason)}};
  record["outcome"] = decision.allowed ? "allowed" : "denied";
  return record;
}

json approval_record(const RunContext& context, const std::string& request_id, const Identity& by,
                     const std::string& vote, const std::string& reason, bool accepted, const std::string& message) {
  auto record = base_record("approval", context);
  record["request_id"] = request_id;
  record["by"] = to_json(by);
  record["vote"] = vote;
  record["reason"] = message_text(reason);
  record["accepted"] = accepted;
  record["message"] = message_text(message);
  record["outcome"] = accepted ? vote : "rejected";
  return record;
}

json start_record(const RunContext& context, const policy::LaunchPlan& plan, const std::string& plan_digest, pid_t pid,
                  const std::vector<std::string>& cgroups) {
  auto record = base_record("start", context);
  record["pid"] = pid;
  record["cgroup"] = cgroups;
  record["plan_digest"] = plan_digest;
  record["profile_sha256"] = plan.profile_sha256;
  record["overrides"] = plan.overrides;
  record["landlock"] = policy::landlock_report(plan.landlock);
  if (plan.rootfs_image) record["rootfs"] = {{"image", plan.rootfs_image->name}, {"digest", plan.rootfs_image->digest}};
  // A container's writable root: its writes go to a layer of this size.
  if (plan.root_layer) record["rootfs"]["writable_layer"] = {{"size_bytes", plan.root_layer->size_bytes}};
  // A pod's container: whose namespaces it shares (oci/pod.h).
  for (const auto& joined : plan.joined_namespaces)
    record["joined_namespaces"].push_back({{"path", joined.path}, {"owner", joined.owner}});
  // The engine's termination-message file (policy::TerminationMessagePlan).
  if (plan.termination_message)
    record["termination_message"] = {{"target", plan.termination_message->target},
                                     {"size_bytes", plan.termination_message->size_bytes},
                                     {"engine_file", plan.termination_message->engine_file},
                                     {"copied", "to the engine's file at the end"}};
  record["outcome"] = "started";
  return record;
}

json violations(const launch::Outcome& outcome) {
  json out = json::array();
  if (outcome.usage.oom_killed) out.push_back({{"kind", "oom"}, {"detail", "the kernel's OOM killer killed a process of the task"}});
  if (outcome.timed_out) out.push_back({{"kind", "timeout"}, {"detail", "the wall-clock limit was reached"}});
  if (outcome.usage.pids_limit_hit) out.push_back({{"kind", "pids_limit"}, {"detail", "a fork or clone failed on the pids limit"}});
  if (outcome.network && !outcome.network->dropped_destinations.empty())
    out.push_back({{"kind", "network_denied"}, {"destinations", outcome.network->dropped_destinations}});
  // The run's resolver: names it refused (not on the allow list) and
  // answers it did not open (rebinding into a denied range, the host).
  if (outcome.network && outcome.network->dns) {
    json refused = json::array(), rebinding = json::array();
    for (const auto& name : outcome.network->dns->names) {
      if (name.outcome == "refused") refused.push_back(name.name);
      if (name.outcome == "rebinding_refused") rebinding.push_back(name.name + ": " + name.detail);
    }
    if (!refused.empty()) out.push_back({{"kind", "dns_refused"}, {"names", refused}});
    if (!rebinding.empty()) out.push_back({{"kind", "dns_rebinding_refused"}, {"detail", rebinding}});
  }
  if (!outcome.denied_syscalls.empty()) out.push_back({{"kind", "syscall_denied"}, {"syscalls", outcome.denied_syscalls}});
  // The workspace's git state (launch/workspace_review.h), one entry per kind.
  for (const auto& [kind, name] : {std::pair{launch::WorkspaceWarning::Kind::nested_repository, "nested_git_repository"},
                                   std::pair{launch::WorkspaceWarning::Kind::pending_commands, "pending_git_commands"}}) {
    json detail = json::array();
    for (const auto& warning : outcome.workspace_warnings)
      if (warning.kind == kind) detail.push_back(warning.text);
    if (!detail.empty()) out.push_back({{"kind", name}, {"detail", detail}});
  }
  return out;
}

json end_record(const RunContext& context, const launch::Outcome& outcome, int exit_status, const std::string& error) {
  auto record = base_record("end", context);
  record["exit"] = {{"code", value_or_null(outcome.exit_code)}, {"signal", value_or_null(outcome.signal)},
                    {"status", exit_status}};
  const auto& usage = outcome.usage;
  std::optional<std::uint64_t> cpu_ms;
  if (usage.cpu_user_us || usage.cpu_system_us) cpu_ms = (usage.cpu_user_us.value_or(0) + usage.cpu_system_us.value_or(0)) / 1000;
  record["usage"] = {{"wall_ms", outcome.wall.count()},
                     {"cpu_ms", value_or_null(cpu_ms)},
                     {"mem_peak", value_or_null(usage.memory_peak_bytes)},
                     {"pids_peak", value_or_null(usage.pids_peak)}};
  record["violations"] = violations(outcome);
  record["landlock"] = outcome.landlock;
  // Mode allowlist: what the task reached and was refused, and with names
  // what it asked the run's resolver (docs/network.md).
  if (outcome.network && outcome.network->mode == "allowlist") record["network"] = outcome.network->to_json();
  record["error"] = error.empty() ? json(nullptr) : json(message_text(error));
  record["outcome"] = end_outcome(outcome);
  return record;
}

json profile_refused_record(const RunContext& context, const std::string& reason, int exit_status) {
  auto record = base_record("profile_refused", context);
  record["reason"] = message_text(reason);
  record["exit_status"] = exit_status;
  record["outcome"] = "refused";
  return record;
}

json grant_record(const RunContext& context, bool used, const json& grant, const std::string& reason) {
  auto record = base_record(used ? "grant_used" : "grant_refused", context);
  record["grant"] = grant;
  record["reason"] = message_text(reason);
  record["outcome"] = used ? "used" : "refused";
  return record;
}

json ended_unknown_record(const RunContext& context, const json& learned) {
  auto record = base_record("end", context);
  record["exit"] = {{"code", nullptr}, {"signal", nullptr}, {"status", nullptr}};
  record["usage"] = learned.value("usage", json{{"wall_ms", nullptr}, {"cpu_ms", nullptr}, {"mem_peak", nullptr}, {"pids_peak", nullptr}});
  record["violations"] = json::array();
  record["error"] = "ended unknown: the runner died before it could record the end";
  record["learned"] = learned;
  record["recorded_by"] = "tierbox gc";
  record["outcome"] = "ended unknown";
  return record;
}

}  // namespace tierbox::audit
