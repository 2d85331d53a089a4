#include "cli/oci_exec.h"

#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>

#include "audit/audit_log.h"
#include "cli/oci_args.h"
#include "cli/oci_control.h"
#include "common/errors.h"
#include "common/fd_passing.h"
#include "common/files.h"
#include "common/unique_fd.h"
#include "common/users.h"
#include "launch/exec_protocol.h"
#include "oci/console.h"
#include "oci/spec.h"
#include "oci/state.h"
#include "policy/profile_loader.h"
#include "policy/runner_config.h"

namespace tierbox::cli::oci_exec {
namespace {

using nlohmann::json;

struct Options {
  std::string process_file;
  std::string console_socket;
  std::string pid_file;
  bool tty = false;
  bool detach = false;
  std::string cwd;
  std::vector<std::string> env;
  std::string user;
  std::vector<std::string> capabilities;
  std::string id;
  std::vector<std::string> argv;
};

[[noreturn]] void usage(const std::string& text) {
  throw Error("exec: " + text +
                  " (usage: exec [--process FILE] [--tty] [--console-socket SOCKET] [--pid-file FILE] [--detach] "
                  "[--cwd DIR] [--env NAME=VALUE] [--user UID[:GID]] [--cap CAP] ID [ARGS...]; docs/cli.md)",
              exit_code::runner_failed);
}

Options parse_options(const std::vector<std::string>& args) {
  Options options;
  std::size_t i = 0;
  const auto value = [&](const std::string& name, std::string& out) {
    return take_value(args, i, name, out, usage);
  };
  for (; i < args.size(); ++i) {
    const auto& arg = args[i];
    if (arg.empty() || arg[0] != '-') break;
    std::string text;
    if (value("--process", options.process_file) || value("-p", options.process_file) ||
        value("--console-socket", options.console_socket) || value("--pid-file", options.pid_file) ||
        value("--cwd", options.cwd) || value("--user", options.user) || value("-u", options.user))
      continue;
    if (value("--env", text) || value("-e", text)) {
      options.env.push_back(text);
      continue;
    }
    if (value("--cap", text) || value("-c", text)) {
      options.capabilities.push_back(text.rfind("CAP_", 0) == 0 ? text : "CAP_" + text);
      continue;
    }
    if (value("--preserve-fds", text)) {
      if (text != "0") usage("--preserve-fds " + text + ": not supported");
      continue;
    }
    // Labels tierbox does not apply (as for the container's own process).
    if (value("--apparmor", text) || value("--process-label", text)) continue;
    if (arg == "--tty" || arg == "-t") options.tty = true;
    else if (arg == "--detach" || arg == "-d") options.detach = true;
    else if (arg == "--no-new-privs") continue;  // always
    else if (arg == "--") {
      ++i;
      break;
    } else usage("unknown option " + quote(arg));
  }
  if (i >= args.size()) usage("needs a container id");
  options.id = args[i++];
  options.argv.assign(args.begin() + static_cast<long>(i), args.end());
  if (options.process_file.empty() && options.argv.empty()) usage("needs --process FILE or the command to run");
  if (!options.process_file.empty() && !options.argv.empty()) usage("--process and a command: give one of them");
  return options;
}

// The process object: from --process, else built from the options as runc does.
json process_json(const Options& options) {
  if (!options.process_file.empty()) {
    const auto text = read_regular_file(options.process_file, "exec's process.json", 4 << 20);
    try {
      return json::parse(text);
    } catch (const json::exception& error) {
      throw Error(options.process_file + ": not JSON: " + error.what() + " (fix: write the process as JSON)",
                  exit_code::runner_failed);
    }
  }
  json process = {{"args", options.argv},
                  {"cwd", options.cwd.empty() ? "/" : options.cwd},
                  {"env", options.env.empty() ? std::vector<std::string>{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
                                              : options.env},
                  {"terminal", options.tty}};
  if (!options.capabilities.empty()) process["capabilities"] = {{"bounding", options.capabilities}, {"effective", options.capabilities}};
  if (!options.user.empty()) {
    const auto colon = options.user.find(':');
    try {
      process["user"]["uid"] = std::stoul(options.user.substr(0, colon));
      if (colon != std::string::npos) process["user"]["gid"] = std::stoul(options.user.substr(colon + 1));
    } catch (const std::exception&) {
      usage("--user " + quote(options.user) + ": UID or UID:GID (numbers)");
    }
  }
  return process;
}

class ExecAudit {
 public:
  ExecAudit(const std::vector<std::filesystem::path>& config_dirs, const oci::ContainerState& state)
      : log_(audit::audit_log_path("", policy::load_runner_config(config_dirs).audit_log)) {
    base_ = {{"container", {{"id", state.id}, {"image_digest", state.image_digest}}},
             {"tier", state.tier},
             {"by", {{"uid", ::getuid()}, {"name", user_name(::getuid())}}}};
  }
  void set(const std::string& key, json value) { base_[key] = std::move(value); }
  void append(const std::string& event, const std::string& outcome, json extra = json::object()) const {
    auto record = base_;
    record["event"] = event;
    record["outcome"] = outcome;
    for (auto& [key, value] : extra.items()) record[key] = value;
    audit::AuditLog(log_).append(record);
  }

 private:
  std::filesystem::path log_;
  json base_;
};

UniqueFd connect_to(const std::filesystem::path& socket_path) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (!fd) throw_sys_error("socket(AF_UNIX, SOCK_SEQPACKET)");
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  const auto text = socket_path.string();
  if (text.size() >= sizeof address.sun_path) throw Error(quote(text) + ": too long for a socket path", exit_code::runner_failed);
  std::memcpy(address.sun_path, text.c_str(), text.size() + 1);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0)
    throw_sys_error("connect(" + quote(text) + ") (the container's exec socket; is it running?)");
  return fd;
}

void send_request(int fd, const oci::ExecNarrowed& process, const std::array<int, 3>& stdio, bool terminal) {
  std::string strings = process.cwd + '\0';
  for (const auto& arg : process.argv) strings += arg + '\0';
  for (const auto& entry : process.env) strings += entry + '\0';
  launch::ExecRequestHeader header;
  header.argc = static_cast<std::uint32_t>(process.argv.size());
  header.envc = static_cast<std::uint32_t>(process.env.size());
  header.strings_size = static_cast<std::uint32_t>(strings.size());
  header.flags = terminal ? launch::kExecTerminal : 0;
  if (sizeof header + strings.size() >= launch::kExecRequestMax ||
      process.argv.size() + process.env.size() + 1 > launch::kExecMaxStrings)
    throw Error("exec: the process's argv and environment are too large (at most 64 KiB, 511 strings)",
                exit_code::runner_failed);
  std::string message(reinterpret_cast<const char*>(&header), sizeof header);
  message += strings;
  // The request and the process's fds 0-2 in one message (exec_server.cpp
  // refuses one without exactly three).
  if (send_with_fds(fd, message.data(), message.size(), stdio.data(), stdio.size()) < 0)
    throw_sys_error("sendmsg(the exec request)");
}

// The next reply; nullopt at EOF (init ended: the container stopped).
std::optional<launch::ExecReply> receive_reply(int fd) {
  launch::ExecReply reply;
  ssize_t n;
  do {
    n = ::recv(fd, &reply, sizeof reply, 0);
  } while (n < 0 && errno == EINTR);
  if (n == static_cast<ssize_t>(sizeof reply)) return reply;
  if (n < 0 && errno != ECONNRESET) throw_sys_error("recv(the exec reply)");
  return std::nullopt;
}

// Until the connection has a reply; the signals an engine sends this
// process (kill --exec-id, ^C) go on to the exec'd process meanwhile.
void forward_signals_until_reply(int fd) {
  sigset_t forwarded;
  sigemptyset(&forwarded);
  for (int signal_number : {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT})
    sigaddset(&forwarded, signal_number);
  if (::sigprocmask(SIG_BLOCK, &forwarded, nullptr) != 0) throw_sys_error("sigprocmask(SIG_BLOCK)");
  UniqueFd signals(::signalfd(-1, &forwarded, SFD_CLOEXEC));
  if (!signals) throw_sys_error("signalfd(the forwarded signals)");
  while (true) {
    pollfd waits[2] = {{fd, POLLIN, 0}, {signals.get(), POLLIN, 0}};
    if (::poll(waits, 2, -1) < 0) {
      if (errno == EINTR) continue;
      throw_sys_error("poll(the exec connection)");
    }
    if (waits[0].revents) return;
    signalfd_siginfo info{};
    if (::read(signals.get(), &info, sizeof info) != static_cast<ssize_t>(sizeof info)) continue;
    launch::ExecSignal message;
    message.signal = static_cast<std::int32_t>(info.ssi_signo);
    (void)::send(fd, &message, sizeof message, MSG_NOSIGNAL);
  }
}

// Waits for the process's end; its exit status, as a shell gives it.
int wait_for_exit(int fd, const ExecAudit& audit, int sandbox_pid) {
  forward_signals_until_reply(fd);
  const auto reply = receive_reply(fd);
  int status = 137;  // init ended first: the container was stopped, the process killed with it
  json exit = {{"pid_in_sandbox", sandbox_pid}};
  if (reply && reply->kind == launch::ExecReplyKind::exited) {
    const int wait_status = reply->value;
    status = WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : 128 + WTERMSIG(wait_status);
    exit["exit"] = {{"code", WIFEXITED(wait_status) ? json(WEXITSTATUS(wait_status)) : json(nullptr)},
                    {"signal", WIFSIGNALED(wait_status) ? json(WTERMSIG(wait_status)) : json(nullptr)},
                    {"status", status}};
  } else {
    exit["exit"] = {{"code", nullptr}, {"signal", nullptr}, {"status", status}};
    exit["detail"] = "the container ended first";
  }
  audit.append("exec_end", "ended", exit);
  return status;
}

}  // namespace

