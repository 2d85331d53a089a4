// The audit records of one `tierbox run`, in order: request, decision (and
// grant or approval records), start, end; or request and a denied decision;
// or profile_refused.
//
// Launch speed: fsync is the dear part (docs/performance.md), so records that
// need not be on disk before anything else happens are queued and written
// together with the next record that must be: a launch needing no human
// writes request, decision and start as three chained lines with one write
// before sync #2 (start_pending), and their one fsync runs on the syncer
// thread (group_commit.h) while the child does its last steps; the child
// waits at sync #2b, before its seccomp filters and the task's execve, until
// wait_start_durable returned (fail closed: a log that cannot be written or
// synced stops the launch). Where a human is asked, the request is written
// before asking, and each vote when it arrives. The end record is written
// while init exits and is durable (wait_end_durable) before the run's result
// goes to its caller.
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
  // Queued records, then the start record, written to the file; their
  // fsync runs meanwhile. Throws Error when they cannot be written (the
  // launch must not go on).
  void start_pending(const policy::LaunchPlan& plan, const std::string& plan_digest, pid_t pid,
                     const std::vector<std::string>& cgroups);
  // Blocks until the start record is on disk; throws Error when its fsync
  // failed (the task must not start).
  void wait_start_durable();
  // Both.
  void started(const policy::LaunchPlan& plan, const std::string& plan_digest, pid_t pid,
               const std::vector<std::string>& cgroups);
  // The end record, written to the file (once: a second call does nothing);
  // wait_end_durable blocks until it is on disk. Each throws Error.
  void end_pending(const launch::Outcome& outcome, int exit_status, const std::string& error);
  void wait_end_durable();
  // Both.
  void ended(const launch::Outcome& outcome, int exit_status, const std::string& error);

  [[nodiscard]] bool start_written() const { return start_written_; }
  [[nodiscard]] bool end_written() const { return end_written_; }
  [[nodiscard]] std::size_t queued() const { return queue_.size(); }
  // Whether any record of this trail is in the file yet (a human was asked:
  // the request went first).
  [[nodiscard]] bool any_written() const { return written_; }
  // The queued records, taken out unwritten (a denial the daemon's caller's
  // budget of refusal records writes or counts: service/run_task.h).
  std::vector<nlohmann::json> take_queued();

 private:
  AuditLog log_;
  RunContext context_;
  std::vector<nlohmann::json> queue_;
  PendingAppend start_;
  PendingAppend end_;
  bool written_ = false;
  bool start_written_ = false;
  bool end_written_ = false;
};

}  // namespace tierbox::audit
