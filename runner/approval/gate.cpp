#include "approval/gate.h"

#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cstdio>

#include "approval/confirm.h"
#include "approval/eligibility.h"
#include "approval/grant_store.h"
#include "approval/pending.h"
#include "common/errors.h"
#include "common/logging.h"
#include "common/unique_fd.h"
#include "common/units.h"
#include "common/users.h"
#include "common/rfc3339.h"
#include "policy/plan_summary.h"

namespace tierbox::approval {
namespace {

using json = nlohmann::json;
using policy::Requirement;

std::string now_text() { return rfc3339_utc(std::chrono::system_clock::now()); }

std::string rule_text(const policy::MatrixDecision& matrix) {
  return matrix.deciding ? matrix.deciding->rule->id + " (" + matrix.deciding->rule->origin + ")" : "";
}

audit::Decision decision(const GateRequest& request, bool allowed, std::string how, std::vector<audit::Identity> by,
                         std::string reason) {
  audit::Decision out;
  out.allowed = allowed;
  out.how = std::move(how);
  out.require = policy::to_string(request.matrix->require);
  out.rule = rule_text(*request.matrix);
  out.by = std::move(by);
  out.at = now_text();
  out.reason = std::move(reason);
  return out;
}

audit::Decision denied(const GateRequest& request, const std::string& how, std::vector<audit::Identity> by,
                       const std::string& why) {
  return decision(request, false, how, std::move(by), refusal_text(*request.matrix, why));
}

audit::Identity identity_of(const std::string& user) {
  audit::Identity identity;
  identity.name = user;
  identity.uid = user_id(user).value_or(static_cast<uid_t>(-1));
  return identity;
}

// --- grant ---------------------------------------------------------------

// The grant's signers must be approvers the matrix's rule accepts.
std::string signers_problem(const GateRequest& request, const GrantCheck& check) {
  const auto needed = policy::approvers_needed(request.matrix->require);
  if (needed == 0) return "";
  const auto members = group_members(request.matrix->approvers);
  std::vector<uid_t> counted;
  std::string problems;
  for (const auto& owner : check.signers) {
    const auto signer = identity_of(owner);
    const auto why = why_not_eligible(signer, request.requester, request.matrix->approvers, members);
    if (!why.empty()) {
      problems += (problems.empty() ? "" : "; ") + why;
      continue;
    }
    if (std::find(counted.begin(), counted.end(), signer.uid) == counted.end()) counted.push_back(signer.uid);
  }
  if (static_cast<int>(counted.size()) >= needed) return "";
  return "the grant is signed by " + std::to_string(counted.size()) + " eligible approver" +
         (counted.size() == 1 ? "" : "s") + ", " + std::to_string(needed) + " needed" +
         (problems.empty() ? "" : " (" + problems + ")");
}

audit::Decision use_grant(const GateRequest& request, audit::LaunchAudit& audit) {
  const auto& plan = *request.plan;
  const auto& file = *request.grant_file;
  const auto refuse = [&](const std::string& why, const json& summary) {
    const auto text = "grant " + file.string() + ": " + why;
    audit.queue(audit::grant_record(audit.context(), false, summary, text));
    return denied(request, "grant", {}, text);
  };
  json document;
  try {
    document = request.grant_document ? *request.grant_document : read_json_document(file);
  } catch (const Error& error) {
    return refuse(std::string("cannot be read: ") + error.what(), json::object());
  }
  const auto store = load_trust_store(request.config->governance_dir);
  GrantBinding binding{plan.tier, plan.argv, std::nullopt, request.plan_digest};
  if (plan.workspace) binding.workspace = plan.workspace->host_path;
  GrantCheck check;
  try {
    check = check_grant(document, store, binding, std::chrono::system_clock::now());
  } catch (const std::exception&) {
    // A field of the wrong type: the file is not a grant tierbox wrote.
    return refuse("malformed (a field has the wrong type; not a grant `tierbox grant` wrote)", json::object());
  }
  check.summary["file"] = file.string();
  if (!check.ok) return refuse(check.reason, check.summary);
  if (auto problem = signers_problem(request, check); !problem.empty()) return refuse(problem, check.summary);
  try {
    consume_nonce(request.config->governance_dir, check.nonce, plan.run_id);
  } catch (const Refusal& replay) {
    return refuse(std::string(replay.what()).substr(std::string("refused: grant: ").size()), check.summary);
  }
  audit.queue(audit::grant_record(audit.context(), true, check.summary, "grant " + file.string() + " used"));
  std::vector<audit::Identity> by;
  for (const auto& owner : check.signers) by.push_back(identity_of(owner));
  return decision(request, true, "grant", by, "signed grant " + file.string() + " (nonce " + check.nonce + ")");
}

// --- confirm -------------------------------------------------------------

audit::Decision confirm(const GateRequest& request, audit::LaunchAudit& audit) {
  auto lines = policy::plan_summary_lines(*request.plan);
  lines.push_back("approval: " + request.matrix->describe());
  // Never the daemon's own /dev/tty (whoever started the daemon's): its
  // caller's, passed with the request, or none.
  UniqueFd own_terminal;
  if (!request.caller_terminal) own_terminal = open_controlling_terminal();
  const int terminal = request.caller_terminal ? *request.caller_terminal : own_terminal.get();
  // The request is on disk before a person is asked; with no terminal no
  // one is, and the request stays queued with the denial (the daemon's
  // caller's budget of refusal records takes both: service/run_task.h).
  if (terminal >= 0) audit.flush();
  ConfirmWait wait;
  wait.timeout = request.matrix->timeout;
  wait.cancel_fd = request.cancel_fd;
  if (request.caller_terminal) wait.may_read = request.caller_in_foreground;
  const auto answer = confirm_at_terminal(terminal, lines, "tierbox: run this task?", wait);
  switch (answer) {
    case ConfirmAnswer::yes:
      return decision(request, true, "confirm", {request.requester}, "confirmed at the terminal");
    case ConfirmAnswer::no:
      return denied(request, "confirm", {request.requester}, "not confirmed at the terminal");
    case ConfirmAnswer::timed_out:
      return denied(request, "confirm", {}, "no answer at the terminal within " + format_duration(request.matrix->timeout));
    case ConfirmAnswer::cancelled:
      return denied(request, "confirm", {}, "the requester cancelled while asked to confirm");
    case ConfirmAnswer::no_terminal:
      break;
  }
  return denied(request, "confirm", {},
                "no terminal to confirm at (the answer is read from /dev/tty, never stdin; for a non-interactive run "
                "use a signed grant: --grant FILE)");
}

// --- approvers -------------------------------------------------------------

// SIGINT, SIGTERM and SIGHUP while waiting cancel the request (recorded as
// denied) instead of killing the runner with its request on file.
class CancelSignals {
 public:
  CancelSignals() {
    sigset_t set;
    sigemptyset(&set);
    for (int signal : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&set, signal);
    if (::sigprocmask(SIG_BLOCK, &set, &old_) != 0) throw_sys_error("sigprocmask(SIG_BLOCK)");
    fd_.reset(::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
    if (!fd_) throw_sys_error("signalfd(SIGINT|SIGTERM|SIGHUP)");
  }
  ~CancelSignals() {
    // Consume what arrived, so unblocking does not deliver it.
    struct signalfd_siginfo info {};
    while (::read(fd_.get(), &info, sizeof info) == sizeof info) {
    }
    ::sigprocmask(SIG_SETMASK, &old_, nullptr);
  }
  CancelSignals(const CancelSignals&) = delete;
  CancelSignals& operator=(const CancelSignals&) = delete;
  [[nodiscard]] int fd() const { return fd_.get(); }

 private:
  sigset_t old_{};
  UniqueFd fd_;
};

json pending_document(const GateRequest& request, const std::vector<audit::Identity>& approvals,
                      std::chrono::system_clock::time_point expires) {
  const auto& plan = *request.plan;
  json approved = json::array();
  for (const auto& person : approvals) approved.push_back(audit::to_json(person));
  return {{"id", plan.run_id},
          {"run_id", plan.run_id},
          {"requester", audit::to_json(request.requester)},
          {"tier", plan.tier},
          {"argv", plan.argv},
          {"workspace", plan.workspace ? json(plan.workspace->host_path) : json(nullptr)},
          {"plan_digest", request.plan_digest},
          {"summary", policy::plan_summary_lines(plan)},
          {"rule", rule_text(*request.matrix)},
          {"require", policy::to_string(request.matrix->require)},
          {"requires", request.matrix->describe()},
          {"approvers", request.matrix->approvers},
          {"needed", policy::approvers_needed(request.matrix->require)},
          {"approved_by", approved},
          {"created_at", now_text()},
          {"expires_at", rfc3339_utc(expires)}};
}

struct VoteOutcome {
  bool accepted = false;
  std::string message;
};

VoteOutcome judge_vote(const GateRequest& request, const Vote& vote, const std::vector<audit::Identity>& approvals) {
  const auto why = why_not_eligible(vote.by, request.requester, request.matrix->approvers,
                                    group_members(request.matrix->approvers));
  if (!why.empty()) return {false, "refused: " + why};
  if (vote.plan_digest != request.plan_digest)
    return {false, "refused: you were shown plan digest " + vote.plan_digest + ", the request's is " + request.plan_digest};
  for (const auto& earlier : approvals)
    if (earlier.uid == vote.by.uid) return {false, "refused: " + vote.by.name + " already approved this request"};
  return {true, ""};
}

audit::Decision wait_for_approvers(const GateRequest& request, audit::LaunchAudit& audit) {
  const auto& plan = *request.plan;
  const int needed = policy::approvers_needed(request.matrix->require);
  const auto timeout = request.matrix->timeout;
  const auto expires = std::chrono::system_clock::now() + timeout;
  std::vector<audit::Identity> approvals;
  // The daemon cancels through its own fd: a signalfd here would take the
  // daemon's SIGTERM for this request's cancellation.
  std::optional<CancelSignals> signals;
  if (request.cancel_fd < 0) signals.emplace();
  const int cancel_fd = request.cancel_fd >= 0 ? request.cancel_fd : signals->fd();
  PendingRequest pending(request.config->approvals_dir, plan.run_id, pending_document(request, approvals, expires));
  audit.flush();
  ::dprintf(request.notice_fd,
               "tierbox: waiting for approval of request %s: %s; an approver runs `tierbox approve %s` (or `tierbox deny %s "
               "--reason ...`); denied after %s\n",
               plan.run_id.c_str(), request.matrix->describe().c_str(), plan.run_id.c_str(), plan.run_id.c_str(),
               format_duration(timeout).c_str());
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  const auto require = policy::to_string(request.matrix->require);
  while (true) {
    bool cancelled = false;
    auto vote = pending.next_vote(deadline, cancel_fd, cancelled);
    if (cancelled) return denied(request, require, approvals, "the requester cancelled while waiting for approval");
    if (!vote) return denied(request, require, approvals, "no approval within " + format_duration(timeout) + " (timeout)");
    auto outcome = judge_vote(request, *vote, approvals);
    const auto vote_name = vote->approve ? "approve" : "deny";
    if (outcome.accepted && !vote->approve) outcome.message = "denied: the run is refused";
    if (outcome.accepted && vote->approve) {
      approvals.push_back(vote->by);
      outcome.message = static_cast<int>(approvals.size()) >= needed
                             ? "approved: the run starts"
                             : "approved (" + std::to_string(approvals.size()) + " of " + std::to_string(needed) +
                                   "); waiting for another approver";
    }
    audit.record_now(audit::approval_record(audit.context(), plan.run_id, vote->by, vote_name, vote->reason,
                                            outcome.accepted, outcome.message));
    PendingRequest::answer(*vote, outcome.accepted, outcome.message);
    if (!outcome.accepted) continue;
    if (!vote->approve)
      return denied(request, require, {vote->by},
                    "denied by " + vote->by.name + (vote->reason.empty() ? "" : ": " + vote->reason));
    if (static_cast<int>(approvals.size()) >= needed) {
      std::string names;
      for (const auto& person : approvals) names += (names.empty() ? "" : ", ") + person.name;
      return decision(request, true, require, approvals, "approved by " + names);
    }
    pending.update(pending_document(request, approvals, expires));
  }
}

}  // namespace

std::string refusal_text(const policy::MatrixDecision& matrix, const std::string& why) {
  return "refused: " + matrix.describe() + ": " + why;
}

audit::Decision obtain_approval(const GateRequest& request, audit::LaunchAudit& audit) {
  if (request.grant_file) return use_grant(request, audit);
  switch (request.matrix->require) {
    case Requirement::none:
      return decision(request, true, "none", {}, request.matrix->describe());
    case Requirement::confirm:
      return confirm(request, audit);
    case Requirement::approver:
    case Requirement::two_person:
      return wait_for_approvers(request, audit);
  }
  return denied(request, "refused", {}, "unknown requirement");
}

}  // namespace tierbox::approval
