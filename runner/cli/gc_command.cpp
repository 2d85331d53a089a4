#include <cstdio>

#include "approval/pending.h"
#include "audit/audit_log.h"
#include "audit/records.h"
#include "audit/run_trail.h"
#include "cli/commands.h"
#include "common/errors.h"
#include "common/json_bytes.h"
#include "common/logging.h"
#include "launch/cleanup.h"
#include "launch/run_registry.h"
#include "policy/runner_config.h"
#include "staged/operations.h"
#include "stages/root_layer.h"
#include "stages/termination_message.h"

namespace tierbox::cli {
namespace {

struct GcOptions {
  bool json = false;
};

// Run cgroups without a registry entry to clean them by (see cleanup.h).
int clean_orphaned_cgroups(const launch::RunRegistry& registry, const GcOptions& options, nlohmann::json& report) {
  try {
    stages::LinuxCgroupSyscalls syscalls;
    const auto host = stages::parse_host_cgroups(stages::read_host_cgroup_inputs(syscalls));
    for (const auto& [run_id, path] : launch::clean_up_orphaned_cgroups(registry, syscalls, host)) {
      if (!options.json) std::printf("cleaned %s (no registry entry)\n  removed cgroup %s\n", run_id.c_str(), path.c_str());
      report.push_back({{"run_id", run_id}, {"tier", nullptr}, {"removed", {"cgroup " + path}}, {"result", "cleaned"}});
    }
  } catch (const Error& error) {
    if (!options.json) std::printf("failed to clean orphaned cgroups: %s\n", error.what());
    report.push_back({{"run_id", nullptr}, {"tier", nullptr}, {"result", "failed"}, {"error", error.what()}});
    return 1;
  }
  return 0;
}

// A dead run whose start record has no end: appends the end ("ended
// unknown") with what the registry still tells. Returns a line for the
// report, "" when there was nothing to record.
std::string record_missing_end(const launch::RunRecord& record, const nlohmann::json& removed) {
  const auto audit = record.resources.find("audit");
  if (audit == record.resources.end() || !audit->is_object()) return "";
  audit::RunContext fallback;
  fallback.run_id = record.run_id;
  fallback.host = audit::host_name();
  fallback.tier = record.tier;
  fallback.argv = record.argv;
  const auto trail = audit::run_trail_from_json(*audit, fallback);
  const auto& log = trail.log;
  std::error_code ec;
  // A log that no longer exists (removed with its directory) has no trail to
  // close; any other failure keeps the entry for the next gc.
  if (!std::filesystem::exists(log, ec) && !ec) return "audit: the log " + log.string() + " is gone; no end recorded";
  bool started = false;
  bool ended = false;
  audit::scan_backwards(log, [&](const nlohmann::json& line) {
    if (line.value("run_id", "") != record.run_id) return true;
    const auto event = line.value("event", "");
    if (event == "end") ended = true;
    if (event == "start") started = true;
    return !(started || ended);  // the latest of the two decides
  });
  if (!started || ended) return "";
  const nlohmann::json learned = {{"runner_pid", record.runner_pid}, {"sandbox_pid", record.sandbox_pid},
                                  {"started_at", record.started_at}, {"state", record.state},
                                  {"cleaned", removed}, {"gc_by", audit::to_json(audit::current_identity())}};
  const audit::AuditLog audit_log(log, trail.syslog);
  const auto written = audit_log.append(audit::ended_unknown_record(trail.context, learned));
  return "audit: end recorded as ended unknown (" + log.string() + " seq " + std::to_string(written.value("seq", 0)) + ")";
}

int gc(const GcOptions& options, const CommonOptions& common) {
  logging::configure(common.verbose);
  const auto dirs_text = search_dirs(common);
  const std::vector<std::filesystem::path> dirs(dirs_text.begin(), dirs_text.end());
  const auto config = policy::load_runner_config(dirs);
  launch::RunRegistry registry(config.state_dir);
  // Held to the end: a second gc waits, then finds what this one left.
  const auto gc_lock = registry.lock_for_gc();
  nlohmann::json report = nlohmann::json::array();
  int failures = 0;
  for (const auto& listed : registry.list()) {
    if (listed.runner_alive) continue;
    nlohmann::json item = {{"run_id", listed.record.run_id}, {"tier", listed.record.tier}};
    try {
      auto removed = launch::clean_up_run_resources(listed.record);
      std::error_code ec;
      if (std::filesystem::exists(registry.control_socket(listed.record.run_id), ec))
        removed.push_back("control socket " + registry.control_socket(listed.record.run_id).string());
      item["removed"] = removed;
      // The end record before the registry entry goes: if it cannot be
      // written, the entry stays and the next gc tries again.
      if (auto line = record_missing_end(listed.record, item["removed"]); !line.empty()) item["audit"] = line;
      registry.forget(listed.record.run_id);
      item["result"] = "cleaned";
    } catch (const Error& error) {
      item["result"] = "failed";
      item["error"] = error.what();
      ++failures;
    }
    if (!options.json) {
      std::printf("%s %s (tier %s)%s%s\n", item["result"].get<std::string>().c_str(), listed.record.run_id.c_str(),
                  listed.record.tier.c_str(), item.contains("error") ? ": " : "",
                  item.contains("error") ? item["error"].get<std::string>().c_str() : "");
      for (const auto& line : item.value("removed", nlohmann::json::array()))
        std::printf("  removed %s\n", line.get<std::string>().c_str());
      if (item.contains("audit")) std::printf("  %s\n", item["audit"].get<std::string>().c_str());
    }
    report.push_back(std::move(item));
  }
  failures += clean_orphaned_cgroups(registry, options, report);
  // Control sockets and control state files whose run has no entry left.
  for (const auto& path : registry.forget_strays()) {
    if (!options.json) std::printf("removed stray %s\n", path.c_str());
    report.push_back({{"run_id", nullptr}, {"tier", nullptr}, {"removed", {path}}, {"result", "cleaned"}});
  }
  // Approval requests whose runner died.
  for (const auto& id : approval::remove_stale_requests(config.approvals_dir)) {
    if (!options.json) std::printf("removed stale approval request %s\n", id.c_str());
    report.push_back({{"run_id", id}, {"tier", nullptr}, {"removed", {"approval request " + id}}, {"result", "cleaned"}});
  }
  // A container's root layer or termination-message tmpfs its runner left
  // mounted (stages/root_layer.h, stages/termination_message.h).
  std::vector<std::string> live;
  for (const auto& listed : registry.list())
    if (listed.runner_alive) live.push_back(listed.record.run_id);
  for (const auto& removed : {stages::remove_leftover_root_layers(config.state_dir, live),
                              stages::remove_leftover_termination_messages(config.state_dir, live)})
    for (const auto& line : removed) {
      if (!options.json) std::printf("removed %s\n", line.c_str());
      report.push_back({{"run_id", nullptr}, {"tier", nullptr}, {"removed", {line}}, {"result", "cleaned"}});
    }
  // Staged layers: interrupted applies undone, old layers discarded.
  for (const auto& line : staged::gc_staged(config, audit::audit_log_path("", config.audit_log), config.staged_retention)) {
    if (!options.json) std::printf("staged: %s\n", line.c_str());
    report.push_back({{"run_id", nullptr}, {"tier", nullptr}, {"staged", line}, {"result", "cleaned"}});
  }
  if (options.json) std::printf("%s\n", utf8_safe(report).dump().c_str());
  return failures == 0 ? 0 : 1;
}

}  // namespace

std::function<int()> add_gc_command(CLI::App& app, CommonOptions& common) {
  auto options = std::make_shared<GcOptions>();
  auto* gc_app = app.add_subcommand("gc", "Clean up after runs whose runner died (exit 1 if something could not be removed)");
  gc_app->add_flag("--json", options->json, "Print a JSON array of what was cleaned");
  gc_app->add_option("--config-dir", common.config_dir, "Look for tierbox.json here first");
  gc_app->add_flag("-v,--verbose", common.verbose, "Log to stderr what gc waits for");
  return [options, &common] { return gc(*options, common); };
}

}  // namespace tierbox::cli
