#include "daemon/session.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <pthread.h>

#include <algorithm>
#include <csignal>
#include <thread>

#include "audit/audit_log.h"
#include "audit/records.h"
#include "common/errors.h"
#include "common/logging.h"
#include "common/thread_signals.h"
#include "daemon/caller_terminal.h"
#include "daemon/wire.h"
#include "launch/result.h"
#include "policy/planner.h"
#include "service/dry_run_report.h"
#include "service/task_options.h"
#include "common/files.h"
#include "staged/command.h"

namespace tierbox::daemon {
namespace {

int pidfd_open(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }
int pidfd_send_signal(int pidfd, int signal_number) {
  return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, signal_number, nullptr, 0));
}

// Whether the caller may write to the directory st describes, as the kernel
// decides without ACLs: the owner's bits for the owner, else the group's for
// a member, else the others'. A directory with an access ACL is writable
// only by its owner here (an ACL may deny a named user what the group bits
// allow): fail closed.
bool caller_may_write(int fd, const struct stat& st, const PeerIdentity& peer) {
  if (peer.uid == 0) return true;
  if (st.st_uid == peer.uid) return (st.st_mode & S_IWUSR) != 0;
  char probe;
  const bool has_acl = ::fgetxattr(fd, "system.posix_acl_access", &probe, 0) >= 0;
  if (has_acl) return false;
  const bool member = st.st_gid == peer.gid ||
                      std::find(peer.groups.begin(), peer.groups.end(), st.st_gid) != peer.groups.end();
  if (member) return (st.st_mode & S_IWGRP) != 0;
  return (st.st_mode & S_IWOTH) != 0;
}

// A --bind-rw of a caller who is not root is mounted id-mapped, its owner
// and group becoming the task's (stages/prepared_mounts.cpp), as the
// workspace is (policy::tree_ownership): the task's files there are the
// caller's, not the run's slot uid's (which a later run of another user may
// get); through the mapping the kernel lets the task write nothing whose
// owner or group it does not name (what others own there stays read-only).
void check_writable_bind_owner(const struct stat& st, const PeerIdentity& peer, const std::string& what) {
  const std::string who = peer.user_name.empty() ? "uid " + std::to_string(peer.uid) : peer.user_name;
  switch (policy::tree_ownership(st.st_uid, st.st_gid, peer.uid, peer.gid, peer.groups)) {
    case policy::TreeOwnership::callers: return;
    case policy::TreeOwnership::other_owner:
      throw Error(what + ": owned by uid " + std::to_string(st.st_uid) + ", not by " + who +
                      "; the task writes there as its owner (an id-mapped mount), so only the owner may bind it "
                      "writable through the daemon (fix: bind a directory or file you own, or use --bind)",
                  exit_code::refused);
    case policy::TreeOwnership::other_group:
      throw Error(what + ": its group is gid " + std::to_string(st.st_gid) + ", which " + who +
                      " is not in; the task takes that group there (an id-mapped mount) (fix: chgrp it to a group of yours)",
                  exit_code::refused);
  }
}

std::string fd_path(int fd) {
  char link[64];
  std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  std::string path(4096, '\0');
  const ssize_t n = ::readlink(link, path.data(), path.size());
  if (n < 0) throw_sys_error(std::string("readlink(") + link + ")");
  path.resize(static_cast<std::size_t>(n));
  return path;
}

// An fd the client opened for reading, as the kernel checked against the
// caller's rights: an O_PATH (or write-only) fd proves nothing, since
// opening one needs no read permission. Returns its stat.
struct stat opened_for_reading(int fd, const std::string& what) {
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0) throw_sys_error("fcntl(" + what + " fd, F_GETFL)");
  if ((flags & O_PATH) == O_PATH || ((flags & O_ACCMODE) != O_RDONLY && (flags & O_ACCMODE) != O_RDWR))
    throw Error(what + ": the fd must be opened for reading (O_RDONLY), not O_PATH: only then did the kernel check "
                       "that you may read it",
                exit_code::refused);
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw_sys_error("fstat(" + what + " fd)");
  return st;
}

