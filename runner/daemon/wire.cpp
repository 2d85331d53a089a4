#include "daemon/wire.h"

#include <sys/socket.h>
#include <sys/time.h>

#include <cerrno>
#include <cstring>

#include "common/errors.h"
#include "daemon/protocol.h"

namespace tierbox::daemon {
namespace {

timeval to_timeval(std::chrono::milliseconds duration) {
  return timeval{static_cast<time_t>(duration.count() / 1000), static_cast<suseconds_t>((duration.count() % 1000) * 1000)};
}

// Reads exactly size bytes (fewer only at EOF: returns how many), taking any
// fds that come along. EAGAIN (SO_RCVTIMEO) is a timeout.
std::size_t receive_exactly(int socket_fd, char* data, std::size_t size, std::vector<UniqueFd>& fds) {
  std::size_t done = 0;
  while (done < size) {
    iovec io{data + done, size - done};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * (kMaxMessageFds + 1))];
    msghdr header{};
    header.msg_iov = &io;
    header.msg_iovlen = 1;
    header.msg_control = control;
    header.msg_controllen = sizeof control;
    const ssize_t n = ::recvmsg(socket_fd, &header, MSG_CMSG_CLOEXEC);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      throw ProtocolError(ErrorCode::timeout, "no complete message in time");
    if (n < 0) throw ProtocolError(ErrorCode::malformed, "recvmsg: " + errno_text(errno));
    for (cmsghdr* message = CMSG_FIRSTHDR(&header); message; message = CMSG_NXTHDR(&header, message)) {
      if (message->cmsg_level != SOL_SOCKET || message->cmsg_type != SCM_RIGHTS) continue;
      const std::size_t count = (message->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (std::size_t i = 0; i < count; ++i) {
        int fd = -1;
        std::memcpy(&fd, CMSG_DATA(message) + i * sizeof(int), sizeof fd);
        fds.emplace_back(fd);  // owned at once, so a refused message closes them
      }
    }
    if ((header.msg_flags & MSG_CTRUNC) || fds.size() > kMaxMessageFds)
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
    iovec io{const_cast<char*>(frame.data()) + done, frame.size() - done};
    msghdr header{};
    header.msg_iov = &io;
    header.msg_iovlen = 1;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxMessageFds)] = {};
    if (!fds_sent) {
      header.msg_control = control;
      header.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
      cmsghdr* rights = CMSG_FIRSTHDR(&header);
      rights->cmsg_level = SOL_SOCKET;
      rights->cmsg_type = SCM_RIGHTS;
      rights->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
      std::memcpy(CMSG_DATA(rights), fds.data(), sizeof(int) * fds.size());
    }
    // MSG_NOSIGNAL: a peer that went away is a false return, not SIGPIPE.
    const ssize_t n = ::sendmsg(socket_fd, &header, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    fds_sent = true;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

std::optional<ReceivedFrame> receive_frame(int socket_fd) {
  ReceivedFrame frame;
  unsigned char header[kFrameHeaderBytes];
  const auto got = receive_exactly(socket_fd, reinterpret_cast<char*>(header), sizeof header, frame.fds);
  if (got == 0 && frame.fds.empty()) return std::nullopt;
  if (got != sizeof header) throw ProtocolError(ErrorCode::malformed, "the connection ended inside a message");
  std::string body(frame_length(header), '\0');
  if (receive_exactly(socket_fd, body.data(), body.size(), frame.fds) != body.size())
    throw ProtocolError(ErrorCode::malformed, "the connection ended inside a message");
  frame.message = parse_message(body);
  return frame;
}

}  // namespace tierbox::daemon
