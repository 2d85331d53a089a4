// Who may control a running sandbox (docs/incident-response.md,
// "Permissions"). Pure: the caller supplies the identity the kernel gave
// (uid of the process, or SO_PEERCRED of a control socket's peer) and whether
// that user is in the operators group; nothing here reads the environment.
//
//   root                  every action on every run
//   an operator           every action on every run (members of the group
//                         tierbox.json's operators_group names)
//   the run's requester   status, stop, kill, freeze, isolate of their own
//                         run; not thaw (an operator may have frozen it for
//                         an investigation) and not panic
//   anyone else           nothing, not even status (argv may hold secrets)
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

namespace tierbox::policy {

enum class ControlAction { status, stop, kill, freeze, thaw, isolate, panic };

const char* to_string(ControlAction action);
std::optional<ControlAction> parse_control_action(std::string_view text);

struct ControlActor {
  uid_t uid = 0;
  std::string name;            // "" when the uid has no passwd entry
  bool is_operator = false;    // a member of the operators group
};

// Whose run it is. sudo_uid: the uid sudo named (SUDO_UID) when root started
// the run through sudo; believed only from a root runner, which could hand
// its run to anyone anyway, so it grants control of that run and nothing else.
struct RunOwner {
  uid_t requester_uid = 0;
  std::optional<uid_t> sudo_uid;
};

struct ControlDecision {
  bool allowed = false;
  // Allowed: as whom ("root", "operator", "requester"). Denied: why, one
  // line naming the fix.
  std::string reason;
};

ControlDecision decide_control(const ControlActor& actor, ControlAction action, const RunOwner& owner,
                               const std::string& operators_group);

// How much a caller's connection weighs when every connection a runner
// serves at once is taken (control/control_server.h): root 3, an operator 2,
// the run's requester 1, anyone else 0. A newcomer takes the place of a
// waiting connection that weighs less, so no one can keep those above from
// stopping a run by holding its control socket's connections: not a
// stranger, and not the requester (an agent's user) against an operator.
int control_weight(const ControlActor& actor, const RunOwner& owner);

}  // namespace tierbox::policy