// Before the daemon writes into any fd of a caller's (a staged command's
// output, a dry run's plan, the "waiting for approval" line, a relayed
// output under limits.output): a pipe whose reader has gone must cost an
// EPIPE, not the daemon (SIGPIPE's default kills it, and every user's runs
// with it; a shell leaves the default). Blocked on the session's thread
// from its start, so every thread it starts (the run's, the output relay's)
// inherits the mask: a blocked SIGPIPE from a write is directed at the
// writing thread, stays pending and goes with the thread. A task still gets
// the default: its process unblocks every signal before exec
// (launch/exec_start.cpp), as a prepared sandbox's must.
void block_sigpipe_on_session_thread() {
  if (const int error = block_sigpipe_on_this_thread(); error != 0)
    throw SysError(error, "pthread_sigmask(SIG_BLOCK, SIGPIPE)");
}

}  // namespace

void Session::serve() noexcept {
  try {
    block_sigpipe_on_session_thread();
    serve_connection();
  } catch (const std::exception& error) {
    logging::error("daemon: connection of uid {}: {}", peer_.uid, error.what());
    record("internal_error", error.what());
  }
}

void Session::stop_locked(const std::string& reason) {
  if (stop_reason_.empty()) stop_reason_ = reason;
  if (sandbox_init_) pidfd_send_signal(sandbox_init_.get(), SIGKILL);
  if (cancel_) {
    const std::uint64_t one = 1;
    (void)!::write(cancel_.get(), &one, sizeof one);
  }
}

void Session::stop(const std::string& reason) {
  std::lock_guard lock(mutex_);
  stop_locked(reason);
  // Wakes a read of the request or the watch of the client.
  ::shutdown(socket_.get(), SHUT_RDWR);
}

void Session::record(const std::string& action, const std::string& detail) const noexcept {
  try {
    const audit::AuditLog log(context_.audit_log, context_.audit_syslog);
    (void)log.append(audit::daemon_record(caller(), peer_.pid, action, detail));
  } catch (const std::exception& error) {
    logging::warn("daemon: the {} of uid {} could not be recorded: {}", action, peer_.uid, error.what());
  }
}

void Session::record_refusal(const std::string& action, const std::string& kind, const std::string& detail) const noexcept {
  if (!context_.refusals) return record(action, detail);
  context_.refusals->refused(caller(), peer_.pid, action, kind, detail);
}

void Session::refuse(ErrorCode code, const std::string& message, bool admitted) {
  const bool refusal = code == ErrorCode::busy || code == ErrorCode::refused;
  const std::string action = refusal ? "refused" : "protocol_error";
  const std::string detail = std::string(error_code_name(code)) + ": " + message;
  // A run that was admitted and launched is never held by the budget.
  if (admitted)
    record(action, detail);
  else
    record_refusal(action, std::string(error_code_name(code)), detail);
  std::lock_guard lock(mutex_);
  (void)send_frame(socket_.get(), error_message(code, message));
}

