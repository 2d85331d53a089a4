#include "launch/control_state.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include "common/errors.h"
#include "policy/json_reader.h"

namespace tierbox::launch {
namespace {

namespace fs = std::filesystem;

void write_all(int fd, const std::string& text, const std::string& file) {
  std::size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_sys_error("write(" + quote(file) + ")");
    written += static_cast<std::size_t>(n);
  }
}

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
  const auto file = registry.control_state_file(run_id).string();
  const auto temporary = file + ".tmp";
  UniqueFd fd(::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd) throw_sys_error("open(" + quote(temporary) + ", O_WRONLY|O_CREAT|O_TRUNC)");
  write_all(fd.get(), to_json(state).dump() + "\n", temporary);
  fd.reset();
  if (::rename(temporary.c_str(), file.c_str()) != 0) throw_sys_error("rename(" + quote(temporary) + " -> " + quote(file) + ")");
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
