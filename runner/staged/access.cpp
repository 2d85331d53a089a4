#include "staged/access.h"

namespace tierbox::staged {

const char* to_string(StagedAction action) {
  switch (action) {
    case StagedAction::see: return "see the changes of";
    case StagedAction::apply: return "apply";
    case StagedAction::rollback: return "roll back";
    case StagedAction::discard: return "discard";
  }
  return "?";
}

AccessDecision decide_staged_access(const StagedCaller& caller, StagedAction action, const StagedRun& run,
                                    const std::string& approvers_group) {
  if (caller.uid == 0) return {true, "root"};
  if (caller.uid == run.requester_uid || (run.sudo_uid && caller.uid == *run.sudo_uid)) return {true, "requester"};
  if (caller.is_approver) return {true, "approver"};
  return {false, std::string("uid ") + std::to_string(caller.uid) + " may not " + to_string(action) + " run " +
                     run.run_id + ": only its requester (uid " + std::to_string(run.requester_uid) + "), root and " +
                     (approvers_group.empty() ? std::string("approvers") : "members of group '" + approvers_group + "'") +
                     " may (fix: ask one of them)"};
}

}  // namespace tierbox::staged
