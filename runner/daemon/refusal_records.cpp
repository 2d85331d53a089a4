#include "daemon/refusal_records.h"

#include "audit/audit_log.h"
#include "common/logging.h"

namespace tierbox::daemon {

nlohmann::json unrecorded_refusals_record(const UnrecordedRefusals& refusals, const RefusalBudgetSettings& settings) {
  const double seconds = std::chrono::duration<double>(refusals.window).count();
  std::string kinds;
  for (const auto& [kind, count] : refusals.by_kind) kinds += (kinds.empty() ? "" : ", ") + kind + " " + std::to_string(count);
  char window[32];
  std::snprintf(window, sizeof window, "%.1f", seconds);
  const auto budget = "(at most " + std::to_string(settings.records_per_window) + " per " +
                      std::to_string(settings.window.count()) + " s";
  auto record = audit::daemon_record(
      audit::Identity{refusals.uid, refusals.user_name, ""}, 0, "refusals_not_recorded",
      refusals.others
          ? std::to_string(refusals.total()) + " refused connections of uids past the " +
                std::to_string(settings.max_uids) + " with a window of their own in " + window +
                " s, none recorded one by one " + budget + " for each of " + std::to_string(settings.max_uids) +
                " uids): " + kinds
          : std::to_string(refusals.total()) + " more refused connections of uid " + std::to_string(refusals.uid) +
                " in " + window + " s, after the " + std::to_string(refusals.recorded) + " recorded one by one " +
                budget + "): " + kinds);
  record["others"] = refusals.others;
  record["not_recorded"] = refusals.by_kind;
  record["count"] = refusals.total();
  record["recorded"] = refusals.recorded;
  record["window_seconds"] = seconds;
  return record;
}

void RefusalRecords::write(const nlohmann::json& record, uid_t uid) const noexcept {
  try {
    (void)audit::AuditLog(audit_log_, audit_syslog_).append(record);
  } catch (const std::exception& error) {
    logging::warn("daemon: the {} of uid {} could not be recorded: {}", record.value("action", ""), uid, error.what());
  }
}

void RefusalRecords::refused(const audit::Identity& caller, pid_t peer_pid, const std::string& action,
                             const std::string& kind, const std::string& detail) noexcept {
  try {
    refused(caller, kind, {audit::daemon_record(caller, peer_pid, action, detail)});
  } catch (const std::exception& error) {  // bad_alloc: the refusal itself is served on
    logging::warn("daemon: the {} of uid {} could not be recorded: {}", action, caller.uid, error.what());
  }
}

void RefusalRecords::refused(const audit::Identity& caller, const std::string& kind,
                             const std::vector<nlohmann::json>& records) noexcept {
  try {
    std::lock_guard lock(mutex_);
    const auto admission = budget_.admit(caller.uid, caller.name, kind, RefusalBudget::Clock::now());
    if (admission.ended) write(unrecorded_refusals_record(*admission.ended, budget_.settings()), caller.uid);
    if (admission.record)
      for (const auto& record : records) write(record, caller.uid);
  } catch (const std::exception& error) {
    logging::warn("daemon: the {} of uid {} could not be recorded: {}", kind, caller.uid, error.what());
  }
}

std::optional<RefusalBudget::Clock::time_point> RefusalRecords::write_ended() noexcept {
  try {
    std::lock_guard lock(mutex_);
    for (const auto& ended : budget_.take_ended(RefusalBudget::Clock::now()))
      write(unrecorded_refusals_record(ended, budget_.settings()), ended.uid);
    return budget_.next_end();
  } catch (const std::exception& error) {
    logging::warn("daemon: the summaries of refused connections could not be recorded: {}", error.what());
    return std::nullopt;
  }
}

void RefusalRecords::write_all() noexcept {
  try {
    std::lock_guard lock(mutex_);
    for (const auto& ended : budget_.take_all(RefusalBudget::Clock::now()))
      write(unrecorded_refusals_record(ended, budget_.settings()), ended.uid);
  } catch (const std::exception& error) {
    logging::warn("daemon: the summaries of refused connections could not be recorded: {}", error.what());
  }
}

}  // namespace tierbox::daemon
