// The daemon's client, used by `tierbox run` when the caller is not root:
// opens what the caller names (its workspace) with the caller's own rights
// and passes the fds, sends its stdio (fds 0-2) with SCM_RIGHTS, relays
// Ctrl-C, SIGTERM and the other relayed signals, and returns the daemon's
// exit message. The caller writes its --result file itself.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "daemon/protocol.h"

namespace tierbox::daemon {

// $TIERBOX_SOCKET, else /run/tierbox/tierbox.sock.
std::filesystem::path client_socket_path();

// --grant FILE of a caller who is not root: the document, read here with the
// caller's rights (the daemon opens no caller-named file). Throws Error (125)
// when it is not a JSON object.
nlohmann::json read_grant_as_caller(const std::string& file);

struct ClientRequest {
  RunMessage message;                       // fds are filled in here
  std::optional<std::filesystem::path> workspace;
};

struct ClientOutcome {
  int exit_status = 0;
  std::string error;  // the one line to print, "" for none
  bool runner_error = false;
  nlohmann::json result;  // the run's result object (launch/result.h)
  bool dry_run = false;   // the daemon wrote the plan to stdout; no result
};
// The client prints the run's warnings (overrides, the workspace review) on
// its stderr as they come, as a direct run would have.

// Throws Error: 125 when the daemon is not running (naming the command that
// starts it) or broke off, 126 when it refused.
ClientOutcome run_through_daemon(const std::filesystem::path& socket_path, ClientRequest request);

// `tierbox changes|apply|rollback|discard RUN` of a caller who is not root:
// sends the message with the caller's stdout and stderr (the daemon prints
// there) and returns the exit status; throws Error with the daemon's one
// line when the command failed or was refused. A Ctrl-C ends the client,
// and with it a wait for approvers.
int staged_through_daemon(const std::filesystem::path& socket_path, StagedMessage message);

}  // namespace tierbox::daemon