void Session::serve_connection() {
  peer_ = read_peer_identity(socket_.get());
  if (const auto refusal = context_.limits->admit_connection(peer_.uid); !refusal.empty()) {
    set_socket_timeouts(socket_.get(), std::chrono::milliseconds(0), std::chrono::milliseconds(100));
    refuse(ErrorCode::busy, refusal);
    return;
  }
  logging::step("daemon: connection of uid {} admitted; waiting for its request", peer_.uid);
  bool pending = true;
  const auto release = [&] {
    if (pending) context_.limits->connection_done(peer_.uid);
    pending = false;
  };
  // The fds a message names came with it, and the run limits let it in (the
  // pending connection becomes a run); false when refused.
  const auto admit = [&](std::size_t named_fds, std::size_t received_fds) {
    if (received_fds != named_fds)
      throw ProtocolError(ErrorCode::malformed, "\"fds\" names " + std::to_string(named_fds) + " fds, " +
                                                    std::to_string(received_fds) + " came with the message");
    if (const auto refusal = context_.limits->admit_run(peer_.uid); !refusal.empty()) {
      release();
      refuse(ErrorCode::busy, refusal);
      return false;
    }
    pending = false;
    return true;
  };
  // Serves an admitted message; the run it counted as ends with it, however.
  const auto serve_admitted = [&](const auto& serve) {
    try {
      serve();
    } catch (...) {
      context_.limits->run_done(peer_.uid);
      throw;
    }
    context_.limits->run_done(peer_.uid);
  };
  try {
    set_socket_timeouts(socket_.get(), context_.request_timeout, context_.request_timeout);
    // The whole request within the timeout, counted from the connection.
    auto frame = receive_frame(socket_.get(), std::chrono::steady_clock::now() + context_.request_timeout);
    if (!frame) {
      record_refusal("no_request", "no_request", "the client closed the connection without a request");
      release();
      return;
    }
    const auto type = message_type(frame->message);
    if (type != "run" && type != "staged")
      throw ProtocolError(ErrorCode::out_of_order, "expected a run or staged message first, got " + type);
    // A staged apply may wait for approvers as long as a run: both count as one.
    if (type == "staged") {
      const auto staged_message = parse_staged(frame->message);
      if (!admit(staged_message.fds.size(), frame->fds.size())) return;
      serve_admitted([&] { staged(staged_message, std::move(frame->fds)); });
      return;
    }
    auto message = parse_run(frame->message);
    logging::step("daemon: run request of uid {} received", peer_.uid);
    if (!admit(message.fds.size(), frame->fds.size())) return;
    serve_admitted([&] { run(message, std::move(frame->fds)); });
  } catch (const ProtocolError& error) {
    release();
    refuse(error.code(), error.what());
  } catch (const Error& error) {
    release();
    refuse(error.exit_status() == exit_code::refused ? ErrorCode::refused : ErrorCode::internal, error.what());
  }
}

void Session::staged(const StagedMessage& message, std::vector<UniqueFd> fds) {
  // What the command prints goes to the caller's own fds; unpassed ones to
  // /dev/null. The FILEs own their fds from here.
  std::FILE* streams[2] = {nullptr, nullptr};
  for (std::size_t i = 0; i < message.fds.size(); ++i) {
    const std::size_t which = message.fds[i] == FdRole::stdout_fd ? 0 : 1;
    streams[which] = ::fdopen(fds[i].get(), "w");
    if (!streams[which]) throw_sys_error("fdopen(the caller's " + std::string(which == 0 ? "stdout" : "stderr") + ")");
    (void)fds[i].release();
  }
  for (auto& stream : streams)
    if (!stream && !(stream = std::fopen("/dev/null", "we"))) throw_sys_error("fopen(/dev/null)");
  struct CloseStreams {
    std::FILE* (&streams)[2];
    ~CloseStreams() {
      for (auto* stream : streams) std::fclose(stream);
    }
  } close_streams{streams};

  staged::StagedCommand command;
  command.action = message.action == "changes"    ? staged::StagedAction::see
                   : message.action == "apply"    ? staged::StagedAction::apply
                   : message.action == "rollback" ? staged::StagedAction::rollback
                                                  : staged::StagedAction::discard;
  command.run_id = message.run_id;
  command.paths = message.paths;
  command.json = message.json;
  command.diff = message.diff;
  command.yes = message.yes;
  command.grant_file = message.grant ? message.grant_name : "";
  command.grant_document = message.grant;
  // A wait for approvers ends when the client sends anything (a relayed
  // Ctrl-C) or goes away: the socket turns readable.
  command.cancel_fd = socket_.get();
  staged::OperationSettings settings;
  settings.config_dirs = context_.run_settings.config_dirs;
  settings.audit_log = context_.audit_log.string();
  // Who asks: the kernel's word, as for a run.
  settings.caller_uid = peer_.uid;
  settings.caller = caller();
  settings.state_dir = context_.run_settings.state_dir;
  // A refused apply (no changes, applied already) is refused at once: its
  // record is within the caller's budget, as a refused connection's.
  if (context_.refusals)
    settings.record_refusal = [this](const nlohmann::json& record) {
      context_.refusals->refused(caller(), "apply_refused", {record});
    };
  int status = 0;
  std::string error;
  try {
    status = staged::run_staged_command(command, settings, streams[0], streams[1]);
  } catch (const Error& failure) {
    status = failure.exit_status();
    error = failure.what();
    // Refusals the operations do not record themselves (who may see a run):
    // the attempt stays in the trail.
    if (status == exit_code::refused)
      record_refusal("refused", "refused", "tierbox " + message.action + " " + message.run_id + ": " + error);
  }
  std::fflush(streams[0]);
  std::fflush(streams[1]);
  std::lock_guard lock(mutex_);
  (void)send_frame(socket_.get(), exit_message(status, error, !error.empty(), nlohmann::json::object(), {}));
}

