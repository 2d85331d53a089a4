#include "audit/launch_audit.h"

#include "common/errors.h"
#include "common/logging.h"

namespace tierbox::audit {

LaunchAudit::LaunchAudit(AuditLog log, RunContext context) : log_(std::move(log)), context_(std::move(context)) {}

void LaunchAudit::queue(nlohmann::json record) { queue_.push_back(std::move(record)); }

void LaunchAudit::flush() {
  if (queue_.empty()) return;
  const auto count = queue_.size();
  // Only forgotten once on disk: a failed write leaves them queued for the
  // caller's next attempt (the end record of a refused launch).
  const auto written = log_.append_all(queue_);
  queue_.clear();
  logging::step("audit: {} record{} written (seq {}..{}, one fsync)", count, count == 1 ? "" : "s",
                written.front().value("seq", 0), written.back().value("seq", 0));
}

void LaunchAudit::record_now(nlohmann::json record) {
  queue(std::move(record));
  flush();
}

void LaunchAudit::started(const policy::LaunchPlan& plan, const std::string& plan_digest, pid_t pid,
                          const std::vector<std::string>& cgroups) {
  queue(start_record(context_, plan, plan_digest, pid, cgroups));
  try {
    flush();
  } catch (const Error&) {
    queue_.pop_back();  // the task does not start: no start record may follow later
    throw;
  }
  start_written_ = true;
}

void LaunchAudit::ended(const launch::Outcome& outcome, int exit_status, const std::string& error) {
  if (end_written_) return;
  end_written_ = true;  // one attempt: a second would only repeat a failure
  queue(end_record(context_, outcome, exit_status, error));
  flush();
}

}  // namespace tierbox::audit
