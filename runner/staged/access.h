// Who may see, apply, roll back or discard a staged run's changes
// (docs/staged-writes.md, "Who may see what"). Pure: the caller supplies the
// identity the kernel gave (getuid(), or SO_PEERCRED when the launch
// service relays the request) and whether that user is one of the approval
// matrix's approvers; nothing here reads the environment.
//
//   root                  every run
//   an approver           every run (a member of the approval matrix's group)
//   the run's requester   their own run (and the SUDO_UID a root runner recorded)
//   anyone else           nothing, not even the list of changed paths
#pragma once

#include <sys/types.h>

#include <string>

#include "staged/store.h"

namespace tierbox::staged {

enum class StagedAction { see, apply, rollback, discard };

const char* to_string(StagedAction action);

struct StagedCaller {
  uid_t uid = 0;
  bool is_approver = false;
};

struct AccessDecision {
  bool allowed = false;
  std::string reason;  // allowed: as whom; denied: why, naming the fix
};

AccessDecision decide_staged_access(const StagedCaller& caller, StagedAction action, const StagedRun& run,
                                    const std::string& approvers_group);

}  // namespace tierbox::staged