policy::TaskRequest Session::make_request(const RunMessage& message, const std::optional<policy::FileIdentity>& workspace,
                                          const std::string& workspace_path, bool workspace_writable) const {
  policy::TaskRequest request;
  service::TypedOptions typed;
  typed.timeout = message.timeout.value_or("");
  typed.env = message.env_overrides;
  typed.allow_net = message.allow_net;
  typed.memory = message.memory.value_or("");
  typed.pids = message.pids.value_or("");
  typed.cpu = message.cpu.value_or("");
  service::apply_typed_options(typed, request);
  if (!message.tier.empty()) request.tier = message.tier;
  if (workspace) {
    request.workspace = workspace_path;
    request.workspace_opened = workspace;
    request.workspace_writable_by_caller = workspace_writable;
  }
  request.secrets = message.secrets;
  request.argv = message.argv;
  request.allow_expired_tier = message.allow_expired_tier;
  request.caller_env = message.caller_env;
  // Who asks: the kernel's word, never the message's.
  request.caller.uid = peer_.uid;
  request.caller.gid = peer_.gid;
  request.caller.user_name = peer_.user_name;
  request.caller.groups = peer_.groups;
  request.caller.through_daemon = true;
  request.caller_cwd = message.cwd;
  return request;
}

void Session::on_start(pid_t pid) {
  std::lock_guard lock(mutex_);
  // The client went away (or the daemon stops) before the task started.
  if (!stop_reason_.empty()) throw Error(stop_reason_, exit_code::runner_failed);
  // Asked, if at all: the daemon keeps nothing of the caller's terminal
  // while the task runs.
  caller_terminal_.reset();
  // Our own child, not yet reaped: the pid cannot have been recycled.
  sandbox_init_.reset(pidfd_open(pid));
  if (!sandbox_init_) throw_sys_error("pidfd_open(" + std::to_string(pid) + ")");
}

std::string Session::read_client_message() {
  try {
    // The socket turned readable: the message began; all of it within the
    // timeout (a run's watch reads nothing else meanwhile).
    auto frame = receive_frame(socket_.get(), std::chrono::steady_clock::now() + context_.request_timeout);
    if (!frame) return "the client disconnected";
    if (message_type(frame->message) != "signal")
      throw ProtocolError(ErrorCode::out_of_order, "a run is going on: only signal messages are expected");
    const auto signal = parse_signal(frame->message);
    std::lock_guard lock(mutex_);
    if (sandbox_init_) {
      pidfd_send_signal(sandbox_init_.get(), signal.signal);
    } else if (signal.signal == SIGINT || signal.signal == SIGTERM || signal.signal == SIGHUP ||
               signal.signal == SIGKILL) {
      // Before the task started (the caller pressed Ctrl-C at the
      // confirmation question, or while it waits for approvers): the run
      // is cancelled, as the direct runner's would be; the client stays to
      // be told so.
      stop_locked("stopped: the client cancelled the run before it started (signal " + std::to_string(signal.signal) + ")");
    }
    return "";
  } catch (const ProtocolError& error) {
    // A client that breaks the protocol mid-run loses its run: nothing it
    // sends after this can be trusted to mean what it says.
    refuse(error.code(), error.what(), true);
    return "the client broke the protocol (" + std::string(error.what()) + ")";
  }
}

