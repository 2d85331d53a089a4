// The daemon's records of refused connections, within each caller's budget
// (daemon/refusal_budget.h): the one place sessions send them, under one
// mutex, so a uid's summary always comes before its next record in the log.
// The server writes the summaries of ended windows when they end, and all of
// them when the daemon stops.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <mutex>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "audit/records.h"
#include "daemon/refusal_budget.h"

namespace tierbox::daemon {

// The summary record of a window that left refusals unrecorded one by one:
// event "daemon", action "refusals_not_recorded", the counts by kind.
nlohmann::json unrecorded_refusals_record(const UnrecordedRefusals& refusals, const RefusalBudgetSettings& settings);

class RefusalRecords {
 public:
  RefusalRecords(std::filesystem::path audit_log, std::string audit_syslog, RefusalBudgetSettings settings)
      : audit_log_(std::move(audit_log)), audit_syslog_(std::move(audit_syslog)), budget_(settings) {}

  // A connection of caller's refused (action "refused", "protocol_error" or
  // "no_request"; kind the error code): its record, within the caller's
  // budget, else counted for the summary. Never throws (a record that
  // cannot be written is a warning, as the daemon's other records).
  void refused(const audit::Identity& caller, pid_t peer_pid, const std::string& action, const std::string& kind,
               const std::string& detail) noexcept;
  // Records of caller's refused request made elsewhere (service::run_task's
  // profile_refused or denied trail, a refused apply's record): one refusal
  // of kind within the same budget, its records written in order when it is
  // recorded. Never throws.
  void refused(const audit::Identity& caller, const std::string& kind, const std::vector<nlohmann::json>& records) noexcept;
  // Writes the summaries of the windows ended by now; returns when the next
  // window in use ends (none: no uid has one).
  std::optional<RefusalBudget::Clock::time_point> write_ended() noexcept;
  // Writes every summary (the daemon stops).
  void write_all() noexcept;

 private:
  void write(const nlohmann::json& record, uid_t uid) const noexcept;

  std::filesystem::path audit_log_;
  std::string audit_syslog_;
  std::mutex mutex_;
  RefusalBudget budget_;
};

}  // namespace tierbox::daemon
