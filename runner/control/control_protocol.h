// The runner's control socket (docs/incident-response.md, "How commands
// reach a run"): STATE_DIR/control/<run_id>.sock, served by the run's own
// runner while it supervises. Any local user may connect; the runner learns
// who they are from the kernel (SO_PEERCRED), never from what they send, and
// decides with policy/control_permission.h. This is how a user who is not
// root (an operator, a run's requester) controls a run: STATE_DIR/runs is
// root's alone.
//
// One request per connection, one line, at most kMaxRequest bytes:
//   status | stop GRACE_MS | kill | freeze | thaw | isolate | panic [kill]
// One reply, a JSON line: {"result": "ok" | "denied" | "failed", "detail":
// "one line", "run": {a `ps --json` row, for status}}.
#pragma once

#include <chrono>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "launch/run_registry.h"
#include "policy/control_permission.h"

namespace tierbox::launch {

struct ControlRequest {
  policy::ControlAction action = policy::ControlAction::status;
  std::chrono::milliseconds grace{0};  // stop
  bool kill = false;                   // panic kill
};

inline constexpr std::size_t kMaxControlRequest = 64;
// A stop's grace period through the socket is capped (a day): the runner
// keeps the deadline.
inline constexpr std::chrono::milliseconds kMaxGrace{24LL * 3600 * 1000};

// The line without its newline; nullopt when it is not a valid request.
std::optional<ControlRequest> parse_control_request(std::string_view line);
std::string format_control_request(const ControlRequest& request);

// --- The client's side (a tierbox command run by a user who is not root) ---

// Run ids that have a control socket (their runner is, or was, serving).
std::vector<std::string> runs_with_control_sockets(const RunRegistry& registry);

// Sends request to the run's runner and returns its reply. Throws Error
// (125) when no runner answers within timeout (the run has ended, or its
// runner is gone).
nlohmann::json ask_runner(const RunRegistry& registry, const std::string& run_id, const ControlRequest& request,
                          std::chrono::milliseconds timeout);

// Until the run's control socket is gone (its runner has cleaned up and
// exited); false on timeout.
bool wait_until_socket_gone(const RunRegistry& registry, const std::string& run_id, std::chrono::milliseconds timeout);

}  // namespace tierbox::launch
