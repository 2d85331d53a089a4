#include "stages/network.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>
#include <nlohmann/json.hpp>

#include "common/errors.h"
#include "common/logging.h"
#include "net/channel.h"

namespace tierbox::stages {
namespace {

// Generous: every request is a handful of netlink messages (a few ms), but
// a loaded host must not make a run fail for a slow reply.
constexpr int kReplyTimeoutMs = 30'000;
// Lock fds are moved above the numbers the helper expects (3 to 5) before
// the dup2s, so that one dup2 cannot overwrite another's source.
constexpr int kAboveHelperFds = 10;

struct Helper {
  pid_t pid = -1;
  UniqueFd channel;
};

UniqueFd duplicate_high(int fd) {
  UniqueFd copy(::fcntl(fd, F_DUPFD_CLOEXEC, kAboveHelperFds));
  if (!copy) throw_sys_error("fcntl(F_DUPFD_CLOEXEC)");
  return copy;
}

// The helper starts in a process group of its own (a Ctrl-C meant for the
// task does not reach it; it ignores SIGINT and SIGHUP too), with no signal
// blocked, an empty environment, stdin and stdout on /dev/null and the
// runner's stderr for its last-resort messages. fork, not posix_spawn: a
// vfork-style spawn holds the runner until the helper's execve is under
// way, which on a busy host (execve may move the child to another CPU) took
// 1-5 ms of the launch; after fork the runner carries on at once. The
// runner is single-threaded, and the child only makes async-signal-safe
// calls before execve.
Helper start_helper(const char* verb, int slot_lock_fd, int id_lock_fd = -1) {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0)
    throw_sys_error("socketpair(AF_UNIX, SOCK_SEQPACKET|SOCK_CLOEXEC)");
  Helper helper;
  helper.channel.reset(fds[0]);
  UniqueFd theirs(fds[1]);
  UniqueFd channel_high = duplicate_high(theirs.get());
  UniqueFd lock_high = slot_lock_fd >= 0 ? duplicate_high(slot_lock_fd) : UniqueFd();
  UniqueFd id_lock_high = id_lock_fd >= 0 ? duplicate_high(id_lock_fd) : UniqueFd();
  UniqueFd null_fd(::open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!null_fd) throw_sys_error("open(\"/dev/null\")");
  const auto path = network_helper_path().string();
  if (::access(path.c_str(), X_OK) != 0)
    throw Error("network helper " + quote(path) + ": " + errno_text(errno) +
                    " (fix: install tierbox-net next to the tierbox executable)",
                exit_code::runner_failed);
  char* argv[] = {const_cast<char*>(path.c_str()), const_cast<char*>(verb), nullptr};
  char* envp[] = {nullptr};
  const pid_t pid = ::fork();
  if (pid < 0) throw_sys_error("fork(network helper)");
  if (pid == 0) {
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::setpgid(0, 0);
    // dup2 clears close-on-exec on the copies; the sources keep it.
    if (::dup2(null_fd.get(), 0) < 0 || ::dup2(null_fd.get(), 1) < 0 ||
        ::dup2(channel_high.get(), net::kHelperChannelFd) < 0 ||
        (lock_high && ::dup2(lock_high.get(), net::kHelperChannelFd + 1) < 0) ||
        (id_lock_high && ::dup2(id_lock_high.get(), net::kHelperChannelFd + 2) < 0))
      ::_exit(126);
    ::execve(path.c_str(), argv, envp);
    ::_exit(127);
  }
  helper.pid = pid;
  return helper;
}

nlohmann::json await_reply_from(int channel, const std::string& request) {
  net::ReceivedMessage message;
  try {
    message = net::receive_message(channel, kReplyTimeoutMs);
  } catch (const std::exception& error) {
    throw Error(std::string("network helper, ") + request + ": " + error.what(), exit_code::runner_failed);
  }
  if (message.end_of_file)
    throw Error("network helper, " + request + ": it exited without answering (its error is on stderr above)",
                exit_code::runner_failed);
  auto reply = nlohmann::json::parse(message.text, nullptr, false);
  if (reply.is_discarded() || !reply.is_object())
    throw Error("network helper, " + request + ": unreadable reply", exit_code::runner_failed);
  if (!reply.value("ok", false))
    throw Error(request + ": " + reply.value("error", std::string("failed")), exit_code::runner_failed);
  return reply;
}

void send_request(int channel, const nlohmann::json& request, int fd = -1) {
  if (!net::send_message(channel, request.dump(), fd))
    throw_sys_error("sendmsg(network helper channel, " + request.value("op", std::string("request")) + ")");
}

// Waits for the helper's exit; gives up after timeout (it is then left to
// finish on its own: it holds nothing this runner needs).
void reap(pid_t pid, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    const pid_t done = ::waitpid(pid, nullptr, WNOHANG);
    if (done == pid || (done < 0 && errno != EINTR)) return;
    if (std::chrono::steady_clock::now() >= deadline) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

nlohmann::json run_helper_once(const char* verb, const nlohmann::json& request, int slot_lock_fd = -1) {
  auto helper = start_helper(verb, slot_lock_fd);
  try {
    send_request(helper.channel.get(), request);
    auto reply = await_reply_from(helper.channel.get(), verb);
    reap(helper.pid, std::chrono::seconds(30));
    return reply;
  } catch (...) {
    helper.channel.reset();
    reap(helper.pid, std::chrono::seconds(30));
    throw;
  }
}

}  // namespace

std::filesystem::path network_helper_path() {
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) throw Error("readlink(\"/proc/self/exe\"): " + ec.message(), exit_code::runner_failed);
  return self.parent_path() / "tierbox-net";
}

