// Frames over the daemon's unix socket, with the fds that travel with them
// (SCM_RIGHTS), for both the daemon and its client. Blocking I/O bounded by
// the socket's SO_RCVTIMEO/SO_SNDTIMEO: a silent or stuck peer costs only
// its own connection (its thread), never the daemon.
#pragma once

#include <chrono>
#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/unique_fd.h"

namespace tierbox::daemon {

struct ReceivedFrame {
  nlohmann::json message;
  std::vector<UniqueFd> fds;  // close-on-exec, in the order sent
};

// Sets SO_RCVTIMEO and SO_SNDTIMEO (0: none).
void set_socket_timeouts(int socket_fd, std::chrono::milliseconds receive, std::chrono::milliseconds send);

// Sends one frame, and fds (SCM_RIGHTS) with its first byte. Returns false
// when the peer is gone or the send timed out.
bool send_frame(int socket_fd, const nlohmann::json& message, const std::vector<int>& fds = {});

// Receives one frame: nullopt on a clean EOF before it began. Throws
// ProtocolError (timeout, too_large, malformed, bad_version, unknown_type),
// or ProtocolError(malformed) for EOF inside a frame or more fds than
// kMaxMessageFds. deadline: when the whole frame must have come (timeout
// past it). SO_RCVTIMEO bounds one read only: a peer that sends a byte
// now and then would otherwise hold the connection for ever.
std::optional<ReceivedFrame> receive_frame(
    int socket_fd, std::optional<std::chrono::steady_clock::time_point> deadline = std::nullopt);

}  // namespace tierbox::daemon
