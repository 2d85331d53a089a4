// A container's state under the runtime's --root: ROOT/ID/state.json, written
// by `create` and by the container's supervising tierbox process, read by
// state, start, kill and delete; ROOT/ID/start.fifo is the create/start gate.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace tierbox::oci {

// The OCI runtime specification's version this runtime implements.
inline constexpr const char* kOciVersion = "1.0.2";

struct ContainerState {
  std::string id;
  std::string bundle;
  std::string status;  // creating, created, running, paused, stopped (the specification's names)
  // The supervising tierbox process: the pid engines wait for (its exit
  // status is the container's) and the state's "pid".
  pid_t pid = 0;
  std::uint64_t pid_start_time = 0;
  // The sandbox's init (signals for the container go to it).
  pid_t sandbox_pid = 0;
  std::uint64_t sandbox_start_time = 0;
  std::string created;  // RFC 3339
  std::string tier;
  std::string image_digest;
  std::map<std::string, std::string> annotations;
  std::optional<int> exit_status;
  // A pod's container under a tier with network mode none: the engine's
  // network namespace it was given and did not enter (its sandbox has a
  // loopback-only one of its own, which the pod's other containers join in
  // its place; oci/pod.h). "" otherwise.
  std::string engine_netns;
};

nlohmann::json to_json(const ContainerState& state);
ContainerState state_from_json(const nlohmann::json& document, const std::string& origin);
// The specification's state JSON: ociVersion, id, status, pid, bundle,
// annotations (pid only while created or running).
nlohmann::json to_oci_state(const ContainerState& state);

// A container id: letters, digits, '_', '-', '.', not starting with '.', at
// most 255 characters (it names a directory under --root: NAME_MAX).
bool valid_container_id(const std::string& id);

class StateStore {
 public:
  explicit StateStore(std::filesystem::path root) : root_(std::move(root)) {}
  [[nodiscard]] std::filesystem::path dir(const std::string& id) const { return root_ / id; }
  [[nodiscard]] std::filesystem::path fifo(const std::string& id) const { return dir(id) / "start.fifo"; }
  // Makes ROOT/ID (0700); throws when the id is taken.
  void create_dir(const std::string& id) const;
  [[nodiscard]] bool exists(const std::string& id) const;
  // Throws Error "container ID does not exist" when there is none.
  [[nodiscard]] ContainerState read(const std::string& id) const;
  void write(const ContainerState& state) const;
  void remove(const std::string& id) const;
  // Every container with a state under --root (unreadable ones left out).
  [[nodiscard]] std::vector<ContainerState> list() const;

 private:
  std::filesystem::path root_;
};

// The status now: the recorded one, or "stopped" once the supervising
// process is gone (or a zombie, or another process with its pid).
std::string current_status(const ContainerState& state);

}  // namespace tierbox::oci
