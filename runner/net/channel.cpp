#include "net/channel.h"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace tierbox::net {

bool send_message(int socket, const std::string& text, int fd_to_pass) {
  struct iovec data {const_cast<char*>(text.data()), text.size()};
  struct msghdr message {};
  message.msg_iov = &data;
  message.msg_iovlen = 1;
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  if (fd_to_pass >= 0) {
    message.msg_control = control;
    message.msg_controllen = sizeof control;
    struct cmsghdr* header = CMSG_FIRSTHDR(&message);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(header), &fd_to_pass, sizeof(int));
  }
  ssize_t sent;
  do {
    sent = ::sendmsg(socket, &message, MSG_NOSIGNAL);
  } while (sent < 0 && errno == EINTR);
  return sent == static_cast<ssize_t>(text.size());
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
  struct iovec data {buffer.data(), buffer.size()};
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  struct msghdr message {};
  message.msg_iov = &data;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = sizeof control;
  ssize_t received;
  bool reset_seen = false;
  do {
    received = ::recvmsg(socket, &message, MSG_CMSG_CLOEXEC);
    // A peer that exits with a message of ours unread makes the kernel
    // report ECONNRESET once, ahead of what the peer sent before exiting,
    // which is still queued: read on. A second one is the end.
    if (received < 0 && errno == ECONNRESET) {
      if (reset_seen) received = 0;
      reset_seen = true;
      errno = EINTR;
    }
  } while (received < 0 && errno == EINTR);
  ReceivedMessage result;
  if (received < 0) throw std::runtime_error(std::string("recvmsg(network helper channel): ") + std::strerror(errno));
  for (auto* header = CMSG_FIRSTHDR(&message); header; header = CMSG_NXTHDR(&message, header)) {
    if (header->cmsg_level == SOL_SOCKET && header->cmsg_type == SCM_RIGHTS) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(header), sizeof fd);
      result.fd.reset(fd);
    }
  }
  if (message.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) throw std::runtime_error("network helper message truncated");
  result.end_of_file = received == 0;
  result.text.assign(buffer.data(), static_cast<std::size_t>(received));
  return result;
}

}  // namespace tierbox::net