net::RunNetwork plan_run_network(const policy::EgressPlan& egress, const policy::RunnerConfig& config, unsigned slot,
                                 const std::string& run_id, const std::filesystem::path& slot_lock) {
  const auto& pool = config.network_pool;
  auto addresses = net::address_plan_for_slot(pool, slot);
  if (!addresses)
    throw Error("run slot " + std::to_string(slot) + " has no subnet in network_pool " + pool.to_string() +
                    " (fix: a larger network_pool in tierbox.json)",
                exit_code::runner_failed);
  for (const auto& rule : egress.allow) {
    if (rule.block.overlaps(pool))
      throw Refusal("network.allow " + quote(rule.origin) + " overlaps the sandbox pool " + pool.to_string() +
                    " (network_pool in tierbox.json): sandboxes never reach each other or their gateways "
                    "(fix: move network_pool to a range the tier does not name)");
  }
  net::RunNetwork network;
  network.run_id = run_id;
  network.pool = pool;
  network.slot = slot;
  network.slot_lock = slot_lock.string();
  network.addresses = *addresses;
  network.allow = egress.allow;
  network.names = egress.names;
  if (!network.names.empty()) {
    const auto upstream = config.dns_upstream ? config.dns_upstream : policy::host_resolver(config.host_resolv_conf);
    if (!upstream)
      throw Error("network.allow names need an upstream resolver: " + config.host_resolv_conf.string() +
                      " names no IPv4 nameserver (fix: set dns_upstream in tierbox.json, e.g. \"192.0.2.53\")",
                  exit_code::runner_failed);
    network.resolver.upstream = upstream->address;
    network.resolver.upstream_port = upstream->port;
    network.resolver.min_ttl_seconds = config.dns_min_ttl_seconds;
    network.resolver.max_ttl_seconds = config.dns_max_ttl_seconds;
    network.resolver.queries_per_second = config.dns_queries_per_second;
    network.resolver.outstanding = config.dns_outstanding;
  }
  return network;
}

NetworkSession::NetworkSession(const net::RunNetwork& network, int slot_lock_fd, int id_lock_fd) {
  auto helper = start_helper("session", slot_lock_fd, id_lock_fd);
  pid_ = helper.pid;
  channel_ = std::move(helper.channel);
  send_request(channel_.get(), {{"op", "prepare"}, {"network", net::to_json(network)}});
}

NetworkSession::~NetworkSession() {
  if (pid_ < 0) return;
  if (finished_) {
    ::waitpid(pid_, nullptr, WNOHANG);  // it ends on its own once the veth is gone
    return;
  }
  channel_.reset();  // EOF: the helper removes the run's network and exits
  reap(pid_, std::chrono::seconds(30));
}

void NetworkSession::begin_attach(int sandbox_netns_fd) {
  // A helper that failed to prepare has answered and exited: its answer,
  // read in wait_attached(), says why; the failed send does not.
  if (!net::send_message(channel_.get(), nlohmann::json{{"op", "attach"}}.dump(), sandbox_netns_fd) &&
      errno != EPIPE && errno != ECONNRESET)
    throw_sys_error("sendmsg(network helper channel, attach)");
}

std::vector<std::string> NetworkSession::wait_attached() {
  // The helper answers in order: prepare first, then attach.
  auto reply = await_reply_from(channel_.get(), "prepare");
  std::vector<std::string> notes = reply.value("notes", std::vector<std::string>{});
  notes.push_back(fmt::format("the helper prepared the host side in {:.3f} ms", reply.value("ms", 0.0)));
  reply = await_reply_from(channel_.get(), "attach");
  notes.push_back(fmt::format("the helper attached the sandbox in {:.3f} ms", reply.value("ms", 0.0)));
  return notes;
}

net::NetworkReport NetworkSession::finish() {
  send_request(channel_.get(), {{"op", "finish"}});
  const auto reply = await_reply_from(channel_.get(), "finish");
  finished_ = true;
  try {
    return net::NetworkReport::from_json(reply.at("report"));
  } catch (const nlohmann::json::exception& error) {
    throw Error(std::string("network finish: unreadable report: ") + error.what(), exit_code::runner_failed);
  }
}

void isolate_network(const nlohmann::json& network, pid_t sandbox_pid) {
  run_helper_once("isolate", {{"network", network}, {"sandbox_pid", sandbox_pid}});
}

std::optional<net::NetworkReport> finish_network(NetworkSession& session, const net::RunNetwork& network,
                                                 int slot_lock_fd) {
  try {
    return session.finish();
  } catch (const Error& error) {
    logging::warn("network report unavailable: {}", error.what());
  }
  try {
    for (const auto& removed : clean_up_network(net::to_json(network), slot_lock_fd))
      logging::step("network: removed {}", removed);
  } catch (const Error& error) {
    logging::warn("network cleanup failed: {} (fix: run `tierbox gc` or start a run in slot {})", error.what(), network.slot);
  }
  return std::nullopt;
}

std::vector<std::string> clean_up_network(const nlohmann::json& network, int slot_lock_fd) {
  auto reply = run_helper_once("clean", {{"network", network}}, slot_lock_fd);
  return reply.value("removed", std::vector<std::string>{});
}

net::NetworkReport uncounted_network_report(policy::NetworkMode mode) {
  net::NetworkReport report;
  report.mode = policy::to_string(mode);
  return report;
}

}  // namespace tierbox::stages
