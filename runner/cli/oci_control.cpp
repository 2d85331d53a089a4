#include "cli/oci_control.h"

#include <unistd.h>

#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "audit/audit_log.h"
#include "common/errors.h"
#include "common/files.h"
#include "common/users.h"
#include "control/control_state.h"
#include "control/run_control.h"
#include "policy/profile_loader.h"
#include "policy/runner_config.h"

namespace tierbox::cli::oci_control {
namespace {

std::filesystem::path audit_log(const policy::RunnerConfig& config) { return audit::audit_log_path("", config.audit_log); }

nlohmann::json caller() {
  const uid_t uid = ::getuid();
  return {{"uid", uid}, {"name", user_name(uid)}, {"sudo_user", nullptr}};
}

// The container's state, which must be status (or one of them).
oci::ContainerState require_status(const oci::StateStore& store, const std::string& id,
                                   const std::vector<std::string>& statuses, const std::string& fix) {
  auto state = store.read(id);
  const auto status = oci::current_status(state);
  if (std::find(statuses.begin(), statuses.end(), status) == statuses.end())
    throw Error("container " + quote(id) + " is " + status + " (fix: " + fix + ")", exit_code::runner_failed);
  return state;
}

// freeze or thaw, audited (the record even when the action failed); the
// container's state says paused or running after.
void freeze_or_thaw(const Where& where, const std::string& id, bool freeze) {
  const oci::StateStore store(where.root);
  auto state = freeze ? require_status(store, id, {"running"}, "pause only a running container")
                      : require_status(store, id, {"paused"}, "resume only a paused container");
  const auto config = policy::load_runner_config(where.config_dirs);
  const auto record = container_run(where, state);
  std::string result = "ok";
  std::optional<Error> failure;
  try {
    (void)(freeze ? launch::freeze_run(record) : launch::thaw_run(record));
  } catch (const Error& error) {
    result = error.what();
    failure = error;
  }
  const std::string action = freeze ? "pause" : "resume";
  auto event = launch::control_audit_event(action, record.run_id, result, caller());
  event["container"] = {{"id", state.id}, {"image_digest", state.image_digest}};
  audit::AuditLog(audit_log(config)).append(event);
  if (failure) throw *failure;
  state.status = freeze ? "paused" : "running";
  store.write(state);
}

std::string command_line(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (auto& c : text)
    if (c == '\0') c = ' ';
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return text;
}

constexpr std::size_t kMostResourcesBytes = 1 << 20;

std::string read_resources_from_stdin(const std::string& origin) {
  std::string text;
  char buffer[4096];
  for (ssize_t n; (n = ::read(STDIN_FILENO, buffer, sizeof buffer)) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_sys_error("read(stdin, the update's resources)");
    text.append(buffer, static_cast<std::size_t>(n));
    if (text.size() > kMostResourcesBytes)
      throw Error(origin + ": more than 1 MiB (fix: a LinuxResources object)", exit_code::runner_failed);
  }
  return text;
}

}  // namespace

launch::RunRecord container_run(const Where& where, const oci::ContainerState& state) {
  const auto config = policy::load_runner_config(where.config_dirs);
  const launch::RunRegistry registry(config.state_dir);
  for (const auto& listed : registry.list())
    if (listed.has_record && listed.runner_alive && listed.record.sandbox_pid == state.sandbox_pid &&
        listed.record.sandbox_start_time == state.sandbox_start_time && state.sandbox_pid > 0)
      return listed.record;
  throw Error("container " + quote(state.id) + ": its run is not in " + quote(config.state_dir.string()) +
                  " (it is ending, or another tierbox.json state_dir; fix: check --config-dir)",
              exit_code::runner_failed);
}

void pause(const Where& where, const std::string& id) { freeze_or_thaw(where, id, true); }
void resume(const Where& where, const std::string& id) { freeze_or_thaw(where, id, false); }

std::vector<std::string> update(const Where& where, const std::string& id, const oci::ResourceUpdate& asked) {
  const oci::StateStore store(where.root);
  const auto state = require_status(store, id, {"created", "running", "paused"}, "update only a live container");
  const auto config = policy::load_runner_config(where.config_dirs);
  const auto record = container_run(where, state);
  nlohmann::json limits = {{"before", nullptr}, {"after", nullptr}};
  std::string result = "ok";
  std::optional<Error> failure;
  oci::UpdatePlan plan;
  try {
    const auto before = launch::run_limits(record);
    limits["before"] = oci::limits_json(before);
    // The tier as it is now, as for exec: a tier narrowed since the create
    // narrows the update too.
    plan = oci::plan_update(asked, policy::load_tier(state.tier, where.config_dirs), before);
    limits["after"] = oci::limits_json(launch::set_run_limits(record, plan.change));
  } catch (const Error& error) {
    result = error.what();
    failure = error;
  }
  auto event = launch::control_audit_event("update", record.run_id, result, caller());
  event["container"] = {{"id", state.id}, {"image_digest", state.image_digest}};
  event["tier"] = state.tier;
  event["limits"] = limits;
  if (!plan.notes.empty()) event["notes"] = plan.notes;
  audit::AuditLog(audit_log(config)).append(event);
  if (failure) throw *failure;
  return plan.notes;
}

std::vector<std::string> update_command(const Where& where, const std::vector<std::string>& args) {
  const auto parsed = oci::parse_update_arguments(args);
  oci::ResourceUpdate asked = parsed.flags;
  if (parsed.resources_file) {
    const auto& file = *parsed.resources_file;
    const std::string origin = "update --resources " + file;
    const auto text = file == "-" ? read_resources_from_stdin(origin)
                                  : read_regular_file(file, "the update's resources", kMostResourcesBytes);
    nlohmann::json document;
    try {
      document = nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& error) {
      throw Error(origin + ": not JSON: " + error.what() +
                      " (fix: a LinuxResources object, e.g. {\"memory\": {\"limit\": 67108864}})",
                  exit_code::runner_failed);
    }
    asked = oci::parse_resources(document, origin);
    asked.notes.insert(asked.notes.begin(), parsed.flags.notes.begin(), parsed.flags.notes.end());
  }
  auto notes = update(where, parsed.id, asked);
  for (auto& note : notes) note = "container " + parsed.id + ": update: " + note;
  return notes;
}

std::string ps(const Where& where, const std::string& id, const std::string& format) {
  if (format != "json" && format != "table")
    throw Error("ps --format " + quote(format) + ": json or table", exit_code::runner_failed);
  const oci::StateStore store(where.root);
  const auto state = require_status(store, id, {"created", "running", "paused"}, "ps needs a live container");
  auto pids = launch::run_processes(container_run(where, state));
  std::sort(pids.begin(), pids.end());
  if (format == "json") return nlohmann::json(pids).dump();
  std::string table = "PID CMD\n";
  for (pid_t pid : pids) table += std::to_string(pid) + " " + command_line(pid) + "\n";
  return table;
}

}  // namespace tierbox::cli::oci_control
