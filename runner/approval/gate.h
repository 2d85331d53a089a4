// The approval gate of `tierbox run`: obtains what the approval matrix
// requires for a plan, through a signed grant (--grant), a confirmation at
// the caller's terminal, or approvers voting on a pending request, and says
// how it was decided. Records the request, grants and votes through the
// run's LaunchAudit as they happen. docs/governance.md describes each path.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "audit/launch_audit.h"
#include "audit/records.h"
#include <nlohmann/json.hpp>

#include "policy/approval_matrix.h"
#include "policy/launch_plan.h"
#include "policy/runner_config.h"

namespace tierbox::approval {

struct GateRequest {
  const policy::LaunchPlan* plan = nullptr;
  std::string plan_digest;
  const policy::MatrixDecision* matrix = nullptr;
  audit::Identity requester;
  const policy::RunnerConfig* config = nullptr;
  std::optional<std::filesystem::path> grant_file;
  // The grant's document as the daemon's client read it (with the caller's
  // rights); grant_file then only names it in messages. nullopt: read the file.
  std::optional<nlohmann::json> grant_document;
  // Readable: the request is cancelled (the daemon's client went away), a
  // wait for approvers or a confirmation alike. -1: SIGINT, SIGTERM and
  // SIGHUP of this process cancel a wait for approvers (at a confirmation
  // they end the process, as they always did).
  int cancel_fd = -1;
  // Where "waiting for approval of request ID" goes: the caller's stderr.
  int notice_fd = 2;
  // Where a rule requiring confirm asks. nullopt: this process's own
  // controlling terminal (/dev/tty, opened only then). A value: the daemon's
  // caller's terminal, which the daemon checked to be the caller's
  // controlling terminal (daemon/caller_terminal.h); -1 when the caller has
  // none, and the rule denies.
  std::optional<int> caller_terminal;
  // With caller_terminal: whether the caller is in its terminal's
  // foreground now (confirm.h, ConfirmWait::may_read). null: always.
  std::function<bool()> caller_in_foreground;
};

// The decision (allowed, or denied with the one line the caller is shown).
// The request record is queued first; records a human decision depends on
// are written before the human is asked. Throws Error (125) when the gate
// itself fails (the audit log, the approvals directory).
audit::Decision obtain_approval(const GateRequest& request, audit::LaunchAudit& audit);

// "refused: rule 'x' (...) requires ...: <why it was not given>"
std::string refusal_text(const policy::MatrixDecision& matrix, const std::string& why);

}  // namespace tierbox::approval
