#include "daemon/wire.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>

#include "common/errors.h"
#include "common/fd_passing.h"
#include "daemon/protocol.h"

static_assert(tierbox::daemon::kMaxMessageFds + 1 <= tierbox::kMaxFdsPerMessage);

namespace tierbox::daemon {
namespace {

timeval to_timeval(std::chrono::milliseconds duration) {
  return timeval{static_cast<time_t>(duration.count() / 1000), static_cast<suseconds_t>((duration.count() % 1000) * 1000)};
}

// Waits until socket_fd has something to read (or its end) or deadline
// passes: false then.
bool readable_before(int socket_fd, std::chrono::steady_clock::time_point deadline) {
  while (true) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd ready{socket_fd, POLLIN, 0};
    const int n = ::poll(&ready, 1, static_cast<int>(std::min<std::int64_t>(left.count(), 1 << 30)));
    if (n > 0) return true;
    if (n == 0) return false;
    if (errno != EINTR) throw ProtocolError(ErrorCode::malformed, "poll(the connection, POLLIN): " + errno_text(errno));
  }
}

// Reads exactly size bytes (fewer only at EOF: returns how many), taking any
// fds that come along. EAGAIN (SO_RCVTIMEO) is a timeout.
// deadline: the frame's (receive_frame).
std::size_t receive_exactly(int socket_fd, char* data, std::size_t size, std::vector<UniqueFd>& fds,
                            std::optional<std::chrono::steady_clock::time_point> deadline) {
  std::size_t done = 0;
  while (done < size) {
    if (deadline && !readable_before(socket_fd, *deadline))
      throw ProtocolError(ErrorCode::timeout, "no complete message in time");
    // Room for one fd more than a message may carry, so that one more is
    // seen (and refused) rather than dropped by the kernel unnoticed.
    int received[kMaxMessageFds + 1];
    std::size_t count = 0;
    const ssize_t n = receive_with_fds(socket_fd, data + done, size - done, received, kMaxMessageFds + 1, &count);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      throw ProtocolError(ErrorCode::timeout, "no complete message in time");
    if (n < 0 && errno == EMSGSIZE)  // MSG_CTRUNC: the fds that came are closed
      throw ProtocolError(ErrorCode::malformed, "more than " + std::to_string(kMaxMessageFds) + " fds with a message");
    if (n < 0) throw ProtocolError(ErrorCode::malformed, "recvmsg: " + errno_text(errno));
    for (std::size_t i = 0; i < count; ++i) fds.emplace_back(received[i]);  // owned at once, so a refused message closes them
    if (fds.size() > kMaxMessageFds)
      throw ProtocolError(ErrorCode::malformed, "more than " + std::to_string(kMaxMessageFds) + " fds with a message");
    if (n == 0) return done;
    done += static_cast<std::size_t>(n);
  }
  return done;
}

}  // namespace

void set_socket_timeouts(int socket_fd, std::chrono::milliseconds receive, std::chrono::milliseconds send) {
  const auto receive_time = to_timeval(receive);
  const auto send_time = to_timeval(send);
  if (::setsockopt(socket_fd, SOL_SOCKET, SO_RCVTIMEO, &receive_time, sizeof receive_time) != 0)
    throw_sys_error("setsockopt(SO_RCVTIMEO)");
  if (::setsockopt(socket_fd, SOL_SOCKET, SO_SNDTIMEO, &send_time, sizeof send_time) != 0)
    throw_sys_error("setsockopt(SO_SNDTIMEO)");
}

bool send_frame(int socket_fd, const nlohmann::json& message, const std::vector<int>& fds) {
  const auto frame = encode_frame(message);
  std::size_t done = 0;
  bool fds_sent = fds.empty();
  while (done < frame.size()) {
    // MSG_NOSIGNAL (send_with_fds): a peer that went away is a false
    // return, not SIGPIPE. The fds go with the first part sent.
    const ssize_t n = send_with_fds(socket_fd, frame.data() + done, frame.size() - done, fds.data(),
                                    fds_sent ? 0 : fds.size());
    if (n <= 0) return false;
    fds_sent = true;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

std::optional<ReceivedFrame> receive_frame(int socket_fd, std::optional<std::chrono::steady_clock::time_point> deadline) {
  ReceivedFrame frame;
  unsigned char header[kFrameHeaderBytes];
  const auto got = receive_exactly(socket_fd, reinterpret_cast<char*>(header), sizeof header, frame.fds, deadline);
  if (got == 0 && frame.fds.empty()) return std::nullopt;
  if (got != sizeof header) throw ProtocolError(ErrorCode::malformed, "the connection ended inside a message");
  std::string body(frame_length(header), '\0');
  if (receive_exactly(socket_fd, body.data(), body.size(), frame.fds, deadline) != body.size())
    throw ProtocolError(ErrorCode::malformed, "the connection ended inside a message");
  frame.message = parse_message(body);
  return frame;
}

}  // namespace tierbox::daemon
