// What control commands did to a run (docs/incident-response.md), kept next
// to its record as runs/<run_id>.control.json: whether its network was cut,
// whether a stop is under way, and the last actions with who took them.
// `tierbox ps` merges it with the record.
//
// The record (<run_id>.json) stays the runner's alone; this file is written
// by whoever carries out a control action (a root `tierbox` command, or the
// runner on behalf of a control socket's caller), read-modify-write under an
// flock of the runs directory and replaced atomically, so two concurrent
// control commands never lose each other's change and a reader never sees
// half a file. Whether a run is frozen is not kept here: the freezer itself
// says (stages::AttachedRunCgroups::now()).
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "launch/run_registry.h"

namespace tierbox::launch {

struct ControlState {
  bool isolated = false;
  std::string stopping_since;  // RFC 3339; "" when no stop is under way
  // The last kMaxActions actions: {action, at, by, result, detail}.
  nlohmann::json actions = nlohmann::json::array();

  static constexpr std::size_t kMaxActions = 32;
};

nlohmann::json to_json(const ControlState& state);
ControlState control_state_from_json(const nlohmann::json& json);

// The run's control state; the default (nothing done) when it has none.
ControlState read_control_state(const RunRegistry& registry, const std::string& run_id);

// Applies change to the run's control state and writes it back. Throws
// SysError when the file cannot be written.
void update_control_state(const RunRegistry& registry, const std::string& run_id,
                          const std::function<void(ControlState&)>& change);

// One entry of ControlState::actions.
nlohmann::json control_action_entry(const std::string& action, const nlohmann::json& by, const std::string& result,
                                    const std::string& detail);

// The audit record of a control action (docs/incident-response.md, the
// same shape docs/governance.md documents): {"event": "control", "action",
// "run_id", "result": "ok" or the error line, "by": {"uid", "name",
// "sudo_user" or null}}.
nlohmann::json control_audit_event(const std::string& action, const std::string& run_id, const std::string& result,
                                   const nlohmann::json& by);

}  // namespace tierbox::launch
