// SCM_RIGHTS packing and unpacking (fd_passing.h says who uses it and why it
// must not allocate).
#include "common/fd_passing.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace tierbox {
namespace {

// Room for the most fds one message may carry, aligned for cmsghdr.
struct ControlBuffer {
  alignas(struct cmsghdr) char bytes[CMSG_SPACE(sizeof(int) * kMaxFdsPerMessage)];
};

void close_received(int* fds, std::size_t* count) noexcept {
  for (std::size_t i = 0; i < *count; ++i) {
    ::close(fds[i]);
    fds[i] = -1;
  }
  *count = 0;
}

}  // namespace

ssize_t send_with_fds(int socket, const void* data, std::size_t size, const int* fds, std::size_t count) noexcept {
  if (count > kMaxFdsPerMessage) {
    errno = E2BIG;
    return -1;
  }
  struct iovec io {const_cast<void*>(data), size};
  struct msghdr header {};
  header.msg_iov = &io;
  header.msg_iovlen = 1;
  ControlBuffer control = {};
  if (count > 0) {
    header.msg_control = control.bytes;
    header.msg_controllen = CMSG_SPACE(sizeof(int) * count);
    struct cmsghdr* rights = CMSG_FIRSTHDR(&header);
    rights->cmsg_level = SOL_SOCKET;
    rights->cmsg_type = SCM_RIGHTS;
    rights->cmsg_len = CMSG_LEN(sizeof(int) * count);
    std::memcpy(CMSG_DATA(rights), fds, sizeof(int) * count);
  }
  ssize_t sent;
  do {
    sent = ::sendmsg(socket, &header, MSG_NOSIGNAL);
  } while (sent < 0 && errno == EINTR);
  return sent;
}

ssize_t receive_with_fds(int socket, void* data, std::size_t size, int* fds, std::size_t max_fds, std::size_t* count,
                         int flags) noexcept {
  *count = 0;
  if (max_fds > kMaxFdsPerMessage) max_fds = kMaxFdsPerMessage;
  struct iovec io {data, size};
  struct msghdr header {};
  header.msg_iov = &io;
  header.msg_iovlen = 1;
  ControlBuffer control;
  if (max_fds > 0) {
    header.msg_control = control.bytes;
    // Room for max_fds: more and the kernel sets MSG_CTRUNC (closing what
    // did not fit), which is refused below.
    header.msg_controllen = CMSG_SPACE(sizeof(int) * max_fds);
  }
  ssize_t received;
  do {
    received = ::recvmsg(socket, &header, MSG_CMSG_CLOEXEC | flags);
  } while (received < 0 && errno == EINTR);
  if (received < 0) return -1;
  // CMSG_SPACE rounds up to the alignment of a long, so for an odd max_fds
  // the buffer holds one fd more than asked: that one is an overflow too,
  // closed here rather than leaked.
  bool overflow = false;
  for (struct cmsghdr* item = CMSG_FIRSTHDR(&header); item; item = CMSG_NXTHDR(&header, item)) {
    if (item->cmsg_level != SOL_SOCKET || item->cmsg_type != SCM_RIGHTS) continue;
    const std::size_t n = (item->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (std::size_t i = 0; i < n; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(item) + i * sizeof(int), sizeof fd);
      if (*count < max_fds) {
        fds[(*count)++] = fd;
      } else {
        ::close(fd);
        overflow = true;
      }
    }
  }
  if (overflow || (header.msg_flags & (MSG_CTRUNC | MSG_TRUNC))) {
    close_received(fds, count);
    errno = EMSGSIZE;
    return -1;
  }
  return received;
}

}  // namespace tierbox
