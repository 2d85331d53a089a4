// One client connection of the daemon, served on a thread of its own: the
// caller's identity from the kernel, its one run request (or an error reply
// and an audit record), the run through service::run_task() with the
// caller's stdio, the signals it relays, and the exit message. A client that
// goes away stops its task (the end record says so).
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <mutex>
#include <string>

#include "common/unique_fd.h"
#include "daemon/limits.h"
#include "daemon/peer.h"
#include "daemon/protocol.h"
#include "daemon/refusal_records.h"
#include "service/launcher.h"
#include "service/run_task.h"

namespace tierbox::daemon {

// What every session shares; owned by the server.
struct DaemonContext {
  service::RunSettings run_settings;  // config dirs, audit log, state dir
  std::filesystem::path audit_log;    // resolved: the daemon's own records go there too
  std::string audit_syslog;
  service::Launcher* launcher = nullptr;
  Limits* limits = nullptr;
  // Refused connections' records, within each caller's budget; none: each
  // recorded one by one.
  RefusalRecords* refusals = nullptr;
  std::chrono::milliseconds request_timeout{10000};  // for the request, and for any frame begun later
  // After each run's launch returned (the -v log of the warm pool's counts);
  // must not throw.
  std::function<void()> on_run_end;
};

class Session {
 public:
  Session(UniqueFd socket, const DaemonContext& context) : socket_(std::move(socket)), context_(context) {}
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // The whole connection; never throws.
  void serve() noexcept;
  // From the server (the daemon stops): kills the task, if any, and ends
  // the connection; reason goes into the end record.
  void stop(const std::string& reason);

 private:
  void serve_connection();
  void run(const RunMessage& message, std::vector<UniqueFd> fds);
  // changes, apply, rollback, discard of a staged run, as the kernel's caller.
  void staged(const StagedMessage& message, std::vector<UniqueFd> fds);
  policy::TaskRequest make_request(const RunMessage& message, const std::optional<policy::FileIdentity>& workspace,
                                   const std::string& workspace_path, bool workspace_writable) const;
  void watch_client(int done_fd);
  // One message from the client during its run (a signal is relayed): ""
  // while it stays, else why it has gone.
  std::string read_client_message();
  // Sends the error and records it; within the caller's budget of refusal
  // records (daemon/refusal_budget.h) unless the run was already admitted.
  void refuse(ErrorCode code, const std::string& message, bool admitted = false);
  void record(const std::string& action, const std::string& detail) const noexcept;
  // The caller as every record of this connection names it (from the kernel).
  [[nodiscard]] audit::Identity caller() const { return audit::Identity{peer_.uid, peer_.user_name, ""}; }
  // A record of a connection that never became a run: within the budget.
  void record_refusal(const std::string& action, const std::string& kind, const std::string& detail) const noexcept;
  void on_start(pid_t pid);
  // With mutex_ held: records why, kills the sandbox if it started, and
  // cancels a wait for approvers.
  void stop_locked(const std::string& reason);

  UniqueFd socket_;
  const DaemonContext& context_;
  PeerIdentity peer_;
  std::mutex mutex_;            // guards what follows, and sends
  UniqueFd sandbox_init_;       // pidfd of the run's sandbox init, once it started
  UniqueFd cancel_;             // eventfd: written when the run is stopped (cancels a wait for approvers)
  UniqueFd caller_terminal_;    // the caller's "tty" fd until the task starts (a confirmation asks there)
  std::string stop_reason_;     // why the task was stopped, "" if it was not
  bool connected_ = true;
};

}  // namespace tierbox::daemon
