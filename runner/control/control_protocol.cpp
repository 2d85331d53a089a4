#include "control/control_protocol.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <charconv>
#include <cstring>
#include <thread>

#include "common/errors.h"

namespace tierbox::launch {
namespace {

namespace fs = std::filesystem;

[[noreturn]] void throw_not_answering(const std::string& run_id, std::chrono::milliseconds timeout) {
  throw Error("the runner of run " + run_id + " did not answer within " + std::to_string(timeout.count() / 1000) +
                  " s: it is stopped (SIGSTOP, Ctrl-Z) or stuck (fix: root acts without it: sudo tierbox kill " +
                  run_id + ")",
              exit_code::runner_failed);
}

std::vector<std::string_view> words(std::string_view line) {
  std::vector<std::string_view> found;
  while (!line.empty()) {
    const auto start = line.find_first_not_of(' ');
    if (start == std::string_view::npos) break;
    line.remove_prefix(start);
    const auto end = line.find(' ');
    found.push_back(line.substr(0, end));
    if (end == std::string_view::npos) break;
    line.remove_prefix(end);
  }
  return found;
}

// Non-blocking: a runner that is stopped (SIGSTOP, Ctrl-Z) accepts nothing,
// and once its listen backlog is full a blocking connect would wait for it
// for ever; here a full backlog is retried until the deadline.
UniqueFd connect_to(const fs::path& socket_path, const std::string& run_id,
                    std::chrono::steady_clock::time_point deadline, std::chrono::milliseconds timeout) {
  struct sockaddr_un address {};
  address.sun_family = AF_UNIX;
  if (socket_path.string().size() >= sizeof address.sun_path)
    throw Error("control socket path " + quote(socket_path.string()) + " is too long", exit_code::runner_failed);
  std::strncpy(address.sun_path, socket_path.c_str(), sizeof address.sun_path - 1);
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) throw_sys_error("socket(AF_UNIX, SOCK_STREAM|SOCK_NONBLOCK)");
  while (::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    if (errno == EINTR) continue;
    if (errno == EAGAIN && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      continue;
    }
    if (errno == EAGAIN) throw_not_answering(run_id, timeout);
    if (errno == ENOENT || errno == ECONNREFUSED)
      throw Error("run " + run_id + " is not running (no runner answers on " + socket_path.string() + ")",
                  exit_code::runner_failed);
    if (errno == EACCES)
      throw Error("cannot reach " + socket_path.string() + ": " + errno_text(errno) +
                      " (fix: the state directory must be 0711, its control/ directory 0755)",
                  exit_code::runner_failed);
    throw_sys_error("connect(" + quote(socket_path.string()) + ")");
  }
  return fd;
}

std::string read_reply(int fd, const std::string& run_id, std::chrono::steady_clock::time_point deadline,
                       std::chrono::milliseconds timeout) {
  std::string reply;
  char buffer[4096];
  while (reply.find('\n') == std::string::npos) {
    struct pollfd readable {fd, POLLIN, 0};
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
    const int ready = ::poll(&readable, 1, static_cast<int>(std::max<long long>(left, 0)));
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) throw_sys_error("poll(control socket)");
    if (ready == 0) throw_not_answering(run_id, timeout);
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n < 0) throw_sys_error("read(control socket)");
    if (n == 0) break;
    reply.append(buffer, static_cast<std::size_t>(n));
  }
  return reply;
}

}  // namespace

std::optional<ControlRequest> parse_control_request(std::string_view line) {
  if (line.size() > kMaxControlRequest) return std::nullopt;
  const auto parts = words(line);
  if (parts.empty() || parts.size() > 2) return std::nullopt;
  const auto action = policy::parse_control_action(parts[0]);
  if (!action) return std::nullopt;
  ControlRequest request;
  request.action = *action;
  if (*action == policy::ControlAction::stop) {
    if (parts.size() != 2) return std::nullopt;
    long long millis = 0;
    auto [end, ec] = std::from_chars(parts[1].data(), parts[1].data() + parts[1].size(), millis);
    if (ec != std::errc() || end != parts[1].data() + parts[1].size() || millis < 0 || millis > kMaxGrace.count())
      return std::nullopt;
    request.grace = std::chrono::milliseconds(millis);
    return request;
  }
  if (*action == policy::ControlAction::panic && parts.size() == 2) {
    if (parts[1] != "kill") return std::nullopt;
    request.kill = true;
    return request;
  }
  if (parts.size() != 1) return std::nullopt;
  return request;
}

std::string format_control_request(const ControlRequest& request) {
  std::string line = policy::to_string(request.action);
  if (request.action == policy::ControlAction::stop) line += " " + std::to_string(request.grace.count());
  if (request.action == policy::ControlAction::panic && request.kill) line += " kill";
  return line;
}

std::vector<std::string> runs_with_control_sockets(const RunRegistry& registry) {
  std::vector<std::string> ids;
  std::error_code ec;
  for (const auto& item : fs::directory_iterator(registry.control_dir(), ec))
    if (item.path().extension() == ".sock") ids.push_back(item.path().stem().string());
  return ids;
}

nlohmann::json ask_runner(const RunRegistry& registry, const std::string& run_id, const ControlRequest& request,
                          std::chrono::milliseconds timeout) {
  // One deadline for the whole exchange: connecting, asking and the answer.
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto fd = connect_to(registry.control_socket(run_id), run_id, deadline, timeout);
  const auto line = format_control_request(request) + "\n";
  // A few bytes into an empty socket buffer: a non-blocking send takes them whole.
  if (::send(fd.get(), line.data(), line.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(line.size()))
    throw_sys_error("send(control socket of run " + run_id + ")");
  const auto reply = read_reply(fd.get(), run_id, deadline, timeout);
  auto parsed = nlohmann::json::parse(reply.substr(0, reply.find('\n')), nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object() || !parsed.contains("result"))
    throw Error("the runner of run " + run_id + " closed the connection without an answer (it is ending)",
                exit_code::runner_failed);
  return parsed;
}

bool wait_until_socket_gone(const RunRegistry& registry, const std::string& run_id, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  const auto socket_path = registry.control_socket(run_id);
  while (true) {
    std::error_code ec;
    if (!fs::exists(socket_path, ec) && !ec) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace tierbox::launch
