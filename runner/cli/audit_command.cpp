// `tierbox audit verify|show|report|checkpoint`: what an auditor runs. The
// checks and summaries are in runner/audit; this file reads the log, parses
// options and prints.
#include <cstdio>
#include <fstream>

#include "approval/grant.h"
#include "approval/grant_store.h"
#include "audit/audit_log.h"
#include "audit/export.h"
#include "audit/query.h"
#include "audit/verify.h"
#include "cli/commands.h"
#include "common/errors.h"
#include "common/files.h"
#include "common/units.h"
#include "launch/run_registry.h"
#include "policy/runner_config.h"

namespace tierbox::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct AuditOptions {
  std::string audit_log;
  std::string checkpoints;  // verify: seq/hash pairs kept outside the log
  bool json = false;
  // show
  std::string since, until, user, tier, run_id, event, outcome;
  // checkpoint
  std::string key_file;
  // export
  std::string format;
};

struct Setup {
  policy::RunnerConfig config;
  fs::path log;
};

Setup setup(const AuditOptions& options, const CommonOptions& common) {
  const auto text = search_dirs(common);
  Setup out{policy::load_runner_config({text.begin(), text.end()}), {}};
  out.log = audit::audit_log_path(options.audit_log, out.config.audit_log);
  return out;
}

// A regular file only: a directory reads as an empty, "ok" log, a FIFO
// blocks forever and /dev/zero never ends (open_regular_file).
std::ifstream open_regular_stream(const fs::path& file, std::string_view what) {
  (void)open_regular_file(file.string(), what);
  std::ifstream in(file, std::ios::binary);
  if (!in) throw Error(std::string(what) + " " + quote(file.string()) + ": " + errno_text(errno), exit_code::runner_failed);
  return in;
}

std::ifstream open_log(const fs::path& file) { return open_regular_stream(file, "audit log"); }

}  // namespace

audit::CheckpointCheck checkpoint_checker(const fs::path& governance_dir) {
  auto store = std::make_shared<approval::TrustStore>(approval::load_trust_store(governance_dir));
  return [store](const json& checkpoint) -> std::string {
    const auto* key = store->find(checkpoint.value("key_id", ""));
    if (!key) return "signed with unknown key " + quote(checkpoint.value("key_id", ""));
    if (key->revoked) return "signed with key " + key->id + ", revoked on " + key->revoked->at;
    const auto message = audit::checkpoint_message(checkpoint.value("covers_seq", std::uint64_t{0}),
                                                   checkpoint.value("covers_hash", ""));
    if (!approval::signature_matches(key->public_key, message, checkpoint.value("signature", "")))
      return "the signature does not verify with key " + key->id;
    return "";
  };
}

