// The audit records of one `tierbox run`, in order: request, decision (and
// grant or approval records), start, end; or request and a denied decision;
// or profile_refused.
//
// Launch speed: fsync is the dear part (docs/performance.md), so records that
// need not be on disk before anything else happens are queued and written
// together with the next record that must be: a launch needing no human
// writes request, decision and start as three chained lines with one write
// and one fsync, between sync #1 and #2, while the child builds its root. The
// task cannot start before that write returned (the child waits for #2), so
// a log that cannot be written stops the launch (fail closed). Where a human
// is asked, the request is written before asking, and each vote when it
// arrives.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>
#include <nlohmann/json.hpp>

#include "audit/audit_log.h"
#include "audit/records.h"

namespace tierbox::audit {

class LaunchAudit {
 public:
  LaunchAudit(AuditLog log, RunContext context);

  [[nodiscard]] RunContext& context() { return context_; }
  [[nodiscard]] const AuditLog& log() const { return log_; }

  // Written with the next flush.
  void queue(nlohmann::json record);
  // Writes what is queued (one fsync); throws Error when it cannot.
  void flush();
  void record_now(nlohmann::json record);
  // Queued records, then the start record; throws Error (the launch must not go on).
  void started(const policy::LaunchPlan& plan, const std::string& plan_digest, pid_t pid,
               const std::vector<std::string>& cgroups);
  void ended(const launch::Outcome& outcome, int exit_status, const std::string& error);

  [[nodiscard]] bool start_written() const { return start_written_; }
  [[nodiscard]] bool end_written() const { return end_written_; }
  [[nodiscard]] std::size_t queued() const { return queue_.size(); }

 private:
  AuditLog log_;
  RunContext context_;
  std::vector<nlohmann::json> queue_;
  bool start_written_ = false;
  bool end_written_ = false;
};

}  // namespace tierbox::audit
