#include "net/channel.h"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "common/fd_passing.h"

namespace tierbox::net {

bool send_message(int socket, const std::string& text, int fd_to_pass) {
  const std::size_t count = fd_to_pass >= 0 ? 1 : 0;
  return send_with_fds(socket, text.data(), text.size(), &fd_to_pass, count) == static_cast<ssize_t>(text.size());
}

ReceivedMessage receive_message(int socket, int timeout_ms) {
  struct pollfd wait_for {socket, POLLIN, 0};
  int ready;
  do {
    ready = ::poll(&wait_for, 1, timeout_ms);
  } while (ready < 0 && errno == EINTR);
  if (ready < 0) throw std::runtime_error(std::string("poll(network helper channel): ") + std::strerror(errno));
  if (ready == 0) throw std::runtime_error("timed out waiting on the network helper channel");
  std::vector<char> buffer(kMaxMessageBytes);
  int fd = -1;
  std::size_t fd_count = 0;
  ssize_t received;
  bool reset_seen = false;
  for (;;) {
    received = receive_with_fds(socket, buffer.data(), buffer.size(), &fd, 1, &fd_count);
    // A peer that exits with a message of ours unread makes the kernel
    // report ECONNRESET once, ahead of what the peer sent before exiting,
    // which is still queued: read on. A second one is the end.
    if (received < 0 && errno == ECONNRESET) {
      if (reset_seen) {
        received = 0;
        break;
      }
      reset_seen = true;
      continue;
    }
    break;
  }
  ReceivedMessage result;
  // EMSGSIZE: more than one fd or more than kMaxMessageBytes (the fd that
  // came is already closed).
  if (received < 0 && errno == EMSGSIZE) throw std::runtime_error("network helper message truncated");
  if (received < 0) throw std::runtime_error(std::string("recvmsg(network helper channel): ") + std::strerror(errno));
  if (fd_count == 1) result.fd.reset(fd);
  result.end_of_file = received == 0;
  result.text.assign(buffer.data(), static_cast<std::size_t>(received));
  return result;
}

}  // namespace tierbox::net