void Session::watch_client(int done_fd) {
  bool watching = true;
  while (true) {
    // The client's pidfd (SO_PEERPIDFD, Linux 6.5+) as well as its socket: a
    // client that dies while a process it started still holds the socket
    // has gone all the same.
    pollfd fds[3] = {{done_fd, POLLIN, 0},
                     {watching ? socket_.get() : -1, POLLIN, 0},
                     {watching ? peer_.pidfd.get() : -1, POLLIN, 0}};
    if (::poll(fds, 3, -1) < 0) {
      if (errno == EINTR) continue;
      throw_sys_error("poll(run done, client socket, client pidfd)");
    }
    if (fds[0].revents & POLLIN) return;
    std::string gone;
    if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) gone = read_client_message();
    if (gone.empty() && (fds[2].revents & POLLIN))
      gone = "the client disconnected (it exited; another process still holds its socket)";
    if (gone.empty()) continue;
    watching = false;
    std::lock_guard lock(mutex_);
    connected_ = false;
    stop_locked("stopped: " + gone);
  }
}

void Session::run(const RunMessage& message, std::vector<UniqueFd> fds) {
  std::array<int, 3> stdio{-1, -1, -1};
  std::optional<policy::FileIdentity> workspace;
  std::string workspace_path;
  bool workspace_writable = false;
  std::vector<policy::ExtraBind> binds;
  std::vector<int> pass_fd_sources;  // one per message.pass_fds, in order
  int terminal = -1;                 // the caller's controlling terminal, -1: none passed
  dev_t terminal_device = 0;
  for (std::size_t i = 0; i < message.fds.size(); ++i) {
    const int fd = fds[i].get();
    switch (message.fds[i]) {
      case FdRole::stdin_fd: stdio[0] = fd; break;
      case FdRole::stdout_fd: stdio[1] = fd; break;
      case FdRole::stderr_fd: stdio[2] = fd; break;
      case FdRole::workspace: {
        // The client opened it with its own rights: it can read it. The
        // daemon opens nothing by the name the client gave.
        const auto st = opened_for_reading(fd, "--workspace");
        if (!S_ISDIR(st.st_mode)) throw Error("--workspace: not a directory", exit_code::refused);
        workspace = policy::FileIdentity{st.st_dev, st.st_ino};
        workspace_path = fd_path(fd);
        workspace_writable = caller_may_write(fd, st, peer_);
        break;
      }
      case FdRole::bind: {
        // The next --bind source, opened by the client as the caller: a
        // directory or a regular file it may read, and for --bind-rw one it
        // may write (a file opened O_RDWR; a directory as the kernel would
        // decide). The mount is checked to be this very inode.
        const auto& asked = message.binds[binds.size()];
        const std::string what = std::string(asked.writable ? "--bind-rw " : "--bind ") + asked.source + ":" + asked.target;
        const auto st = opened_for_reading(fd, what);
        if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
          throw Error(what + ": only a directory or a regular file can be bound", exit_code::refused);
        if (asked.writable) {
          const bool may_write = S_ISDIR(st.st_mode) ? caller_may_write(fd, st, peer_)
                                                     : (::fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDWR;
          if (!may_write)
            throw Error(what + ": not writable by " + (peer_.user_name.empty() ? "uid " + std::to_string(peer_.uid) : peer_.user_name) +
                            " (fix: bind a directory or file you can write to, or use --bind)",
                        exit_code::refused);
        }
        policy::ExtraBind bind{fd_path(fd), asked.target, asked.writable, policy::FileIdentity{st.st_dev, st.st_ino}};
        // Root's own binds stay as a direct run's: mapped, a task of root's
        // could leave set-user-ID root files on the host.
        if (asked.writable && peer_.uid != 0) {
          check_writable_bind_owner(st, peer_, what);
          bind.idmap_from_uid = st.st_uid;
          bind.idmap_from_gid = st.st_gid;
        }
        binds.push_back(std::move(bind));
        break;
      }
      case FdRole::pass:
        // --pass-fd: the caller's own fd, whatever it is; the planner checks
        // it (never a directory or O_PATH fd) and the tier's pass_fds count,
        // and the sandbox's child puts it at the caller's number.
        pass_fd_sources.push_back(fd);
        break;
      case FdRole::terminal: {
        // Where a rule requiring confirm asks: only the caller's own
        // controlling terminal (checked before anything is written to it).
        check_caller_terminal(fd, peer_);
        terminal_device = terminal_device_of(fd).value_or(0);
        std::lock_guard lock(mutex_);
        caller_terminal_ = std::move(fds[i]);
        terminal = caller_terminal_.get();
        break;
      }
    }
  }
  UniqueFd null_fd;
  for (auto& fd : stdio) {
    if (fd >= 0) continue;
    if (!null_fd) null_fd.reset(::open("/dev/null", O_RDWR | O_CLOEXEC));
    if (!null_fd) throw_sys_error("open(/dev/null)");
    fd = null_fd.get();
  }
  {
    std::lock_guard lock(mutex_);
    cancel_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!cancel_) throw_sys_error("eventfd(cancel)");
    if (!stop_reason_.empty()) stop_locked(stop_reason_);  // stopped while the request was read
  }
  service::TaskInput input;
  input.cancel_fd = cancel_.get();
  input.terminal_fd = terminal;
  if (terminal >= 0)
    input.terminal_in_foreground = [this, terminal_device] { return caller_in_foreground(peer_, terminal_device); };
  input.tier = message.tier;
  input.argv = message.argv;
  input.make_request = [&] {
    auto request = make_request(message, workspace, workspace_path, workspace_writable);
    request.binds.insert(request.binds.end(), binds.begin(), binds.end());
    request.pass_fds = message.pass_fds;
    request.pass_fd_sources = pass_fd_sources;
    return request;
  };
  input.requester = service::TaskInput::Requester{caller(), message.cwd};
  // A request the policy refuses (an unknown tier, a bind the tier does not
  // widen to) or the approval matrix denies with no one asked (a deny rule,
  // a confirm rule with no terminal) costs the caller one connection and no
  // sandbox: its records are within the caller's budget, as a refused
  // connection's.
  if (context_.refusals)
    input.record_refusal = [this](std::vector<nlohmann::json> records, const std::string& kind) {
      context_.refusals->refused(caller(), kind, records);
    };
  input.stdio = stdio;
  input.relay_signals = false;
  input.on_start = [this](pid_t pid) { on_start(pid); };
  input.stop_reason = [this] {
    std::lock_guard lock(mutex_);
    return stop_reason_;
  };

  UniqueFd done(::eventfd(0, EFD_CLOEXEC));
  if (!done) throw_sys_error("eventfd");
  service::TaskResult result;
  std::thread runner([&] {
    try {
      auto settings = context_.run_settings;
      settings.dry_run = message.dry_run;
      // The grant the client read as the caller; the daemon opens no file.
      settings.grant_file = message.grant ? message.grant_name : "";
      settings.grant_document = message.grant;
      result = service::run_task(input, settings, *context_.launcher);
    } catch (const std::exception& error) {
      result.runner_error = true;
      result.context.exit_status = exit_code::runner_failed;
      result.context.error = std::string("internal error: ") + error.what();
    }
    const std::uint64_t one = 1;
    (void)!::write(done.get(), &one, sizeof one);
  });
  try {
    watch_client(done.get());
  } catch (...) {
    stop("the daemon failed watching the client");
    runner.join();
    throw;
  }
  runner.join();
  if (context_.on_run_end) context_.on_run_end();
  std::lock_guard lock(mutex_);
  sandbox_init_.reset();
  if (!connected_) return;
  if (result.dry_run) {
    // The plan's text, as `tierbox run --dry-run` prints it, on the
    // caller's stdout (its own fd, passed with the request).
    const auto report = service::dry_run_report(*result.dry_run);
    try {
      write_all(stdio[1], report.text, "the caller's stdout");
    } catch (const Error& error) {
      (void)send_frame(socket_.get(), exit_message(exit_code::runner_failed, error.what(), true, nlohmann::json(), {}));
      return;
    }
    (void)send_frame(socket_.get(), dry_run_exit_message(report.exit_status));
    return;
  }
  const auto result_json = launch::make_result(result.context, result.outcome);
  (void)send_frame(socket_.get(), exit_message(result.exit_status(), result.context.error, result.runner_error, result_json,
                                                         result.warnings));
}

}  // namespace tierbox::daemon
