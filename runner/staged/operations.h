// The staged-run commands' work, between the CLI (which parses and prints)
// and the pieces (store, changes, apply, access): finding the run, checking
// who asks, the approval matrix and grants for an apply, the audit record,
// one operation at a time per run (an flock on its directory).
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <cstdio>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "audit/audit_log.h"
#include "common/unique_fd.h"
#include "policy/runner_config.h"
#include "staged/access.h"
#include "staged/apply.h"
#include "staged/changes.h"
#include "staged/store.h"

namespace tierbox::staged {

struct OperationSettings {
  std::vector<std::filesystem::path> config_dirs;
  std::string audit_log;  // --audit-log, "" for the configured one
  uid_t caller_uid = 0;   // the kernel's (getuid(), or the launch service's SO_PEERCRED)
  // The daemon's: who asks (its SO_PEERCRED, named), for the audit records
  // and the approval's requester; nullopt = this process (audit::current_identity()).
  std::optional<audit::Identity> caller;
  // The daemon's --state-dir, where its runs' layers are; "" = tierbox.json's.
  std::filesystem::path state_dir;
  // "redteam" when `tierbox redteam` discards its simulated run's layer: the
  // record carries it as "simulation", like the run's own records.
  std::string simulation;
  // The daemon's: a refused apply's record goes through the caller's budget
  // of refusal records (daemon/refusal_records.h) instead of straight into
  // the log. An apply of a run with no changes, or of one applied already,
  // is refused at once, so a caller looping on it would otherwise write one
  // record per connection without bound. Null: appended to the log.
  std::function<void(const nlohmann::json& record)> record_refusal;
};

// A staged run opened for one action: its record, paths and lock.
class OpenedRun {
 public:
  OpenedRun(const OperationSettings& settings, const std::string& run_id, StagedAction action);
  StagedRun& run() { return run_; }
  [[nodiscard]] const StagedPaths& paths() const { return paths_; }
  [[nodiscard]] const policy::RunnerConfig& config() const { return config_; }
  [[nodiscard]] const std::string& approvers() const { return approvers_; }

 private:
  policy::RunnerConfig config_;
  std::string approvers_;
  std::filesystem::path state_dir_;
  StagedPaths paths_;
  UniqueFd lock_;
  StagedRun run_;
};

ChangeSet staged_changes(OpenedRun& opened, const std::vector<std::string>& paths);

struct ApplyRequest {
  std::vector<std::string> paths;  // only these (and below); empty: all
  std::string grant_file;          // a grant bound to the change set's digest
  // The grant's document, read by the daemon's client with the caller's
  // rights (grant_file then only names it); nullopt = read grant_file here.
  std::optional<nlohmann::json> grant_document;
  bool yes = false;                // the caller confirms (rules requiring "confirm")
  std::function<void(std::size_t)> before_entry;  // tests: crash simulation
  // While waiting for approvers: readable = the caller gave up (the
  // daemon's client socket); -1 = SIGINT, SIGTERM or SIGHUP to this process.
  int cancel_fd = -1;
  std::FILE* notices = stderr;  // the "waiting for approval" line
};

struct ApplyOutcome {
  ChangeSet set;
  std::vector<std::string> lines;
  std::string decision;  // how it was allowed
  // What the applied changes left that git on the host would run (nested
  // repositories registered as submodules, todo lists with exec lines:
  // launch/workspace_review.h), one line each.
  std::vector<std::string> warnings;
};

// Throws Refusal (126) when governance or a conflict forbids it; the refusal
// is audited too.
ApplyOutcome apply_staged(OpenedRun& opened, const OperationSettings& settings, const ApplyRequest& request);
std::vector<std::string> rollback_staged(OpenedRun& opened, const OperationSettings& settings);
void discard_staged(OpenedRun& opened, const OperationSettings& settings);

// For gc: interrupted applies undone, the layers of runs whose runner died
// marked staged, layers older than retention discarded. One line per action.
std::vector<std::string> gc_staged(const policy::RunnerConfig& config, const std::filesystem::path& audit_log,
                                   std::chrono::hours retention);

// A run recorded "running" whose runner is gone or no longer lists it in the
// registry of state_dir has ended (a runner's entry goes only after its
// sandbox is dead): its layer placeholders are removed and it is recorded
// "staged". Under the run's lock (lock_run_dir). Returns whether it did.
bool settle_ended_run(const std::filesystem::path& state_dir, const StagedPaths& paths, StagedRun& run);

}  // namespace tierbox::staged
