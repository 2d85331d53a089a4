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
  written_ = true;
  logging::step("audit: {} record{} written (seq {}..{}, one fsync)", count, count == 1 ? "" : "s",
                written.front().value("seq", 0), written.back().value("seq", 0));
}

std::vector<nlohmann::json> LaunchAudit::take_queued() {
  auto taken = std::move(queue_);
  queue_.clear();
  return taken;
}

void LaunchAudit::record_now(nlohmann::json record) {
  queue(std::move(record));
  flush();
}

void LaunchAudit::start_pending(const policy::LaunchPlan& plan, const std::string& plan_digest, pid_t pid,
                                const std::vector<std::string>& cgroups) {
  queue(start_record(context_, plan, plan_digest, pid, cgroups));
  const auto count = queue_.size();
  try {
    start_ = log_.append_all_pending(queue_);
  } catch (const Error&) {
    queue_.pop_back();  // the task does not start: no start record may follow later
    throw;
  }
  queue_.clear();
  // In the file from here on (the end record follows it, whatever happens).
  start_written_ = true;
  logging::step("audit: {} records written (seq {}..{}), their fsync under way", count,
                start_.records().front().value("seq", 0), start_.records().back().value("seq", 0));
}

void LaunchAudit::wait_start_durable() {
  start_.wait();
  logging::step("audit: the start record is on disk");
}

void LaunchAudit::started(const policy::LaunchPlan& plan, const std::string& plan_digest, pid_t pid,
                          const std::vector<std::string>& cgroups) {
  start_pending(plan, plan_digest, pid, cgroups);
  wait_start_durable();
}

void LaunchAudit::end_pending(const launch::Outcome& outcome, int exit_status, const std::string& error) {
  if (end_written_) return;
  end_written_ = true;  // one attempt: a second would only repeat a failure
  queue(end_record(context_, outcome, exit_status, error));
  end_ = log_.append_all_pending(queue_);
  queue_.clear();
  logging::step("audit: the end record written (seq {}), its fsync under way", end_.records().back().value("seq", 0));
}

void LaunchAudit::wait_end_durable() {
  end_.wait();
}

void LaunchAudit::ended(const launch::Outcome& outcome, int exit_status, const std::string& error) {
  end_pending(outcome, exit_status, error);
  wait_end_durable();
}

}  // namespace tierbox::audit
