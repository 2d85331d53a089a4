#include "control/control_state.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include "common/errors.h"
#include "common/files.h"
#include "common/rfc3339.h"
#include "policy/json_reader.h"

namespace tierbox::launch {
namespace {

namespace fs = std::filesystem;

}  // namespace

nlohmann::json to_json(const ControlState& state) {
  return {{"isolated", state.isolated}, {"stopping_since", state.stopping_since}, {"actions", state.actions}};
}

ControlState control_state_from_json(const nlohmann::json& json) {
  ControlState state;
  state.isolated = json.value("isolated", false);
  state.stopping_since = json.value("stopping_since", "");
  state.actions = json.value("actions", nlohmann::json::array());
  if (!state.actions.is_array()) state.actions = nlohmann::json::array();
  return state;
}

ControlState read_control_state(const RunRegistry& registry, const std::string& run_id) {
  const auto file = registry.control_state_file(run_id);
  std::error_code ec;
  if (!fs::exists(file, ec)) return {};
  try {
    return control_state_from_json(policy::read_json_file(file.string()));
  } catch (const std::exception&) {
    return {};  // replaced while read: the next command reads the new one
  }
}

void update_control_state(const RunRegistry& registry, const std::string& run_id,
                          const std::function<void(ControlState&)>& change) {
  UniqueFd directory(::open(registry.dir().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!directory) throw_sys_error("open(" + quote(registry.dir().string()) + ", O_DIRECTORY)");
  if (::flock(directory.get(), LOCK_EX) != 0) throw_sys_error("flock(" + quote(registry.dir().string()) + ", LOCK_EX)");
  auto state = read_control_state(registry, run_id);
  change(state);
  while (state.actions.size() > ControlState::kMaxActions) state.actions.erase(state.actions.begin());
  write_file_atomically(registry.control_state_file(run_id), to_json(state).dump() + "\n", 0600, Durability::none);
}

nlohmann::json control_action_entry(const std::string& action, const nlohmann::json& by, const std::string& result,
                                    const std::string& detail) {
  return {{"action", action},
          {"at", rfc3339_utc(std::chrono::system_clock::now())},
          {"by", by},
          {"result", result},
          {"detail", detail}};
}

nlohmann::json control_audit_event(const std::string& action, const std::string& run_id, const std::string& result,
                                   const nlohmann::json& by) {
  return {{"event", "control"}, {"action", action}, {"run_id", run_id}, {"result", result}, {"by", by}};
}

}  // namespace tierbox::launch
