#include "oci/state.h"

#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "common/errors.h"
#include "common/files.h"
#include "common/process_info.h"

namespace tierbox::oci {

nlohmann::json to_json(const ContainerState& state) {
  nlohmann::json document = {{"id", state.id},
                             {"bundle", state.bundle},
                             {"status", state.status},
                             {"pid", state.pid},
                             {"pid_start_time", state.pid_start_time},
                             {"sandbox_pid", state.sandbox_pid},
                             {"sandbox_start_time", state.sandbox_start_time},
                             {"created", state.created},
                             {"tier", state.tier},
                             {"image_digest", state.image_digest},
                             {"annotations", state.annotations}};
  if (state.exit_status) document["exit_status"] = *state.exit_status;
  if (!state.engine_netns.empty()) document["engine_netns"] = state.engine_netns;
  return document;
}

ContainerState state_from_json(const nlohmann::json& document, const std::string& origin) {
  try {
    ContainerState state;
    state.id = document.at("id").get<std::string>();
    state.bundle = document.at("bundle").get<std::string>();
    state.status = document.at("status").get<std::string>();
    state.pid = document.value("pid", 0);
    state.pid_start_time = document.value("pid_start_time", std::uint64_t{0});
    state.sandbox_pid = document.value("sandbox_pid", 0);
    state.sandbox_start_time = document.value("sandbox_start_time", std::uint64_t{0});
    state.created = document.value("created", "");
    state.tier = document.value("tier", "");
    state.image_digest = document.value("image_digest", "");
    state.annotations = document.value("annotations", std::map<std::string, std::string>{});
    if (document.contains("exit_status")) state.exit_status = document.at("exit_status").get<int>();
    state.engine_netns = document.value("engine_netns", "");
    return state;
  } catch (const nlohmann::json::exception& error) {
    throw Error(origin + ": not a container state written by tierbox: " + error.what() +
                    " (fix: tierbox oci delete --force the container)",
                exit_code::runner_failed);
  }
}

nlohmann::json to_oci_state(const ContainerState& state) {
  const auto status = current_status(state);
  nlohmann::json document = {{"ociVersion", kOciVersion},
                             {"id", state.id},
                             {"status", status},
                             {"bundle", state.bundle},
                             {"annotations", state.annotations}};
  // The specification: pid is required while created or running.
  if (status == "created" || status == "running" || status == "paused") document["pid"] = state.pid;
  else document["pid"] = 0;
  document["created"] = state.created;
  return document;
}

bool valid_container_id(const std::string& id) {
  if (id.empty() || id.size() > 255 || id.front() == '.') return false;
  for (char c : id)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.'))
      return false;
  return true;
}

void StateStore::create_dir(const std::string& id) const {
  make_private_dirs(root_, "the OCI runtime's --root");
  const auto path = dir(id);
  if (::mkdir(path.c_str(), 0700) != 0) {
    if (errno == EEXIST)
      throw Error("container " + quote(id) + " exists already in " + quote(root_.string()) +
                      " (fix: delete it first, or choose another id)",
                  exit_code::runner_failed);
    throw_sys_error("mkdir(" + quote(path.string()) + ", 0700)");
  }
}

bool StateStore::exists(const std::string& id) const {
  std::error_code ec;
  return std::filesystem::exists(dir(id) / "state.json", ec);
}

ContainerState StateStore::read(const std::string& id) const {
  const auto file = dir(id) / "state.json";
  if (!valid_container_id(id) || !exists(id))
    throw Error("container " + quote(id) + " does not exist in " + quote(root_.string()) +
                    " (fix: check the id and --root)",
                exit_code::runner_failed);
  const auto text = read_regular_file(file.string(), "the container's state", 1 << 20);
  nlohmann::json document;
  try {
    document = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& error) {
    throw Error(file.string() + ": not JSON: " + error.what() + " (fix: tierbox oci delete --force " + id + ")",
                exit_code::runner_failed);
  }
  return state_from_json(document, file.string());
}

void StateStore::write(const ContainerState& state) const {
  write_file_atomically(dir(state.id) / "state.json", to_json(state).dump() + "\n", 0600, Durability::none);
}

void StateStore::remove(const std::string& id) const {
  std::error_code ec;
  std::filesystem::remove_all(dir(id), ec);
  if (ec) throw Error("cannot remove " + quote(dir(id).string()) + ": " + ec.message(), exit_code::runner_failed);
}

std::vector<ContainerState> StateStore::list() const {
  std::vector<ContainerState> states;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(root_, ec)) {
    const auto id = entry.path().filename().string();
    if (!valid_container_id(id) || !exists(id)) continue;
    try {
      states.push_back(read(id));
    } catch (const Error&) {
      // Being written or removed right now, or not tierbox's: not a container to join.
    }
  }
  return states;
}

namespace {

// True while pid is the process that started at start_time and has not
// exited (a zombie has: it waits only for its parent, the engine, to reap it).
bool alive(pid_t pid, std::uint64_t start_time) {
  if (pid <= 0) return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::stringstream text;
  text << stat.rdbuf();
  const auto content = text.str();
  const auto close = content.rfind(')');
  if (close == std::string::npos || close + 2 >= content.size()) return false;
  if (content[close + 2] == 'Z' || content[close + 2] == 'X') return false;
  return parse_process_start_time(content) == start_time;
}

}  // namespace

std::string current_status(const ContainerState& state) {
  if (state.status == "stopped") return state.status;
  return alive(state.pid, state.pid_start_time) ? state.status : "stopped";
}

}  // namespace tierbox::oci
