// `tierbox audit show` and `tierbox audit report`: filtering records and
// summarising them for a security team. Pure over parsed records.
#pragma once

#include <chrono>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

namespace tierbox::audit {

using TimePoint = std::chrono::system_clock::time_point;

// "2026-11-25T16:59:45.123Z" (what AuditLog writes), nullopt otherwise.
std::optional<TimePoint> parse_timestamp(const std::string& text);

struct ShowFilter {
  std::optional<TimePoint> since;
  std::optional<TimePoint> until;
  std::string user;     // user name, uid, or SUDO_USER
  std::string tier;
  std::string run_id;
  std::string event;
  std::string outcome;  // allowed, denied, started, ok, failed, timeout, killed, error, ended unknown, refused, ...
};

bool matches(const nlohmann::json& record, const ShowFilter& filter);
// "alice", "root (sudo: bob)", or the uid.
std::string user_label(const nlohmann::json& record);

// The human table of `audit show`.
std::string table_header();
std::string table_row(const nlohmann::json& record);

// `audit report`: runs per tier and user, refusals, approvals and who gave
// them, violations, overrides, commands seen for the first time, runs that
// ended unknown. records: the whole log (commands are new when no earlier
// start record ran them); only records from since on are summarised.
nlohmann::json build_report(const std::vector<nlohmann::json>& records, TimePoint since, TimePoint until);
std::string render_report(const nlohmann::json& report);

}  // namespace tierbox::audit
