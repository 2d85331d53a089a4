#include "launch/parent_sync.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "common/errors.h"
#include "common/logging.h"

namespace tierbox::launch {

Channel make_sync_channel() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0)
    throw_sys_error("socketpair(AF_UNIX, SOCK_SEQPACKET|SOCK_CLOEXEC)");
  return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

Pipe make_status_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw_sys_error("pipe2(O_CLOEXEC)");
  return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

// False when the child is gone; its failure message is then waiting to be read.
bool send_to_child(int fd, SyncKind kind, const std::vector<int>& fds) {
  SyncMessage message;
  message.kind = kind;
  if (send_sync_with_fds(fd, message, fds.data(), fds.size())) return true;
  if (errno == EPIPE || errno == ECONNRESET) return false;
  throw_sys_error("send(sync #" + std::to_string(static_cast<int>(kind)) + ")");
}

// The next message from the child, or nullopt at EOF. Bounded by the
// wall-clock deadline, so a child stuck in setup cannot hang the runner.
std::optional<SyncMessage> receive_from_child(int fd, std::chrono::steady_clock::time_point deadline) {
  struct pollfd wait_for {fd, POLLIN, 0};
  while (true) {
    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
    int ready = ::poll(&wait_for, 1, static_cast<int>(std::clamp<long long>(left, 0, 3600 * 1000)));
    if (ready > 0) break;
    if (ready == 0) throw Error("the sandbox did not finish its setup before the wall-clock limit", exit_code::timed_out);
    if (errno != EINTR) throw_sys_error("poll(sync socket)");
  }
  SyncMessage message;
  ssize_t received;
  bool reset_seen = false;
  do {
    received = ::recv(fd, &message, sizeof message, 0);
    // A child that fails while sync #2 waits unread in its socket makes the
    // kernel report ECONNRESET once, ahead of the failure message it sent
    // before exiting; that message is still queued: read it.
    if (received < 0 && errno == ECONNRESET && !reset_seen) {
      reset_seen = true;
      errno = EINTR;
    }
  } while (received < 0 && errno == EINTR);
  if (received == 0) return std::nullopt;
  if (received != static_cast<ssize_t>(sizeof message)) throw_sys_error("recv(sync socket)");
  return message;
}

std::string describe_child_failure(const SyncMessage& message) {
  const char* step = child_step_name(message.step);
  std::string detail(message.detail, strnlen(message.detail, sizeof message.detail));
  if (message.step == ChildStep::exec) {
    const char* what = message.err == ENOENT ? "command not found in the sandbox" : "command could not be executed";
    return std::string(what) + ": " + detail + ": " + errno_text(message.err);
  }
  return std::string("sandbox setup failed at step '") + step + "': " + detail + ": " + errno_text(message.err);
}

void log_child_timings(const SyncMessage& ready) {
  if (!logging::verbose()) return;
  for (std::uint32_t i = 0; i < kChildStepCount; ++i) {
    const auto done = ready.step_done_ns[i];
    if (done == 0) continue;
    // The task takes the last timestamp. Where the kernel has put it in the
    // sandbox's time namespace already (start_task's fallback without
    // CLONE_VM; seen on Debian 12's 6.1), it read the sandbox's clock, which
    // starts near 1 s: no time of the runner's. Said so, not shown as one.
    if (done < logging::start_monotonic_ns())
      logging::step("  child: {} done (timed on the sandbox's own clock)", child_step_name(static_cast<ChildStep>(i)));
    else
      logging::step_at(done, "  child: {} done", child_step_name(static_cast<ChildStep>(i)));
  }
}

// Sync #1b: the task's fds 0-2, then the run's own trees in the order of
// their mount ops (policy::run_trees), at most kMaxSyncFds per message; each
// message says how many fds come in all and which trees are missing
// (optional and absent). False when the child is gone.
bool send_run_inputs(int fd, const std::array<int, 3>& stdio, const std::vector<int>& trees, std::uint64_t missing) {
  std::vector<int> fds(stdio.begin(), stdio.end());
  fds.insert(fds.end(), trees.begin(), trees.end());
  SyncMessage message;
  message.kind = SyncKind::run_inputs;
  message.fds_total = static_cast<std::uint32_t>(fds.size());
  message.missing_trees = missing;
  for (std::size_t sent = 0; sent < fds.size(); sent += kMaxSyncFds) {
    const std::size_t count = std::min(kMaxSyncFds, fds.size() - sent);
    if (send_sync_with_fds(fd, message, fds.data() + sent, count)) continue;
    if (errno == EPIPE || errno == ECONNRESET) return false;
    throw_sys_error("sendmsg(sync #1b)");
  }
  return true;
}

}  // namespace tierbox::launch
