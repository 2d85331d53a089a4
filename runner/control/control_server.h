// The runner's side of the control socket (control_protocol.h): made while
// the child builds its root (Parent 8), served from the supervision loop
// (Parent 11), removed when the run is over. It authorises each caller by
// the uid the kernel reports for the connection (SO_PEERCRED), carries out
// the action with run_control.h, records it in the run's control state and
// appends a "control" event to the audit log (also for a denied request).
//
// The supervision loop must never stall on a caller: every socket is
// non-blocking, at most kMaxConnections are open at once, and a caller has
// kRequestTimeout to send its one line. Past kMaxConnections a newcomer
// takes the place of a waiting connection that weighs less
// (policy::control_weight: root, an operator, the requester, anyone else),
// else it is answered "busy" and closed: holding connections open keeps no
// one above from stopping the run.
#pragma once

#include <poll.h>
#include <sys/socket.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "common/unique_fd.h"
#include "control/control_protocol.h"
#include "launch/run_registry.h"

namespace tierbox::launch {

class ControlServer {
 public:
  static constexpr std::size_t kMaxConnections = 8;
  static constexpr std::chrono::milliseconds kRequestTimeout{1000};

  struct Settings {
    std::string operators_group;       // tierbox.json operators_group
    std::filesystem::path audit_log;   // where control events go
  };

  // Creates and listens on registry.control_socket(record.run_id) (0666 in
  // a 0755 directory; the state directory is made 0711 so it can be
  // reached). record must outlive the server. Throws SysError.
  ControlServer(const RunRegistry& registry, const RunRecord& record, Settings settings);
  ~ControlServer();  // removes the socket
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  // The fds to poll: the listener, then each open connection.
  void add_poll_fds(std::vector<struct pollfd>& fds) const;
  // After poll: fds are the entries add_poll_fds added, with their revents.
  void handle(const struct pollfd* fds, std::size_t count);
  // When handle_timers() is due next (a caller's time is up, a stop's grace
  // period ends), if anything waits.
  [[nodiscard]] std::optional<std::chrono::steady_clock::time_point> next_deadline() const;
  void handle_timers();

 private:
  struct Connection {
    UniqueFd fd;
    struct ucred peer {};
    int weight = 0;  // policy::control_weight of the peer
    std::string received;
    std::chrono::steady_clock::time_point deadline;
  };

  void accept_connections();
  // Full: drops the oldest of the lightest connections if it weighs less
  // than weight (answered "busy"); false when none does.
  bool make_room_for(int weight);
  // False when the connection is done (answered or dropped).
  bool read_request(Connection& connection);
  nlohmann::json carry_out(const ControlRequest& request, const Connection& connection);
  nlohmann::json act(const ControlRequest& request, const nlohmann::json& by);
  static nlohmann::json peer_identity(const Connection& connection);
  void audit(const ControlRequest& request, const Connection& connection, const nlohmann::json& reply) const;

  const RunRegistry& registry_;
  const RunRecord& record_;
  Settings settings_;
  std::filesystem::path path_;
  UniqueFd listener_;
  std::vector<Connection> connections_;
  std::optional<std::chrono::steady_clock::time_point> kill_at_;  // a stop's grace period ends
};

}  // namespace tierbox::launch
