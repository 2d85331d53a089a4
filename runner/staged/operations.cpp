#include "staged/operations.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>

#include "approval/eligibility.h"
#include "approval/grant.h"
#include "approval/pending.h"
#include "approval/grant_store.h"
#include "audit/audit_log.h"
#include "common/errors.h"
#include "common/rfc3339.h"
#include "common/run_id.h"
#include "common/units.h"
#include "common/users.h"
#include "launch/run_registry.h"
#include "launch/workspace_review.h"
#include "policy/approval_matrix.h"

namespace tierbox::staged {
namespace {

using json = nlohmann::json;

UniqueFd lock_run_dir(const StagedPaths& paths, bool wait) {
  UniqueFd dir(::open(paths.dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW));
  if (!dir) {
    if (errno == ENOENT)
      throw Error("run " + paths.dir.filename().string() +
                      ": no staged layer (never staged, discarded, or removed by gc)",
                  2);
    throw_sys_error("open(" + quote(paths.dir.string()) + ", O_DIRECTORY)");
  }
  if (::flock(dir.get(), LOCK_EX | (wait ? 0 : LOCK_NB)) != 0) {
    if (!wait && errno == EWOULDBLOCK) return UniqueFd();
    throw_sys_error("flock(" + quote(paths.dir.string()) + ", LOCK_EX)");
  }
  return dir;
}

std::string approvers_group(const std::vector<std::filesystem::path>& dirs) {
  try {
    return policy::load_approval_matrix(dirs).approvers;
  } catch (const Error&) {
    return "";  // no matrix: nobody but root and the requester
  }
}

std::filesystem::path log_file(const OperationSettings& settings, const policy::RunnerConfig& config) {
  return audit::audit_log_path(settings.audit_log, config.audit_log);
}

// One audit record per staged action, written before the caller is told it
// happened (fail closed: an action that cannot be recorded is reported as
// failed, its journal kept).
audit::Identity caller_identity(const OperationSettings& settings) {
  return settings.caller ? *settings.caller : audit::current_identity();
}

json action_record(const OperationSettings& settings, const std::string& event, const StagedRun& run, json details) {
  json record = {{"event", event},
                 {"run_id", run.run_id},
                 {"tier", run.tier},
                 {"user", audit::to_json(caller_identity(settings))},
                 {"workspace", run.workspace}};
  if (!settings.simulation.empty()) record["simulation"] = settings.simulation;
  record.update(details);
  return record;
}

void audit_action(const OperationSettings& settings, const policy::RunnerConfig& config, const std::string& event,
                  const StagedRun& run, json details) {
  audit::AuditLog(log_file(settings, config), config.audit_syslog)
      .append(action_record(settings, event, run, std::move(details)));
}

policy::ApplyFacts facts_of(const StagedRun& run, const ChangeSet& set) {
  policy::ApplyFacts facts;
  facts.tier = run.tier;
  facts.files = set.changes.size();
  facts.bytes = set.bytes_written();
  for (const auto& change : set.changes) {
    facts.paths.push_back(change.path);
    if (change.kind == ChangeKind::deleted) facts.deleted.push_back(change.path);
  }
  return facts;
}

// A grant for this apply: signed over the run's tier, the command
// `tierbox apply RUN [PATH...]`, the workspace and the change set's digest
// as the plan digest. Returns who signed; throws Refusal when it does not fit.
std::vector<std::string> check_apply_grant(const std::string& file, const std::optional<json>& sent, const OpenedRun& opened,
                                           const StagedRun& run, const ChangeSet& set, const std::vector<std::string>& paths,
                                           const policy::MatrixDecision& decision) {
  const auto document = sent ? *sent : approval::read_json_document(file);
  const auto store = approval::load_trust_store(opened.config().governance_dir);
  std::vector<std::string> argv = {"tierbox", "apply", run.run_id};
  argv.insert(argv.end(), paths.begin(), paths.end());
  const approval::GrantBinding binding{run.tier, argv, run.workspace, set.digest};
  const auto check = approval::check_grant(document, store, binding, std::chrono::system_clock::now());
  if (!check.ok) throw Refusal("grant " + file + ": " + check.reason);
  std::vector<std::string> approvers;
  for (const auto& signer : check.signers) {
    const auto uid = user_id(signer);
    if (uid && is_group_member(*uid, decision.approvers)) approvers.push_back(signer);
  }
  if (static_cast<int>(approvers.size()) < policy::approvers_needed(decision.require))
    throw Refusal("grant " + file + ": signed by " + std::to_string(approvers.size()) + " member(s) of group '" +
                  decision.approvers + "', " + std::to_string(policy::approvers_needed(decision.require)) + " needed");
  approval::consume_nonce(opened.config().governance_dir, check.nonce, run.run_id + "-apply");
  return approvers;
}

// No grant: the apply is filed like a launch waiting for approvers
// (approval/pending.h): `tierbox approvals` lists it with the change set's
// lines, `tierbox approve ID` votes with the digest it was shown, and the
// vote counts only from an eligible approver (never the caller) for this
// exact digest. Returns who approved; throws Refusal on a denial, the
// rule's timeout or a cancel (SIGINT/SIGTERM).
std::vector<std::string> wait_for_apply_approvers(const OpenedRun& opened, const OperationSettings& settings,
                                                  const ApplyRequest& request, const StagedRun& run, const ChangeSet& set,
                                                  const policy::MatrixDecision& decision) {
  const int needed = policy::approvers_needed(decision.require);
  const auto requester = caller_identity(settings);
  const auto id = new_run_id();
  std::vector<std::string> summary = {"apply of staged run " + run.run_id + " (tier " + run.tier + ") to " + run.workspace,
                                      "change set " + set.digest + ": " + std::to_string(set.changes.size()) + " entries"};
  for (const auto& change : set.changes) summary.push_back(change_line(change));
  const auto expires = std::chrono::system_clock::now() + decision.timeout;
  json approved = json::array();
  const auto document = [&] {
    return json{{"id", id},
                {"run_id", run.run_id},
                {"requester", audit::to_json(requester)},
                {"tier", run.tier},
                {"argv", {"tierbox", "apply", run.run_id}},
                {"workspace", run.workspace},
                {"plan_digest", set.digest},
                {"summary", summary},
                {"require", policy::to_string(decision.require)},
                {"requires", decision.describe()},
                {"approvers", decision.approvers},
                {"needed", needed},
                {"approved_by", approved},
                {"created_at", rfc3339_utc(std::chrono::system_clock::now())},
                {"expires_at", rfc3339_utc(expires)}};
  };
  approval::PendingRequest pending(opened.config().approvals_dir, id, document());
  std::fprintf(request.notices,
               "tierbox: waiting for approval of request %s: %s; an approver reviews `tierbox changes %s` and runs "
               "`tierbox approve %s` (or `tierbox deny %s --reason ...`); refused after %s\n",
               id.c_str(), decision.describe().c_str(), run.run_id.c_str(), id.c_str(), id.c_str(),
               format_duration(decision.timeout).c_str());
  std::fflush(request.notices);
  sigset_t signals;
  sigemptyset(&signals);
  for (int signal : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&signals, signal);
  sigset_t old_mask;
  sigemptyset(&old_mask);
  // The daemon cancels through its client's socket; its own signals are its own.
  const bool own_signals = request.cancel_fd < 0;
  if (own_signals) ::sigprocmask(SIG_BLOCK, &signals, &old_mask);
  UniqueFd own_cancel(own_signals ? ::signalfd(-1, &signals, SFD_CLOEXEC | SFD_NONBLOCK) : -1);
  const int cancel_fd = own_signals ? own_cancel.get() : request.cancel_fd;
  struct RestoreMask {
    bool restore;
    sigset_t mask;
    ~RestoreMask() {
      if (restore) ::sigprocmask(SIG_SETMASK, &mask, nullptr);
    }
  } restore{own_signals, old_mask};
  const auto deadline = std::chrono::steady_clock::now() + decision.timeout;
  std::vector<std::string> names;
  std::vector<uid_t> uids;
  while (static_cast<int>(names.size()) < needed) {
    bool cancelled = false;
    auto vote = pending.next_vote(deadline, cancel_fd, cancelled);
    if (cancelled) throw Refusal("the apply was cancelled while waiting for approval");
    if (!vote) throw Refusal("no approval within " + format_duration(decision.timeout) + " (timeout); " + decision.describe());
    std::string why = approval::why_not_eligible(vote->by, requester, decision.approvers, group_members(decision.approvers));
    if (why.empty() && vote->plan_digest != set.digest)
      why = "you were shown change set " + vote->plan_digest + ", the request's is " + set.digest;
    if (why.empty() && std::find(uids.begin(), uids.end(), vote->by.uid) != uids.end()) why = "already approved";
    if (!why.empty()) {
      approval::PendingRequest::answer(*vote, false, "refused: " + why);
      continue;
    }
    if (!vote->approve) {
      approval::PendingRequest::answer(*vote, true, "denied: the apply is refused");
      throw Refusal("denied by " + vote->by.name + (vote->reason.empty() ? "" : ": " + vote->reason));
    }
    names.push_back(vote->by.name);
    uids.push_back(vote->by.uid);
    approved.push_back(audit::to_json(vote->by));
    approval::PendingRequest::answer(*vote, true,
                                     static_cast<int>(names.size()) >= needed ? "approved: the apply goes ahead"
                                                                               : "approved; waiting for another approver");
    pending.update(document());
  }
  return names;
}

}  // namespace

OpenedRun::OpenedRun(const OperationSettings& settings, const std::string& run_id, StagedAction action)
    : config_(policy::load_runner_config(settings.config_dirs)),
      approvers_(approvers_group(settings.config_dirs)),
      state_dir_(settings.state_dir.empty() ? config_.state_dir : settings.state_dir),
      paths_(staged_paths(state_dir_, run_id, config_.governance_dir)) {
  lock_ = lock_run_dir(paths_, true);
  run_ = read_staged_run(paths_);
  const bool is_approver = !approvers_.empty() && is_group_member(settings.caller_uid, approvers_);
  const auto decision = decide_staged_access({settings.caller_uid, is_approver}, action, run_, approvers_);
  if (!decision.allowed) throw Refusal(decision.reason);
  // Only after the access check: settling writes the record.
  (void)settle_ended_run(state_dir_, paths_, run_);
}

ChangeSet staged_changes(OpenedRun& opened, const std::vector<std::string>& paths) {
  const auto& run = opened.run();
  (void)open_workspace(run);  // still the run's directory (the collector opens it without symlinks too)
  auto set = collect_changes(opened.paths().upper().string(), run.workspace, paths);
  // A run still running has its placeholders in the layer (settling takes
  // them out): they are tierbox's, never the task's changes.
  if (run.state == "running" || run.state == "starting") {
    const auto is_placeholder = [&](const Change& change) {
      return change.kind == ChangeKind::added &&
             std::any_of(run.placeholders.begin(), run.placeholders.end(), [&](const LayerPlaceholder& placeholder) {
               return placeholder.path == change.path &&
                      change.after.type == (placeholder.directory ? EntryType::directory : EntryType::file);
             });
    };
    const auto size = set.changes.size();
    set.changes.erase(std::remove_if(set.changes.begin(), set.changes.end(), is_placeholder), set.changes.end());
    if (set.changes.size() != size) set.digest = change_set_digest(set.changes);
  }
  return set;
}

ApplyOutcome apply_staged(OpenedRun& opened, const OperationSettings& settings, const ApplyRequest& request) {
  auto& run = opened.run();
  ApplyOutcome outcome;
  outcome.set = staged_changes(opened, request.paths);
  const auto refuse = [&](const std::string& why) {
    const json details = {{"result", "refused"}, {"reason", why}, {"change_set", outcome.set.digest}};
    if (settings.record_refusal)
      settings.record_refusal(action_record(settings, "apply", run, details));
    else
      audit_action(settings, opened.config(), "apply", run, details);
    throw Refusal(why);
  };
  if (run.state != "staged") refuse("run " + run.run_id + ": its layer is " + run.state + ", not staged");
  if (outcome.set.changes.empty()) refuse("run " + run.run_id + ": no changes to apply");
  // 1. Conflicts: every real entry the apply touches must be what the run started from.
  if (const auto conflicts = find_conflicts(outcome.set, run, restored_entries(opened.paths())); !conflicts.empty()) {
    std::string text;
    for (const auto& line : conflicts) text += "\n  conflict: " + line;
    refuse("apply of run " + run.run_id + ": " + std::to_string(conflicts.size()) +
           " file(s) changed in the workspace since the run started; nothing applied (fix: apply the other paths "
           "by name, or resolve by hand)" + text);
  }
  // 2. The approval matrix, on this change set.
  const auto matrix = policy::load_approval_matrix(settings.config_dirs);
  const auto decision = policy::evaluate_apply_matrix(matrix, facts_of(run, outcome.set));
  outcome.decision = "no rule requires an approval";
  if (decision.require == policy::Requirement::confirm) {
    if (!request.yes) refuse(decision.describe() + "; change set " + outcome.set.digest + " (fix: review it, then add --yes)");
    outcome.decision = "confirmed (--yes) by uid " + std::to_string(settings.caller_uid);
  } else if (decision.require >= policy::Requirement::approver) {
    if (request.grant_file.empty() && !request.grant_document) {
      std::string command = "tierbox grant --key KEY --tier " + run.tier + " --workspace " + run.workspace +
                            " --plan-digest " + outcome.set.digest + " -- tierbox apply " + run.run_id;
      for (const auto& path : request.paths) command += " " + path;
      try {
        std::string by;
        for (const auto& name : wait_for_apply_approvers(opened, settings, request, run, outcome.set, decision))
          by += (by.empty() ? "" : ", ") + name;
        outcome.decision = "approved by " + by;
      } catch (const Refusal& refusal) {
        refuse(std::string(refusal.what()).substr(9) + "; change set " + outcome.set.digest +
               " (fix: an approver approves while the apply waits, or signs a grant: " + command +
               "; then apply with --grant FILE)");
      }
    } else {
      try {
        const auto signers = check_apply_grant(request.grant_file, request.grant_document, opened, run, outcome.set, request.paths, decision);
        std::string by;
        for (const auto& signer : signers) by += (by.empty() ? "" : ", ") + signer;
        outcome.decision = "grant " + request.grant_file + " signed by " + by;
      } catch (const Error& error) {
        refuse(std::string(error.what()).rfind("refused: ", 0) == 0 ? std::string(error.what()).substr(9) : error.what());
      }
    }
  }
  // 3. Land it, then record what landed, file by file, and review what git
  // on the host would now run, as after a read-write run.
  const auto git_before = launch::stamp_git_state(run.workspace);
  auto report = apply_changes(opened.paths(), run, outcome.set, request.before_entry);
  for (const auto& warning : launch::review_workspace(run.workspace, git_before)) outcome.warnings.push_back(warning.text);
  audit_action(settings, opened.config(), "apply", run,
               {{"result", "applied"}, {"change_set", outcome.set.digest}, {"decision", outcome.decision},
                {"files", report.files}, {"workspace_warnings", outcome.warnings}});
  outcome.lines = std::move(report.lines);
  return outcome;
}

std::vector<std::string> rollback_staged(OpenedRun& opened, const OperationSettings& settings) {
  auto lines = rollback_apply(opened.paths(), opened.run());
  audit_action(settings, opened.config(), "rollback", opened.run(), {{"result", "rolled_back"}, {"entries", lines.size()}});
  return lines;
}

void discard_staged(OpenedRun& opened, const OperationSettings& settings) {
  const auto& run = opened.run();
  if (run.state == "applying")
    throw Refusal("run " + run.run_id + ": an apply was interrupted; `tierbox gc` undoes it first");
  // Opening it settled a run that has ended: still running means running.
  if (run.state == "running" || run.state == "starting")
    throw Refusal("run " + run.run_id + " is still running (fix: `tierbox stop " + run.run_id + "` first)");
  audit_action(settings, opened.config(), "discard", run, {{"result", "discarded"}, {"state", run.state}});
  discard_staged_run(opened.paths());
}

bool settle_ended_run(const std::filesystem::path& state_dir, const StagedPaths& paths, StagedRun& run) {
  if (run.state != "running" && run.state != "starting") return false;
  const auto listed = launch::RunRegistry(state_dir).find(run.run_id);
  if (listed && listed->runner_alive) return false;
  remove_layer_placeholders(paths, run.placeholders);
  run.state = "staged";
  write_staged_run(paths, run, Durability::none);
  return true;
}

std::vector<std::string> gc_staged(const policy::RunnerConfig& config, const std::filesystem::path& audit_log,
                                   std::chrono::hours retention) {
  std::vector<std::string> lines;
  struct timespec now {};
  ::clock_gettime(CLOCK_REALTIME_COARSE, &now);
  const std::int64_t now_ns = static_cast<std::int64_t>(now.tv_sec) * 1000000000 + now.tv_nsec;
  for (auto run : list_staged_runs(config.state_dir)) {
    const auto paths = staged_paths(config.state_dir, run.run_id, config.governance_dir);
    try {
      auto lock = lock_run_dir(paths, false);
      if (!lock) continue;  // an apply, rollback or discard is at work
      run = read_staged_run(paths);
      if (run.state == "running" || run.state == "starting") {
        if (!settle_ended_run(config.state_dir, paths, run)) continue;
        lines.push_back("run " + run.run_id + ": its runner is gone; the layer is staged");
      }
      if (auto line = recover_interrupted_apply(paths, run); !line.empty()) {
        audit::AuditLog(audit_log, config.audit_syslog)
            .append({{"event", "apply"}, {"run_id", run.run_id}, {"tier", run.tier},
                     {"user", audit::to_json(audit::current_identity())}, {"result", "undone by gc"}});
        lines.push_back(line);
      }
      const auto age = std::chrono::nanoseconds(now_ns - run.baseline_ns);
      if (age > retention) {
        discard_staged_run(paths);
        lines.push_back("run " + run.run_id + ": layer discarded (older than the retention of " +
                        std::to_string(retention.count()) + "h)");
      }
    } catch (const Error& error) {
      lines.push_back("run " + run.run_id + ": " + error.what());
    }
  }
  return lines;
}

}  // namespace tierbox::staged