namespace {

std::map<std::uint64_t, std::string> read_external_checkpoints(const std::string& file) {
  std::map<std::uint64_t, std::string> out;
  if (file.empty()) return out;
  auto in = open_regular_stream(file, "--checkpoints");
  std::string line;
  audit::LineRead read;
  while ((read = audit::read_bounded_line(in, line)) != audit::LineRead::end) {
    auto record = read == audit::LineRead::too_long ? json(nullptr) : json::parse(line, nullptr, false);
    if (!record.is_object() || !record.contains("seq") || !record["seq"].is_number_unsigned() ||
        !record.contains("hash") || !record["hash"].is_string())
      throw Error("--checkpoints " + quote(file) + ": expected one {\"seq\", \"hash\"} object per line", exit_code::runner_failed);
    out[record["seq"].get<std::uint64_t>()] = record["hash"].get<std::string>();
  }
  return out;
}

bool run_is_live(const launch::RunRegistry& registry, const std::string& run_id) {
  try {
    const auto listed = registry.find(run_id);
    return listed && listed->runner_alive;
  } catch (const Error&) {
    return false;
  }
}

int verify(const AuditOptions& options, const CommonOptions& common) {
  const auto [config, log] = setup(options, common);
  auto in = open_log(log);
  const auto report = audit::verify_log(in, checkpoint_checker(config.governance_dir),
                                        read_external_checkpoints(options.checkpoints));
  const launch::RunRegistry registry(config.state_dir);
  json unknown = json::array();
  for (const auto& run : report.ended_unknown) {
    const bool live = run_is_live(registry, run.run_id);
    unknown.push_back({{"line", run.line}, {"run_id", run.run_id}, {"tier", run.tier}, {"started", run.ts},
                       {"state", live ? "running" : "ended unknown"}});
  }
  if (options.json) {
    json out = {{"file", log.string()}, {"ok", report.ok()},       {"records", report.records},
                {"head_seq", report.head_seq}, {"head_hash", report.head_hash}, {"checkpoints", report.checkpoints},
                {"external_checkpoints", report.external_checkpoints}, {"open_runs", unknown}};
    if (report.first_bad) out["first_bad"] = {{"line", report.first_bad->line}, {"reason", report.first_bad->reason}};
    std::printf("%s\n", out.dump().c_str());
  } else {
    for (const auto& run : unknown)
      std::printf("line %llu: run %s (tier %s, started %s): %s\n", static_cast<unsigned long long>(run["line"].get<std::uint64_t>()),
                  run["run_id"].get<std::string>().c_str(), run["tier"].get<std::string>().c_str(),
                  run["started"].get<std::string>().c_str(),
                  run["state"] == "running" ? "still running (no end record yet)"
                                            : "ended unknown (start without end; `tierbox gc` records its end)");
    if (report.first_bad)
      std::printf("%s: line %llu: %s\n", log.c_str(), static_cast<unsigned long long>(report.first_bad->line),
                  report.first_bad->reason.c_str());
    else
      std::printf("%s: ok: %llu records, chain intact up to seq %llu (%s), %llu signed checkpoints%s\n", log.c_str(),
                  static_cast<unsigned long long>(report.records), static_cast<unsigned long long>(report.head_seq),
                  report.head_hash.substr(0, 16).c_str(), static_cast<unsigned long long>(report.checkpoints),
                  options.checkpoints.empty() ? "" : (", " + std::to_string(report.external_checkpoints) + " external").c_str());
  }
  return report.ok() ? 0 : 1;
}

std::vector<json> read_records(const fs::path& log) {
  auto in = open_log(log);
  return audit::read_log_records(in);
}

std::optional<audit::TimePoint> time_option(const std::string& text, const std::string& flag) {
  if (text.empty()) return std::nullopt;
  if (auto duration = parse_duration(text)) return std::chrono::system_clock::now() - *duration;
  if (auto time = approval::parse_time(text)) return time;
  throw Error(flag + " " + text + ": expected a duration back from now (24h, 7d) or a date/time (2026-11-01, RFC 3339)",
              exit_code::runner_failed);
}

// Runs with a start and no end (and no live runner): shown as "ended
// unknown" rows of their own after the records.
std::vector<json> unended_runs(const std::vector<json>& records, const launch::RunRegistry& registry) {
  std::map<std::string, json> open;
  for (const auto& record : records) {
    const auto event = record.value("event", "");
    if (event == "start") open[record.value("run_id", "")] = record;
    else if (event == "end") open.erase(record.value("run_id", ""));
  }
  std::vector<json> out;
  for (auto& [run_id, start] : open) {
    if (run_is_live(registry, run_id)) continue;
    json row = start;
    for (const char* key : {"seq", "hash", "prev", "pid", "cgroup", "plan_digest", "profile_sha256", "overrides"}) row.erase(key);
    row["event"] = "end";
    row["outcome"] = "ended unknown";
    row["error"] = "no end record: the runner died (tierbox gc records the end)";
    row["recorded"] = false;
    out.push_back(row);
  }
  return out;
}

int show(const AuditOptions& options, const CommonOptions& common) {
  const auto [config, log] = setup(options, common);
  audit::ShowFilter filter;
  filter.since = time_option(options.since, "--since");
  filter.until = time_option(options.until, "--until");
  filter.user = options.user;
  filter.tier = options.tier;
  filter.run_id = options.run_id;
  filter.event = options.event;
  filter.outcome = options.outcome;
  auto records = read_records(log);
  const launch::RunRegistry registry(config.state_dir);
  for (auto& row : unended_runs(records, registry)) records.push_back(std::move(row));
  if (!options.json) std::printf("%s\n", audit::table_header().c_str());
  for (const auto& record : records) {
    if (!audit::matches(record, filter)) continue;
    if (options.json) std::printf("%s\n", record.dump().c_str());
    else std::printf("%s\n", printable(audit::table_row(record)).c_str());  // argv is the caller's
  }
  return 0;
}

// `audit export`: every record (from --since on) as OCSF JSON lines or CEF
// lines; a run's decision is looked up in the whole log.
int export_records(const AuditOptions& options, const CommonOptions& common) {
  if (options.format != "ocsf" && options.format != "cef")
    throw Error("--format " + options.format + ": expected ocsf or cef", exit_code::runner_failed);
  const auto [config, log] = setup(options, common);
  const auto since = time_option(options.since, "--since");
  const auto records = read_records(log);
  std::vector<bool> wanted;
  for (const auto& record : records) {
    const auto ts = audit::parse_timestamp(record.value("ts", ""));
    wanted.push_back(!since || (ts && *ts >= *since));
  }
  if (options.format == "ocsf") {
    const auto events = audit::to_ocsf(records, TIERBOX_VERSION);
    for (std::size_t i = 0; i < events.size(); ++i) {
      if (!wanted[i]) continue;
      if (const auto missing = audit::missing_ocsf_required(events[i]); !missing.empty())
        throw Error("audit export: record seq " + records[i].value("seq", json(0)).dump() + " lacks OCSF " + missing, exit_code::runner_failed);
      std::printf("%s\n", events[i].dump().c_str());
    }
  } else {
    const auto lines = audit::to_cef(records, TIERBOX_VERSION);
    for (std::size_t i = 0; i < lines.size(); ++i)
      if (wanted[i]) std::printf("%s\n", lines[i].c_str());
  }
  return 0;
}

// Each line of text with its control characters spelled out (printable()).
void print_lines(const std::string& text) {
  std::size_t start = 0;
  while (start < text.size()) {
    const auto end = text.find('\n', start);
    const auto line = text.substr(start, end == std::string::npos ? std::string::npos : end - start);
    std::printf("%s\n", printable(line).c_str());
    if (end == std::string::npos) break;
    start = end + 1;
  }
}

int report(const AuditOptions& options, const CommonOptions& common) {
  const auto [config, log] = setup(options, common);
  const auto now = std::chrono::system_clock::now();
  const auto since = time_option(options.since, "--since").value_or(now - std::chrono::hours(24 * 7));
  const auto summary = audit::build_report(read_records(log), since, now);
  if (options.json) std::printf("%s\n", summary.dump(2).c_str());
  else print_lines(audit::render_report(summary));
  return 0;
}

// Appends a checkpoint record signed with a grant key: the signature covers
// the seq and hash of the line before it, so `verify` detects a log
// rewritten as a whole by anyone without the key. The checkpoint is also
// printed as {"seq", "hash"}: kept elsewhere (--checkpoints), it detects lines
// cut from the end.
int checkpoint(const AuditOptions& options, const CommonOptions& common) {
  const auto [config, log] = setup(options, common);
  const auto key = approval::read_signing_key(options.key_file);
  const auto store = approval::load_trust_store(config.governance_dir);
  const auto* trusted = store.find(key.id);
  if (!trusted || trusted->public_key != key.public_key)
    throw Error("key " + key.id + " is not in the trust store " + (config.governance_dir / approval::kTrustStoreFile).string() +
                    " (fix: tierbox key add)", exit_code::runner_failed);
  const audit::AuditLog audit_log(log, config.audit_syslog);
  const auto written = audit_log.append_built([&](std::uint64_t seq, const std::string& prev) {
    return json{{"event", "checkpoint"},
                {"covers_seq", seq - 1},
                {"covers_hash", prev},
                {"key_id", key.id},
                {"signature", approval::sign_message(key, audit::checkpoint_message(seq - 1, prev))},
                {"user", audit::to_json(audit::current_identity())},
                {"outcome", "signed"}};
  });
  std::printf("%s\n", json{{"seq", written["seq"]}, {"hash", written["hash"]}}.dump().c_str());
  return 0;
}

}  // namespace

