#include "control/control_server.h"

#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "audit/audit_log.h"
#include "common/errors.h"
#include "common/json_bytes.h"
#include "common/logging.h"
#include "common/rfc3339.h"
#include "common/users.h"
#include "control/control_state.h"
#include "control/run_control.h"

namespace tierbox::launch {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using policy::ControlAction;

// Others may pass through the state directory (0711, nothing listed) to the
// control directory (0755); runs/, slots/ and cache/ stay 0700.
void prepare_directories(const RunRegistry& registry) {
  const auto state_dir = registry.dir().parent_path();
  struct stat st {};
  if (::stat(state_dir.c_str(), &st) != 0) throw_sys_error("stat(" + quote(state_dir.string()) + ")");
  if ((st.st_mode & 0011) != 0011 && ::chmod(state_dir.c_str(), (st.st_mode & 07777) | 0011) != 0)
    throw_sys_error("chmod(" + quote(state_dir.string()) + ", 0711)");
  const auto control = registry.control_dir();
  if (::mkdir(control.c_str(), 0755) != 0 && errno != EEXIST) throw_sys_error("mkdir(" + quote(control.string()) + ", 0755)");
  if (::chmod(control.c_str(), 0755) != 0) throw_sys_error("chmod(" + quote(control.string()) + ", 0755)");
}

void send_reply(int fd, const nlohmann::json& reply) {
  // utf8_safe: a run's argv may hold any bytes (common/json_bytes.h).
  const auto text = utf8_safe(reply).dump() + "\n";
  // Non-blocking: a caller that does not read loses its answer, the runner
  // never waits for it.
  if (::send(fd, text.data(), text.size(), MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
    logging::step("control: reply not delivered: {}", errno_text(errno));
}

nlohmann::json reply(const std::string& result, const std::string& detail) {
  return {{"result", result}, {"detail", detail}};
}

}  // namespace

// Who asked, as the kernel reports the connection's peer (SO_PEERCRED).
// sudo_user: null, a socket peer's environment is not the kernel's word.
nlohmann::json ControlServer::peer_identity(const Connection& connection) {
  return {{"uid", connection.peer.uid}, {"name", user_name(connection.peer.uid)}, {"sudo_user", nullptr}};
}

ControlServer::ControlServer(const RunRegistry& registry, const RunRecord& record, Settings settings)
    : registry_(registry), record_(record), settings_(std::move(settings)), path_(registry.control_socket(record.run_id)) {
  prepare_directories(registry);
  struct sockaddr_un address {};
  address.sun_family = AF_UNIX;
  if (path_.string().size() >= sizeof address.sun_path)
    throw Error("control socket path " + quote(path_.string()) + " is longer than " +
                    std::to_string(sizeof address.sun_path - 1) + " bytes (fix: a shorter state_dir in tierbox.json)",
                exit_code::runner_failed);
  std::strncpy(address.sun_path, path_.c_str(), sizeof address.sun_path - 1);
  listener_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!listener_) throw_sys_error("socket(AF_UNIX, SOCK_STREAM|SOCK_NONBLOCK|SOCK_CLOEXEC)");
  ::unlink(path_.c_str());  // a stale socket of a crashed runner with this id (never a live one: ids are unique)
  if (::bind(listener_.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0)
    throw_sys_error("bind(" + quote(path_.string()) + ")");
  // connect(2) needs write permission on the socket: every user may ask,
  // the runner decides who may do what.
  if (::chmod(path_.c_str(), 0666) != 0) throw_sys_error("chmod(" + quote(path_.string()) + ", 0666)");
  if (::listen(listener_.get(), static_cast<int>(kMaxConnections)) != 0) throw_sys_error("listen(" + quote(path_.string()) + ")");
}

ControlServer::~ControlServer() { ::unlink(path_.c_str()); }

void ControlServer::add_poll_fds(std::vector<struct pollfd>& fds) const {
  fds.push_back({listener_.get(), POLLIN, 0});
  for (const auto& connection : connections_) fds.push_back({connection.fd.get(), POLLIN, 0});
}

void ControlServer::handle(const struct pollfd* fds, std::size_t count) {
  if (count == 0) return;
  // Connections first (their indices match connections_ as polled), then new ones.
  std::vector<Connection> still_open;
  for (std::size_t i = 0; i < connections_.size(); ++i) {
    const bool ready = i + 1 < count && (fds[i + 1].revents & (POLLIN | POLLHUP | POLLERR));
    if (!ready || read_request(connections_[i])) still_open.push_back(std::move(connections_[i]));
  }
  connections_ = std::move(still_open);
  if (fds[0].revents & POLLIN) accept_connections();
}

std::optional<Clock::time_point> ControlServer::next_deadline() const {
  std::optional<Clock::time_point> next = kill_at_;
  for (const auto& connection : connections_)
    if (!next || connection.deadline < *next) next = connection.deadline;
  return next;
}

void ControlServer::handle_timers() {
  const auto now = Clock::now();
  std::erase_if(connections_, [&](const Connection& connection) { return connection.deadline <= now; });
  if (kill_at_ && *kill_at_ <= now) {
    kill_at_.reset();
    try {
      logging::step("control: {}", kill_run(record_));
    } catch (const Error& error) {
      logging::warn("control: the stop's kill failed: {}", error.what());
    }
  }
}

void ControlServer::accept_connections() {
  while (true) {
    UniqueFd fd(::accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!fd) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return;  // EAGAIN: no more; anything else: try again on the next poll
    }
    Connection connection;
    socklen_t length = sizeof connection.peer;
    if (::getsockopt(fd.get(), SOL_SOCKET, SO_PEERCRED, &connection.peer, &length) != 0) continue;
    const uid_t uid = connection.peer.uid;
    connection.weight = policy::control_weight({uid, "", uid != 0 && is_group_member(uid, settings_.operators_group)},
                                               {record_.requester_uid, record_.sudo_uid});
    if (connections_.size() >= kMaxConnections && !make_room_for(connection.weight)) {
      send_reply(fd.get(), reply("failed", "the runner is busy with other requests; try again"));
      continue;
    }
    connection.fd = std::move(fd);
    connection.deadline = Clock::now() + kRequestTimeout;
    connections_.push_back(std::move(connection));
  }
}

bool ControlServer::make_room_for(int weight) {
  // min_element: the first (oldest) of the lightest.
  const auto lightest = std::min_element(connections_.begin(), connections_.end(),
                                         [](const Connection& a, const Connection& b) { return a.weight < b.weight; });
  if (lightest == connections_.end() || lightest->weight >= weight) return false;
  send_reply(lightest->fd.get(), reply("failed", "the runner is busy with other requests; try again"));
  connections_.erase(lightest);
  return true;
}

bool ControlServer::read_request(Connection& connection) {
  char buffer[kMaxControlRequest + 2];
  const ssize_t n = ::recv(connection.fd.get(), buffer, sizeof buffer, MSG_DONTWAIT);
  if (n < 0) return errno == EAGAIN || errno == EINTR;
  if (n == 0) return false;  // closed without a request
  connection.received.append(buffer, static_cast<std::size_t>(n));
  const auto newline = connection.received.find('\n');
  if (newline == std::string::npos) {
    if (connection.received.size() <= kMaxControlRequest) return true;  // more to come
    send_reply(connection.fd.get(), reply("failed", "request too long"));
    return false;
  }
  const auto request = parse_control_request(std::string_view(connection.received).substr(0, newline));
  if (!request) {
    send_reply(connection.fd.get(), reply("failed", "not a control request (see docs/incident-response.md)"));
    return false;
  }
  const auto answer = carry_out(*request, connection);
  send_reply(connection.fd.get(), answer);
  return false;
}

nlohmann::json ControlServer::carry_out(const ControlRequest& request, const Connection& connection) {
  const policy::ControlActor actor{connection.peer.uid, user_name(connection.peer.uid),
                                   is_group_member(connection.peer.uid, settings_.operators_group)};
  const auto decision =
      policy::decide_control(actor, request.action, {record_.requester_uid, record_.sudo_uid}, settings_.operators_group);
  nlohmann::json answer;
  if (!decision.allowed) {
    answer = reply("denied", "refused: " + decision.reason);
  } else {
    try {
      answer = act(request, peer_identity(connection));
    } catch (const Error& error) {
      answer = reply("failed", error.what());
    }
    answer["as"] = decision.reason;
  }
  // ps is read-only and not audited; every other request is, denied ones too.
  if (request.action != ControlAction::status) audit(request, connection, answer);
  logging::step("control: {} by uid {}: {}", format_control_request(request), connection.peer.uid,
                answer.value("detail", ""));
  return answer;
}

nlohmann::json ControlServer::act(const ControlRequest& request, const nlohmann::json& by) {
  const auto note = [&](const std::string& detail, const std::function<void(ControlState&)>& change = {}) {
    update_control_state(registry_, record_.run_id, [&](ControlState& state) {
      if (change) change(state);
      state.actions.push_back(control_action_entry(policy::to_string(request.action), by, "ok", detail));
    });
    return reply("ok", detail);
  };
  switch (request.action) {
    case ControlAction::status: {
      const RunRegistry::Listed listed{record_, true};
      auto answer = reply("ok", "");
      answer["run"] = describe_run(listed, read_control_state(registry_, record_.run_id), run_figures(record_));
      return answer;
    }
    case ControlAction::stop: {
      if (run_figures(record_).frozen == true)
        return note(kill_run(record_) + " (it was frozen, so it could not act on SIGTERM)");
      const auto detail = terminate_run(record_);
      kill_at_ = Clock::now() + request.grace;
      return note(detail + "; the whole tree is killed if it still runs after " + std::to_string(request.grace.count()) +
                      " ms",
                  [](ControlState& state) { state.stopping_since = rfc3339_utc(std::chrono::system_clock::now()); });
    }
    case ControlAction::kill: return note(kill_run(record_));
    case ControlAction::freeze: return note(freeze_run(record_));
    case ControlAction::thaw: return note(thaw_run(record_));
    case ControlAction::isolate:
      return note(isolate_run(registry_, record_), [](ControlState& state) { state.isolated = true; });
    case ControlAction::panic: {
      if (request.kill) return note(kill_run(record_));
      auto detail = freeze_run(record_);
      bool isolated = false;
      try {
        detail += "; " + isolate_run(registry_, record_);
        isolated = true;
      } catch (const Error& error) {
        detail += "; network not cut: " + std::string(error.what());
      }
      auto answer = note(detail, [&](ControlState& state) { state.isolated = state.isolated || isolated; });
      answer["isolated"] = isolated;
      return answer;
    }
  }
  return reply("failed", "unknown action");
}

void ControlServer::audit(const ControlRequest& request, const Connection& connection, const nlohmann::json& answer) const {
  const bool ok = answer.value("result", "failed") == "ok";
  try {
    audit::AuditLog(settings_.audit_log)
        .append(control_audit_event(policy::to_string(request.action), record_.run_id,
                                    ok ? "ok" : answer.value("detail", "failed"), peer_identity(connection)));
  } catch (const Error& error) {
    // The action stands (it was a safety action); the gap is reported.
    logging::warn("control: the audit record could not be written: {}", error.what());
  }
}

}  // namespace tierbox::launch
