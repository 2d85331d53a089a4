// Readiness, the trail: the audit log (verifies now, last checkpoint), the
// last redteam result per tier, and tool sprawl: the commands the audit log
// shows each tier running, against the allowed_commands pins.
#include <sys/stat.h>

#include <fstream>
#include <map>

#include "audit/audit_log.h"
#include "common/digest.h"
#include "common/errors.h"
#include "common/files.h"
#include "common/units.h"
#include "policy/runner_config.h"
#include "readiness/readiness.h"
#include "redteam/runner.h"

namespace tierbox::readiness {
namespace {

using nlohmann::json;

// The log's records (lines that are not JSON are left to verify to name).
std::vector<json> read_records(const std::filesystem::path& log) {
  std::ifstream in(log, std::ios::binary);
  return audit::read_log_records(in);
}

void check_audit_log(const std::filesystem::path& log, const Settings& settings, const std::vector<json>& records,
                     Report& report) {
  struct stat st {};
  if (::stat(log.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    report.items.push_back({"audit", "log " + log.string(), false, "no audit log there yet",
                            "run a task (tierbox creates it), or fix audit_log in tierbox.json"});
    return;
  }
  std::ifstream in(log, std::ios::binary);
  const auto verified = audit::verify_log(in, settings.checkpoint_check);
  std::string last_checkpoint;
  for (const auto& record : records)
    if (record.value("event", "") == "checkpoint") last_checkpoint = record.value("ts", "");
  const std::string size = std::to_string(st.st_size) + " bytes";
  json detail{{"file", log.string()}, {"bytes", st.st_size}, {"records", verified.records},
              {"last_checkpoint", last_checkpoint.empty() ? json(nullptr) : json(last_checkpoint)}};
  if (!verified.ok()) {
    report.items.push_back({"audit", "log " + log.string(), false,
                            size + ", does not verify: line " + std::to_string(verified.first_bad->line) + ": " + verified.first_bad->reason,
                            "investigate (docs/incident-response.md); tierbox audit verify names the line", detail});
    return;
  }
  report.items.push_back({"audit", "log " + log.string(), true,
                          size + ", " + std::to_string(verified.records) + " records, verifies", "", detail});
  report.items.push_back({"audit", "checkpoint", !last_checkpoint.empty(),
                          last_checkpoint.empty() ? "never checkpointed: a rewrite of the whole log would go unnoticed"
                                                  : "last signed checkpoint at " + last_checkpoint,
                          last_checkpoint.empty() ? "tierbox audit checkpoint --key KEYFILE (and keep its line elsewhere)" : ""});
}

// The newest modification time of a tier's files, RFC 3339-comparable seconds.
std::filesystem::file_time_type last_change(const policy::Profile& tier) {
  // Not file_time_type{}: libstdc++'s file clock has its epoch in 2174.
  auto newest = std::filesystem::file_time_type::min();
  for (const auto& file : tier.chain) {
    std::error_code ec;
    const auto time = std::filesystem::last_write_time(file, ec);
    if (!ec && time > newest) newest = time;
  }
  return newest;
}

void check_redteam(const policy::RunnerConfig& config, const std::vector<policy::Profile>& tiers, Report& report) {
  for (const auto& tier : tiers) {
    const auto stored = redteam::load_result(config.state_dir, tier.name);
    const std::string fix = "tierbox redteam " + tier.name;
    if (!stored) {
      report.items.push_back({"redteam", "tier " + tier.name, false, "no redteam result", fix});
      continue;
    }
    const std::string at = stored->value("at", "");
    const std::string verdict = stored->value("verdict", "");
    std::string why;
    if (stored->value("profile_sha256", "") != tier.sha256) why = "the tier changed since (profile sha256 differs)";
    const auto result_file = config.state_dir / "redteam" / (tier.name + ".json");
    std::error_code ec;
    if (why.empty() && std::filesystem::last_write_time(result_file, ec) < last_change(tier) && !ec)
      why = "older than the tier's last change";
    if (verdict == "weaker") why += std::string(why.empty() ? "" : "; ") + "weaker than the tier claims";
    else if (verdict != "pass") why += std::string(why.empty() ? "" : "; ") + "incomplete (" + verdict + ")";
    json failed = json::array();
    for (const auto& row : stored->value("scenarios", json::array()))
      if (row.value("verdict", "") == "WEAKER" || row.value("verdict", "") == "not run") failed.push_back(row.value("scenario", ""));
    report.items.push_back({"redteam", "tier " + tier.name, why.empty(),
                            "last result " + verdict + " at " + at + (why.empty() ? "" : ": " + why) +
                                (failed.empty() ? "" : " " + failed.dump()),
                            why.empty() ? "" : fix, {{"at", at}, {"verdict", verdict}, {"run_id", stored->value("run_id", "")}}});
  }
}

struct Seen {
  std::string first, last;
  std::uint64_t runs = 0;
};

// Whether an allowed_commands entry names argv0: the same absolute path, or
// the same name (an entry that is a name matches any path ending in it).
bool entry_names(const policy::AllowedCommand& entry, const std::string& argv0) {
  if (entry.command == argv0) return true;
  const auto base = argv0.substr(argv0.rfind('/') + 1);
  return entry.command.find('/') == std::string::npos && entry.command == base;
}

void check_tools(const std::vector<policy::Profile>& tiers, const std::vector<json>& records, Report& report) {
  std::map<std::pair<std::string, std::string>, Seen> seen;  // (tier, argv[0]) -> when
  for (const auto& record : records) {
    if (record.value("event", "") != "start" || record.contains("simulation")) continue;
    const auto argv = record.value("argv", json::array());
    if (argv.empty() || !argv[0].is_string()) continue;
    auto& entry = seen[{record.value("tier", ""), argv[0].get<std::string>()}];
    const std::string ts = record.value("ts", "");
    if (entry.first.empty()) entry.first = ts;
    entry.last = ts;
    ++entry.runs;
  }
  if (seen.empty()) {
    report.items.push_back({"tools", "commands run", true, "the audit log shows no run (simulations aside)", ""});
    return;
  }
  for (const auto& [key, when] : seen) {
    const auto& [tier_name, command] = key;
    std::string why;
    const policy::AllowedCommand* pin = nullptr;
    for (const auto& tier : tiers)
      if (tier.commands.allowed)
        for (const auto& entry : *tier.commands.allowed)
          if (entry_names(entry, command) && (!pin || tier.name == tier_name)) pin = &entry;
    if (!pin) {
      why = "no tier pins it in allowed_commands";
    } else if (!pin->sha256.empty() && pin->command.front() == '/') {
      std::error_code ec;
      if (std::filesystem::is_regular_file(pin->command, ec)) {
        const auto file = open_regular_file(pin->command, "allowed command");
        const auto now = sha256_hex_of_fd(file.get(), pin->command);
        if (now != pin->sha256) why = "its digest changed since it was pinned (" + pin->origin + ": " + pin->sha256.substr(0, 12) + ", now " + now.substr(0, 12) + ")";
      }
    }
    report.items.push_back({"tools", "tier " + tier_name + ": " + command, why.empty(),
                            std::to_string(when.runs) + " runs, first " + when.first + ", last " + when.last +
                                (why.empty() ? ", pinned by " + pin->origin : ": " + why),
                            why.empty() ? "" : "review it and list it (with its sha256) in the tier's allowed_commands, or stop running it",
                            {{"first_seen", when.first}, {"last_seen", when.last}, {"runs", when.runs}}});
  }
}

}  // namespace

void check_trail(const Settings& settings, const std::vector<policy::Profile>& tiers, Report& report) {
  const auto config = policy::load_runner_config(settings.config_dirs);
  const auto log = audit::audit_log_path(settings.audit_log, config.audit_log);
  const auto records = read_records(log);
  check_audit_log(log, settings, records, report);
  check_redteam(config, tiers, report);
  check_tools(tiers, records, report);
}

}  // namespace tierbox::readiness
