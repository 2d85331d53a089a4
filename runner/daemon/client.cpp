#include "daemon/client.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "approval/confirm.h"
#include "approval/grant_store.h"
#include "common/errors.h"
#include "common/unique_fd.h"
#include "daemon/wire.h"

namespace tierbox::daemon {
namespace {

constexpr int kRelayedSignals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT};

UniqueFd connect_to_daemon(const std::filesystem::path& path) {
  UniqueFd socket(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!socket) throw_sys_error("socket(AF_UNIX, SOCK_STREAM)");
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.string().size() >= sizeof address.sun_path)
    throw Error("TIERBOX_SOCKET " + quote(path.string()) + ": too long for a unix socket path", exit_code::runner_failed);
  std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
  if (::connect(socket.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0) return socket;
  const int error = errno;
  if (error == ENOENT || error == ECONNREFUSED)
    throw Error("the tierbox daemon is not running (no one listens at " + path.string() +
                    "); start it with: sudo systemctl start tierbox.socket (or run this as root)",
                exit_code::runner_failed);
  if (error == EACCES)
    throw Error("connect(" + path.string() + "): " + errno_text(error) +
                    " (fix: ask for membership of the socket's group, tierbox, and log in again)",
                exit_code::runner_failed);
  throw Error("connect(" + path.string() + "): " + errno_text(error), exit_code::runner_failed);
}

[[noreturn]] void throw_refusal(const nlohmann::json& message) {
  const auto code = message.value("code", "");
  throw Error("the tierbox daemon refused: " + message.value("message", std::string("?")) + " (" + code + ")",
              code == "refused" ? exit_code::refused : exit_code::runner_failed);
}

// A --bind source, opened here with the caller's rights: read-only for
// --bind, for --bind-rw a file opened for writing (a directory cannot be:
// the daemon checks its write bits against the caller). Only directories and
// regular files: opening a device or a FIFO could do something by itself.
UniqueFd open_bind_source(const BindMessage& bind) {
  const std::string what = std::string(bind.writable ? "--bind-rw " : "--bind ") + bind.source + ":" + bind.target;
  UniqueFd path(::open(bind.source.c_str(), O_PATH | O_CLOEXEC));
  struct stat st {};
  if (!path || ::fstat(path.get(), &st) != 0)
    throw Error(what + ": " + errno_text(errno) + " (fix: bind a directory or file that exists)", exit_code::runner_failed);
  if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
    throw Error(what + ": only a directory or a regular file can be bound", exit_code::runner_failed);
  const int mode = S_ISDIR(st.st_mode) ? O_RDONLY | O_DIRECTORY : (bind.writable ? O_RDWR : O_RDONLY);
  UniqueFd fd(::open(bind.source.c_str(), mode | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (!fd)
    throw Error(what + ": " + errno_text(errno) + " (fix: bind what you can " +
                    (bind.writable && !S_ISDIR(st.st_mode) ? "write" : "read") + ")",
                exit_code::runner_failed);
  return fd;
}

}  // namespace

nlohmann::json read_grant_as_caller(const std::string& file) {
  auto grant = approval::read_json_document(file);
  if (!grant.is_object())
    throw Error("--grant " + quote(file) + ": not a grant (expected a JSON object; fix: pass the file "
                "`tierbox grant` wrote)", exit_code::runner_failed);
  return grant;
}

std::filesystem::path client_socket_path() {
  if (const char* path = std::getenv("TIERBOX_SOCKET"); path && *path) return path;
  return "/run/tierbox/tierbox.sock";
}

ClientOutcome run_through_daemon(const std::filesystem::path& socket_path, ClientRequest request) {
  // The workspace is opened here, with the caller's rights: what the caller
  // cannot read, the task never gets.
  UniqueFd workspace;
  if (request.workspace) {
    workspace.reset(::open(request.workspace->c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!workspace)
      throw Error("--workspace " + quote(request.workspace->string()) + ": " + errno_text(errno) +
                      " (fix: pass a directory you can read)",
                  exit_code::runner_failed);
  }
  std::vector<UniqueFd> bind_sources;
  for (const auto& bind : request.message.binds) bind_sources.push_back(open_bind_source(bind));
  // Relayed signals wait in a signalfd from here on: a Ctrl-C while
  // connecting is not lost.
  sigset_t relayed;
  sigemptyset(&relayed);
  for (int signal_number : kRelayedSignals) sigaddset(&relayed, signal_number);
  if (::sigprocmask(SIG_BLOCK, &relayed, nullptr) != 0) throw_sys_error("sigprocmask(SIG_BLOCK)");
  UniqueFd signals(::signalfd(-1, &relayed, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!signals) throw_sys_error("signalfd");

  auto socket = connect_to_daemon(socket_path);
  std::vector<int> fds = {0, 1, 2};
  request.message.fds = {FdRole::stdin_fd, FdRole::stdout_fd, FdRole::stderr_fd};
  if (workspace) {
    fds.push_back(workspace.get());
    request.message.fds.push_back(FdRole::workspace);
  }
  for (const auto& source : bind_sources) {
    fds.push_back(source.get());
    request.message.fds.push_back(FdRole::bind);
  }
  // The caller's controlling terminal, where a rule requiring confirm asks
  // (the daemon checks it is ours). Opened for every run: only the daemon
  // knows what the approval matrix decides, and the open costs a few
  // microseconds (docs/daemon.md, "The terminal"); none without one.
  const auto terminal = approval::open_controlling_terminal();
  if (terminal) {
    fds.push_back(terminal.get());
    request.message.fds.push_back(FdRole::terminal);
  }
  nlohmann::json run = {{"tierbox", kProtocolVersion}, {"type", "run"}, {"argv", request.message.argv},
                        {"cwd", request.message.cwd}, {"env", request.message.caller_env}};
  if (!request.message.tier.empty()) run["tier"] = request.message.tier;
  // --pass-fd N: the caller's own fd N, sent as it is (the daemon's child
  // dups it to N in the task).
  for (int number : request.message.pass_fds) {
    fds.push_back(number);
    request.message.fds.push_back(FdRole::pass);
  }
  nlohmann::json roles = nlohmann::json::array();
  for (auto role : request.message.fds) roles.push_back(fd_role_name(role));
  run["fds"] = roles;
  if (!request.message.pass_fds.empty()) run["pass_fds"] = request.message.pass_fds;
  nlohmann::json binds = nlohmann::json::array();
  for (const auto& bind : request.message.binds)
    binds.push_back({{"source", bind.source}, {"target", bind.target}, {"writable", bind.writable}});
  run["binds"] = binds;
  nlohmann::json set_env = nlohmann::json::object();
  for (const auto& [name, value] : request.message.env_overrides) set_env[name] = value;
  run["set_env"] = set_env;
  nlohmann::json secrets = nlohmann::json::object();
  for (const auto& [name, value] : request.message.secrets) secrets[name] = value;
  run["secrets"] = secrets;
  if (request.message.timeout) run["timeout"] = *request.message.timeout;
  if (request.message.memory) run["memory"] = *request.message.memory;
  if (request.message.pids) run["pids"] = *request.message.pids;
  if (request.message.cpu) run["cpu"] = *request.message.cpu;
  run["allow_net"] = request.message.allow_net;
  run["allow_expired_tier"] = request.message.allow_expired_tier;
  if (request.message.dry_run) run["dry_run"] = true;
  if (request.message.grant) {
    run["grant"] = *request.message.grant;
    run["grant_name"] = request.message.grant_name;
  }
  if (!send_frame(socket.get(), run, fds))
    throw Error("the tierbox daemon closed the connection before the request was sent", exit_code::runner_failed);
  workspace.reset();
  bind_sources.clear();

  while (true) {
    pollfd wait[2] = {{socket.get(), POLLIN, 0}, {signals.get(), POLLIN, 0}};
    if (::poll(wait, 2, -1) < 0) {
      if (errno == EINTR) continue;
      throw_sys_error("poll(daemon socket, signalfd)");
    }
    if (wait[1].revents & POLLIN) {
      signalfd_siginfo info{};
      while (::read(signals.get(), &info, sizeof info) == static_cast<ssize_t>(sizeof info))
        (void)send_frame(socket.get(), {{"tierbox", kProtocolVersion}, {"type", "signal"}, {"signal", info.ssi_signo}});
    }
    if (!(wait[0].revents & (POLLIN | POLLHUP | POLLERR))) continue;
    std::optional<ReceivedFrame> frame;
    try {
      frame = receive_frame(socket.get());
    } catch (const ProtocolError& error) {
      throw Error(std::string("the tierbox daemon sent a bad message: ") + error.what(), exit_code::runner_failed);
    }
    if (!frame) throw Error("the tierbox daemon ended the connection before the task ended (it stopped?)", exit_code::runner_failed);
    const auto& message = frame->message;
    const auto type = message_type(message);
    if (type == "error") throw_refusal(message);
    if (type != "exit") continue;
    if (const auto warnings = message.find("warnings"); warnings != message.end() && warnings->is_array())
      for (const auto& line : *warnings)
        if (line.is_string()) std::fprintf(stderr, "tierbox: warning: %s\n", line.get<std::string>().c_str());
    ClientOutcome outcome;
    outcome.exit_status = message.value("exit_status", static_cast<int>(exit_code::runner_failed));
    outcome.error = message.value("error", "");
    outcome.runner_error = message.value("runner_error", false);
    outcome.result = message.value("result", nlohmann::json::object());
    outcome.dry_run = message.value("dry_run", false);
    return outcome;
  }
}

int staged_through_daemon(const std::filesystem::path& socket_path, StagedMessage message) {
  auto socket = connect_to_daemon(socket_path);
  message.fds = {FdRole::stdout_fd, FdRole::stderr_fd};
  if (!send_frame(socket.get(), staged_request(message), {STDOUT_FILENO, STDERR_FILENO}))
    throw Error("the tierbox daemon closed the connection before the request was sent", exit_code::runner_failed);
  // The reply comes when the command is done: an apply may wait for
  // approvers for as long as the rule allows.
  set_socket_timeouts(socket.get(), std::chrono::milliseconds(0), std::chrono::milliseconds(0));
  while (true) {
    std::optional<ReceivedFrame> frame;
    try {
      frame = receive_frame(socket.get());
    } catch (const ProtocolError& error) {
      throw Error(std::string("the tierbox daemon sent a bad message: ") + error.what(), exit_code::runner_failed);
    }
    if (!frame) throw Error("the tierbox daemon ended the connection before the command ended (it stopped?)", exit_code::runner_failed);
    const auto type = message_type(frame->message);
    if (type == "error") throw_refusal(frame->message);
    if (type != "exit") continue;
    const int status = frame->message.value("exit_status", static_cast<int>(exit_code::runner_failed));
    const auto error = frame->message.value("error", "");
    if (!error.empty()) throw Error(error, status);
    return status;
  }
}

}  // namespace tierbox::daemon
