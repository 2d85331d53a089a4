#include "launch/result.h"

#include "common/rfc3339.h"
#include "common/utf8.h"

#include "launch/run_registry.h"

namespace tierbox::launch {
namespace {

using json = nlohmann::json;

json text_or_null(const std::string& text) { return text.empty() ? json(nullptr) : json(text); }

template <typename T>
json value_or_null(const std::optional<T>& value) {
  return value ? json(*value) : json(nullptr);
}

json milliseconds_or_null(const std::optional<std::uint64_t>& microseconds) {
  return microseconds ? json(*microseconds / 1000) : json(nullptr);
}

json time_or_null(std::chrono::system_clock::time_point time) {
  return time == std::chrono::system_clock::time_point{} ? json(nullptr) : json(rfc3339_utc(time));
}

void add_identity(json& result, const ResultContext& context) {
  result["result_version"] = kResultVersion;
  result["run_id"] = text_or_null(context.run_id);
  result["tier"] = text_or_null(context.tier);
  result["argv"] = context.argv;
}

void add_exit(json& result, const ResultContext& context, const Outcome& outcome) {
  result["exit_code"] = value_or_null(outcome.exit_code);
  result["signal"] = value_or_null(outcome.signal);
  result["timed_out"] = outcome.timed_out;
  result["exit_status"] = context.exit_status;
  // A message: bytes that are not UTF-8 spelled \xNN (docs/governance.md).
  result["error"] = text_or_null(spell_out_invalid_utf8(context.error));
  result["started_at"] = time_or_null(outcome.started_at);
  result["ended_at"] = time_or_null(outcome.ended_at);
  result["wall_ms"] = outcome.wall.count();
}

void add_usage(json& result, const stages::CgroupUsage& usage) {
  result["oom_killed"] = usage.oom_killed;
  result["pids_limit_hit"] = usage.pids_limit_hit;
  result["cpu_user_ms"] = milliseconds_or_null(usage.cpu_user_us);
  result["cpu_system_ms"] = milliseconds_or_null(usage.cpu_system_us);
  result["cpu_throttled_ms"] = milliseconds_or_null(usage.cpu_throttled_us);
  result["mem_peak_bytes"] = value_or_null(usage.memory_peak_bytes);
  result["pids_peak"] = value_or_null(usage.pids_peak);
}

void add_cgroup(json& result, const stages::CgroupReport& report) {
  json controllers = json::object();
  for (const auto& [name, version] : report.controllers) controllers[name] = stages::to_string(version);
  json enforced = json::object();
  for (const auto& limit : report.enforced) {
    // cpu in cores, as the tier writes it.
    if (limit.field == "cpu") enforced[limit.field] = static_cast<double>(limit.value) / 1000.0;
    else enforced[limit.field] = limit.value;
  }
  result["cgroup"] = {{"mode", report.mode},       {"controllers", controllers},
                      {"enforced", enforced},        {"not_enforced", report.not_enforced},
                      {"kill", report.kill},         {"paths", report.paths}};
}

json rlimit_value(std::uint64_t value) {
  return value == policy::kRlimitUnlimited ? json("unlimited") : json(value);
}

void add_rlimits(json& result, const std::vector<policy::RlimitSetting>& rlimits) {
  json applied = json::object();
  for (const auto& limit : rlimits)
    applied[policy::rlimit_name(limit.resource)] = {{"soft", rlimit_value(limit.soft)}, {"hard", rlimit_value(limit.hard)}};
  result["rlimits"] = applied;
}

// What the network did: present once the task ran (issue 6's report).
void add_network(json& result, const std::optional<net::NetworkReport>& report) {
  result["network"] = report ? report->to_json() : json(nullptr);
}

// Audited exceptions the run was granted (e.g. --allow-expired-tier).
void add_overrides(json& result, const std::vector<std::string>& overrides) { result["overrides"] = overrides; }

// What the task left in a writable workspace that git on the host would run
// (launch/workspace_review.h).
void add_workspace_warnings(json& result, const std::vector<WorkspaceWarning>& warnings) {
  json lines = json::array();
  for (const auto& warning : warnings) lines.push_back(warning.text);
  result["workspace_warnings"] = lines;
}

}  // namespace

json make_result(const ResultContext& context, const Outcome& outcome) {
  json result = json::object();
  add_identity(result, context);
  add_exit(result, context, outcome);
  add_usage(result, outcome.usage);
  add_cgroup(result, outcome.cgroup);
  result["landlock"] = outcome.landlock;  // null when the launch never began
  add_rlimits(result, context.rlimits);
  if (context.output)
    result["output"] = {{"limit_bytes", context.output->limit_bytes}, {"bytes", context.output->bytes},
                        {"cut", context.output->cut}};
  add_network(result, outcome.network);
  add_overrides(result, outcome.overrides);
  add_workspace_warnings(result, outcome.workspace_warnings);
  return result;
}

}  // namespace tierbox::launch
