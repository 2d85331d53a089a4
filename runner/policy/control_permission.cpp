#include "policy/control_permission.h"

#include <array>
#include <utility>

namespace tierbox::policy {
namespace {

constexpr std::array<std::pair<ControlAction, const char*>, 7> kNames = {{
    {ControlAction::status, "status"},
    {ControlAction::stop, "stop"},
    {ControlAction::kill, "kill"},
    {ControlAction::freeze, "freeze"},
    {ControlAction::thaw, "thaw"},
    {ControlAction::isolate, "isolate"},
    {ControlAction::panic, "panic"},
}};

bool owns(const ControlActor& actor, const RunOwner& owner) {
  if (actor.uid == owner.requester_uid) return true;
  // Root started it on behalf of the sudo user.
  return owner.requester_uid == 0 && owner.sudo_uid && *owner.sudo_uid == actor.uid;
}

std::string describe(const ControlActor& actor) {
  return "uid " + std::to_string(actor.uid) + (actor.name.empty() ? "" : " (" + actor.name + ")");
}

}  // namespace

const char* to_string(ControlAction action) {
  for (const auto& [value, name] : kNames)
    if (value == action) return name;
  return "?";
}

std::optional<ControlAction> parse_control_action(std::string_view text) {
  for (const auto& [value, name] : kNames)
    if (text == name) return value;
  return std::nullopt;
}

ControlDecision decide_control(const ControlActor& actor, ControlAction action, const RunOwner& owner,
                               const std::string& operators_group) {
  if (actor.uid == 0) return {true, "root"};
  if (actor.is_operator) return {true, "operator"};
  if (owns(actor, owner)) {
    if (action == ControlAction::thaw)
      return {false, describe(actor) + " requested this run but only root or an operator may thaw it (it may have been "
                     "frozen for an investigation)"};
    if (action == ControlAction::panic)
      return {false, describe(actor) + ": panic is for root and operators (fix: tierbox stop or freeze your own run)"};
    return {true, "requester"};
  }
  const std::string operators = operators_group.empty()
                                    ? "no operators group is configured (tierbox.json operators_group)"
                                    : "not a member of the operators group " + operators_group;
  return {false, describe(actor) + " is not the requester of this run and " + operators +
                     " (fix: ask its requester, an operator or root)"};
}

int control_weight(const ControlActor& actor, const RunOwner& owner) {
  if (actor.uid == 0) return 3;
  if (actor.is_operator) return 2;
  return owns(actor, owner) ? 1 : 0;
}

}  // namespace tierbox::policy