std::filesystem::path exec_socket(const std::filesystem::path& root, const std::string& id) {
  return root / id / "exec.sock";
}

int exec_command(const std::filesystem::path& root, const std::vector<std::filesystem::path>& config_dirs,
                 const std::vector<std::string>& args) {
  const auto options = parse_options(args);
  const oci::StateStore store(root);
  const auto state = store.read(options.id);
  const auto status = oci::current_status(state);
  if (status != "running")
    throw Error("container " + quote(options.id) + " is " + status + ", not running (fix: exec only into a running container)",
                exit_code::runner_failed);
  const auto run = oci_control::container_run({root, config_dirs}, state);
  ExecAudit audit(config_dirs, state);
  audit.set("run_id", run.run_id);
  const auto origin = options.process_file.empty() ? std::string("exec's command line") : options.process_file;
  std::optional<oci::ExecNarrowed> narrowed;
  try {
    const auto process = oci::parse_exec_process(process_json(options), origin);
    audit.set("argv", process.process.args);
    const auto tier = policy::load_tier(state.tier, config_dirs);
    if (tier.commands.allowed)
      throw Refusal("tier '" + tier.name + "' pins its commands (allowed_commands), which exec does not check: "
                    "exec is refused there (fix: run the command as a container of its own)");
    if (process.process.terminal && options.console_socket.empty())
      throw Error(origin + ": process.terminal is true but no --console-socket was given (fix: pass one)",
                  exit_code::runner_failed);
    narrowed = oci::narrow_exec(process, tier);
  } catch (const Error& error) {
    audit.append("exec", "refused", {{"reason", error.what()}});
    throw;
  }
  std::optional<oci::Pty> pty;
  std::array<int, 3> stdio{0, 1, 2};
  if (options.tty || !options.console_socket.empty()) {
    if (options.console_socket.empty()) usage("--tty needs --console-socket");
    pty = oci::open_pty();
    oci::send_console(options.console_socket, *pty);
    stdio = {pty->slave.get(), pty->slave.get(), pty->slave.get()};
  }
  auto connection = connect_to(exec_socket(root, options.id));
  send_request(connection.get(), *narrowed, stdio, pty.has_value());
  pty.reset();
  const auto first = receive_reply(connection.get());
  if (!first || first->kind != launch::ExecReplyKind::started) {
    const std::string detail = first ? std::string(first->detail) + ": " + std::strerror(first->value)
                                     : "the container ended before the process started";
    audit.append("exec", "failed", {{"reason", detail}});
    const int code = first && first->value == ENOENT ? exit_code::command_not_found : exit_code::runner_failed;
    throw Error("exec in container " + quote(options.id) + ": " + detail, code);
  }
  const int pid_in_sandbox = first->value;
  audit.append("exec", "started", {{"pid_in_sandbox", pid_in_sandbox}});
  if (!options.detach) {
    if (!options.pid_file.empty()) write_file_atomically(options.pid_file, std::to_string(::getpid()), 0644, Durability::none);
    return wait_for_exit(connection.get(), audit, pid_in_sandbox);
  }
  // --detach: a process of its own waits for the end (its pid in
  // --pid-file: engines wait for it; its exit status is the process's).
  std::fflush(nullptr);
  const pid_t relay = ::fork();
  if (relay < 0) throw_sys_error("fork()");
  if (relay == 0) {
    ::setsid();
    ::signal(SIGPIPE, SIG_IGN);
    int code = exit_code::runner_failed;
    try {
      code = wait_for_exit(connection.get(), audit, pid_in_sandbox);
    } catch (const std::exception&) {
    }
    ::_exit(code);
  }
  if (!options.pid_file.empty()) write_file_atomically(options.pid_file, std::to_string(relay), 0644, Durability::none);
  return 0;
}

}  // namespace tierbox::cli::oci_exec