std::function<int()> add_audit_command(CLI::App& app, CommonOptions& common) {
  auto options = std::make_shared<AuditOptions>();
  auto* audit_app = app.add_subcommand("audit", "Verify, search and summarise the audit trail");
  audit_app->require_subcommand(1);
  const auto common_flags = [&](CLI::App* sub) {
    sub->add_option("--audit-log", options->audit_log, "The log (default: $TIERBOX_AUDIT_LOG, tierbox.json, /var/log/tierbox/audit.jsonl)");
    sub->add_option("--config-dir", common.config_dir, "Look for tierbox.json here first");
  };
  auto* verify_app = audit_app->add_subcommand("verify", "Recompute the hash chain; exit 1 naming the first bad line");
  common_flags(verify_app);
  verify_app->add_option("--checkpoints", options->checkpoints, "A file of {\"seq\",\"hash\"} lines kept outside the log");
  verify_app->add_flag("--json", options->json, "One JSON object");
  auto* show_app = audit_app->add_subcommand("show", "Records, filtered; a table, or --json lines for a SIEM");
  common_flags(show_app);
  show_app->add_option("--since", options->since, "From a duration ago (24h, 7d) or a date/time");
  show_app->add_option("--until", options->until, "Up to a duration ago or a date/time");
  show_app->add_option("--user", options->user, "User name, uid or SUDO_USER");
  show_app->add_option("--tier", options->tier, "Tier");
  show_app->add_option("--run", options->run_id, "Run id");
  show_app->add_option("--event", options->event, "request, decision, approval, start, end, profile_refused, grant_used, ...");
  show_app->add_option("--outcome", options->outcome, "allowed, denied, ok, failed, timeout, killed, error, ended unknown, ...");
  show_app->add_flag("--json", options->json, "One JSON record per line");
  auto* report_app = audit_app->add_subcommand("report", "The summary a security team reviews");
  common_flags(report_app);
  report_app->add_option("--since", options->since, "Period: a duration back from now (default 7d) or a date");
  report_app->add_flag("--json", options->json, "JSON");
  auto* checkpoint_app = audit_app->add_subcommand("checkpoint", "Append a checkpoint signed with a grant key");
  common_flags(checkpoint_app);
  checkpoint_app->add_option("--key", options->key_file, "Secret key file (tierbox key generate)")->required();
  auto* export_app = audit_app->add_subcommand("export", "Records for a SIEM: OCSF 1.1 Process Activity JSON lines, or CEF lines");
  common_flags(export_app);
  export_app->add_option("--format", options->format, "ocsf or cef")->required();
  export_app->add_option("--since", options->since, "From a duration ago (24h, 7d) or a date/time");
  return [options, &common, verify_app, show_app, report_app, checkpoint_app, export_app] {
    if (export_app->parsed()) return export_records(*options, common);
    if (verify_app->parsed()) return verify(*options, common);
    if (show_app->parsed()) return show(*options, common);
    if (report_app->parsed()) return report(*options, common);
    if (checkpoint_app->parsed()) return checkpoint(*options, common);
    return int{exit_code::runner_failed};
  };
}

}  // namespace tierbox::cli
