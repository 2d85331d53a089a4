// The daemon's wire protocol (docs/daemon.md), pure: framing and the parsing
// of what a client sends. Every message is one frame: a 4-byte big-endian
// length, then that many bytes of one JSON object with "tierbox": 1 (the
// protocol version) and "type". fds travel as SCM_RIGHTS with the frame of
// the message that names them (daemon/wire.h). Nothing here trusts the
// client: every field is checked, a bad message is a ProtocolError (with the
// code the error reply carries), never a crash (tools/fuzz).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace tierbox::daemon {

inline constexpr int kProtocolVersion = 1;
// One message, at most: a run request carries argv, the caller's environment
// and its secrets (at most 1 MiB in all, policy::kMaxSecretBytes).
inline constexpr std::size_t kMaxMessageBytes = 4U << 20;
inline constexpr std::size_t kFrameHeaderBytes = 4;
// --bind/--bind-rw sources a run message may carry.
inline constexpr std::size_t kMaxBinds = 16;
// --pass-fd fds a run message may carry (a tier's pass_fds is at most 64).
inline constexpr std::size_t kMaxPassFds = 64;
// fds a message may carry: stdin, stdout, stderr, the workspace, the
// terminal, the binds, the passed fds.
inline constexpr std::size_t kMaxMessageFds = 5 + kMaxBinds + kMaxPassFds;

// The error reply's codes (docs/daemon.md, "Errors").
enum class ErrorCode {
  malformed,      // not a JSON object, a field of the wrong type, a bad value
  too_large,      // the frame's length is over kMaxMessageBytes
  bad_version,    // "tierbox" is not kProtocolVersion
  unknown_type,   // "type" is none this version knows
  out_of_order,   // a message the connection's state does not expect
  timeout,        // nothing (or not all of a frame) arrived in time
  busy,           // a limit (per user or overall) refuses the connection or run
  refused,        // policy refused (the exit message then says why)
  internal,       // the daemon failed
};
std::string_view error_code_name(ErrorCode code);

class ProtocolError : public std::runtime_error {
 public:
  ProtocolError(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  [[nodiscard]] ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

// What the fds that come with a run message are, in their order.
// bind: the source of the next entry of "binds" (one per bind, in order);
// pass: the fd the task gets at the next number of "pass_fds" (--pass-fd);
// tty: the caller's controlling terminal, where a rule requiring confirm
// asks (daemon/caller_terminal.h); never given to the task.
enum class FdRole { stdin_fd, stdout_fd, stderr_fd, workspace, bind, pass, terminal };

// --bind SRC:TARGET / --bind-rw: the source travels as an fd the client
// opened with the caller's rights; the daemon never opens SRC.
struct BindMessage {
  std::string source;  // as the caller typed it (for messages only)
  std::string target;
  bool writable = false;
};

// type "run": what `tierbox run` asks for, minus what only root may choose
// (a profile file, config directories, the audit log, a cgroup parent).
// Who asks is never in it: the daemon reads that from the kernel.
struct RunMessage {
  std::string tier;  // "" = the configured default
  std::vector<std::string> argv;
  std::vector<FdRole> fds;  // the SCM_RIGHTS fds, in order
  std::string cwd;          // the caller's working directory (the record's cwd)
  std::map<std::string, std::string> caller_env;
  std::vector<std::pair<std::string, std::string>> env_overrides;  // --env
  std::vector<std::pair<std::string, std::string>> secrets;        // --secret: name, value (the client read it)
  std::optional<std::string> timeout;                               // --timeout, as typed
  std::optional<std::string> memory, pids, cpu;                     // widening, as typed
  std::vector<std::string> allow_net;
  std::vector<BindMessage> binds;  // one "bind" fd each, in order
  std::vector<int> pass_fds;       // --pass-fd N: the numbers, one "pass" fd each, in order
  bool allow_expired_tier = false;
  std::string grant_name;               // --grant FILE: its name, for the messages
  std::optional<nlohmann::json> grant;  // its document, read by the client as the caller
  bool dry_run = false;  // --dry-run: the plan's text goes to the caller's stdout; nothing launched
  bool verbose = false;  // -v: the launch steps go to the caller's stderr
};

// type "staged": `tierbox changes|apply|rollback|discard RUN` of a caller
// who is not root (the state directory is root's). The daemon decides
// who may (staged/access.h, with the kernel's identity) and writes what the
// command prints to the caller's stdout and stderr, passed with the
// message ("fds": ["stdout", "stderr"]); then an exit message.
struct StagedMessage {
  std::string action;  // changes, apply, rollback, discard
  std::string run_id;
  std::vector<std::string> paths;
  bool json = false, diff = false, yes = false;
  std::string grant_name;                    // apply --grant FILE: its name, for the messages
  std::optional<nlohmann::json> grant;       // its document, read by the client as the caller
  std::vector<FdRole> fds;
};

// type "signal": relay a signal to the task (Ctrl-C, SIGTERM, SIGWINCH...).
struct SignalMessage {
  int signal = 0;
};

// Signals a client may relay: what the direct runner relays
// (launch/supervisor.cpp), and SIGKILL.
bool is_relayable_signal(int signal_number);

// Frame header -> body length; throws ProtocolError(too_large) over the limit.
std::size_t frame_length(const unsigned char (&header)[kFrameHeaderBytes]);
// The frame of a message: header and JSON text.
std::string encode_frame(const nlohmann::json& message);

// Parses a message body: a JSON object of this protocol version with a
// known type (run, staged, signal, exit, error; which one a side expects is its
// business). Throws ProtocolError.
nlohmann::json parse_message(std::string_view body);
std::string message_type(const nlohmann::json& message);
// The name of a fd role in "fds".
std::string_view fd_role_name(FdRole role);
RunMessage parse_run(const nlohmann::json& message);
SignalMessage parse_signal(const nlohmann::json& message);
StagedMessage parse_staged(const nlohmann::json& message);

// The client's staged message (parse_staged reads it back).
nlohmann::json staged_request(const StagedMessage& message);

// The daemon's messages.
// exit_status: tierbox's; result: the run's result object (launch/result.h)
nlohmann::json exit_message(int exit_status, const std::string& error, bool runner_error, const nlohmann::json& result,
                            const std::vector<std::string>& warnings);
nlohmann::json error_message(ErrorCode code, const std::string& message);
// After a dry run: the plan went to the caller's stdout; no result.
nlohmann::json dry_run_exit_message(int exit_status);

}  // namespace tierbox::daemon
