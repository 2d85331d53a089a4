#include "daemon/server.h"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "common/errors.h"
#include "common/logging.h"
#include "common/users.h"
#include "daemon/wire.h"

namespace tierbox::daemon {
namespace {

sockaddr_un socket_address(const std::filesystem::path& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.string().size() >= sizeof address.sun_path)
    throw Error("--socket " + quote(path.string()) + ": longer than a unix socket path may be (107 bytes)", exit_code::runner_failed);
  std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
  return address;
}

// A socket at path that nobody listens on is left by a daemon that died:
// replaced. One that answers belongs to a running daemon: refused.
void remove_stale_socket(const std::filesystem::path& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return;
  if (!S_ISSOCK(st.st_mode))
    throw Error("--socket " + quote(path.string()) + ": exists and is not a socket (fix: remove it, or choose another path)",
                exit_code::runner_failed);
  UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  const auto address = socket_address(path);
  if (probe && ::connect(probe.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0)
    throw Error("--socket " + quote(path.string()) + ": another tierbox daemon listens there (fix: stop it first)",
                exit_code::runner_failed);
  if (::unlink(path.c_str()) != 0) throw_sys_error("unlink(" + quote(path.string()) + ")");
}

// The connections being served, so a stop reaches each.
class Sessions {
 public:
  void add(const std::shared_ptr<Session>& session) {
    std::lock_guard lock(mutex_);
    live_.insert(session);
  }
  void remove(const std::shared_ptr<Session>& session) {
    std::lock_guard lock(mutex_);
    live_.erase(session);
    if (live_.empty()) drained_.notify_all();
  }
  void stop_all(const std::string& reason) {
    std::lock_guard lock(mutex_);
    for (const auto& session : live_) session->stop(reason);
  }
  // True when every session ended within timeout.
  bool wait_drained(std::chrono::seconds timeout) {
    std::unique_lock lock(mutex_);
    return drained_.wait_for(lock, timeout, [&] { return live_.empty(); });
  }

 private:
  std::mutex mutex_;
  std::condition_variable drained_;
  std::set<std::shared_ptr<Session>> live_;
};

}  // namespace

UniqueFd socket_from_systemd() {
  const char* pid = std::getenv("LISTEN_PID");
  const char* count = std::getenv("LISTEN_FDS");
  if (!pid || !count || std::strtol(pid, nullptr, 10) != ::getpid() || std::strtol(count, nullptr, 10) < 1) return {};
  constexpr int kFirstPassedFd = 3;  // SD_LISTEN_FDS_START
  int listening = 0;
  socklen_t size = sizeof listening;
  if (::getsockopt(kFirstPassedFd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &size) != 0 || !listening)
    throw Error("LISTEN_FDS: fd 3 is not a listening socket (fix: ListenStream= in tierbox.socket)", exit_code::runner_failed);
  if (::fcntl(kFirstPassedFd, F_SETFD, FD_CLOEXEC) != 0) throw_sys_error("fcntl(3, F_SETFD, FD_CLOEXEC)");
  ::unsetenv("LISTEN_PID");
  ::unsetenv("LISTEN_FDS");
  ::unsetenv("LISTEN_FDNAMES");
  return UniqueFd(kFirstPassedFd);
}

UniqueFd bind_socket(const SocketSettings& settings) {
  const auto& path = settings.path;
  std::error_code ec;
  if (path.has_parent_path() && !std::filesystem::exists(path.parent_path(), ec)) {
    std::filesystem::create_directories(path.parent_path(), ec);
    if (ec) throw Error("--socket " + quote(path.string()) + ": cannot create its directory: " + ec.message(), exit_code::runner_failed);
    ::chmod(path.parent_path().c_str(), 0755);
  }
  remove_stale_socket(path);
  UniqueFd listener(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!listener) throw_sys_error("socket(AF_UNIX, SOCK_STREAM)");
  const auto address = socket_address(path);
  // Created without any access for others, then opened to the group: no
  // moment in which a caller outside it could connect.
  const mode_t previous = ::umask(0177);
  const int bound = ::bind(listener.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address);
  ::umask(previous);
  if (bound != 0) throw_sys_error("bind(" + quote(path.string()) + ")");
  if (!settings.group.empty()) {
    if (const auto gid = group_id(settings.group)) {
      if (::chown(path.c_str(), 0, *gid) != 0) throw_sys_error("chown(" + quote(path.string()) + ", root:" + settings.group + ")");
    } else {
      logging::warn("daemon: no group '{}' on this host: only root can use {} (fix: groupadd --system {})", settings.group,
                    path.string(), settings.group);
    }
  }
  if (::chmod(path.c_str(), settings.mode) != 0) throw_sys_error("chmod(" + quote(path.string()) + ")");
  if (::listen(listener.get(), 128) != 0) throw_sys_error("listen(" + quote(path.string()) + ")");
  return listener;
}

int serve(UniqueFd listener, DaemonContext& context) {
  // Blocked in every thread (each inherits this mask) and read here only:
  // a run's thread never takes the daemon's SIGTERM for its task's.
  sigset_t stopping;
  sigemptyset(&stopping);
  for (int signal_number : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&stopping, signal_number);
  if (::pthread_sigmask(SIG_BLOCK, &stopping, nullptr) != 0) throw_sys_error("pthread_sigmask(SIG_BLOCK)");
  UniqueFd signals(::signalfd(-1, &stopping, SFD_CLOEXEC));
  if (!signals) throw_sys_error("signalfd(SIGTERM, SIGINT, SIGHUP)");

  // Never freed: a session thread that outlives the 30 s drain below must
  // still find it while the process exits.
  auto& sessions = *new Sessions;
  std::fprintf(stderr, "tierbox daemon: listening\n");
  while (true) {
    // Woken when a caller's window of refusal records ends, so its summary
    // is written then rather than at its next refusal (daemon/refusal_records.h).
    int timeout_ms = -1;
    if (context.refusals)
      if (const auto next = context.refusals->write_ended()) {
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(*next - std::chrono::steady_clock::now());
        timeout_ms = static_cast<int>(std::clamp<std::int64_t>(left.count(), 0, 60 * 60 * 1000));
      }
    pollfd fds[2] = {{listener.get(), POLLIN, 0}, {signals.get(), POLLIN, 0}};
    if (::poll(fds, 2, timeout_ms) < 0) {
      if (errno == EINTR) continue;
      throw_sys_error("poll(listening socket, signalfd)");
    }
    if (fds[1].revents & POLLIN) break;
    if (!(fds[0].revents & POLLIN)) continue;
    UniqueFd connection(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!connection) {
      // EMFILE and the like: the connection waits in the backlog; never a
      // busy loop on it.
      if (errno != EINTR && errno != ECONNABORTED) {
        logging::warn("daemon: accept4: {}", errno_text(errno));
        ::usleep(100 * 1000);
      }
      continue;
    }
    auto session = std::make_shared<Session>(std::move(connection), context);
    sessions.add(session);
    try {
      std::thread([session, &sessions] {
        // Named, so that ps -L (and the tests) tell a connection's threads
        // (this one and the run's it starts, which inherit the name) from
        // the daemon's own.
        (void)::pthread_setname_np(::pthread_self(), "tbx-session");  // 11 bytes: within the 15 allowed
        session->serve();
        sessions.remove(session);
      }).detach();
    } catch (const std::system_error& error) {
      logging::warn("daemon: no thread for a connection: {}", error.what());
      sessions.remove(session);
    }
  }
  std::fprintf(stderr, "tierbox daemon: stopping; %u runs going on are stopped\n", context.limits->runs());
  listener.reset();
  sessions.stop_all("stopped: the daemon stopped");
  const bool drained = sessions.wait_drained(std::chrono::seconds(30));
  // The counts of refusals not recorded one by one: never lost at a stop.
  if (context.refusals) context.refusals->write_all();
  if (!drained) {
    logging::error("daemon: some runs did not end within 30 s; `tierbox gc` closes their records");
    return exit_code::runner_failed;
  }
  return 0;
}

}  // namespace tierbox::daemon
