#include "launch/sync.h"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace tierbox::launch {

bool send_sync(int fd, const SyncMessage& message) noexcept {
  ssize_t sent;
  do {
    sent = ::send(fd, &message, sizeof message, MSG_NOSIGNAL);
  } while (sent < 0 && errno == EINTR);
  return sent == static_cast<ssize_t>(sizeof message);
}

bool receive_sync(int fd, SyncKind expected) noexcept {
  SyncMessage message;
  ssize_t received;
  do {
    received = ::recv(fd, &message, sizeof message, 0);
  } while (received < 0 && errno == EINTR);
  if (received != static_cast<ssize_t>(sizeof message)) {
    if (received >= 0) errno = EPIPE;  // EOF: the parent died or gave up
    return false;
  }
  if (message.kind != expected) {
    errno = EPROTO;
    return false;
  }
  return true;
}

bool send_sync_with_fds(int fd, const SyncMessage& message, const int* fds, std::size_t count) noexcept {
  if (count == 0) return send_sync(fd, message);
  if (count > kMaxSyncFds) {
    errno = E2BIG;
    return false;
  }
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxSyncFds)] = {};
  struct iovec data {const_cast<SyncMessage*>(&message), sizeof message};
  struct msghdr header {};
  header.msg_iov = &data;
  header.msg_iovlen = 1;
  header.msg_control = control;
  header.msg_controllen = CMSG_SPACE(sizeof(int) * count);
  struct cmsghdr* rights = CMSG_FIRSTHDR(&header);
  rights->cmsg_level = SOL_SOCKET;
  rights->cmsg_type = SCM_RIGHTS;
  rights->cmsg_len = CMSG_LEN(sizeof(int) * count);
  std::memcpy(CMSG_DATA(rights), fds, sizeof(int) * count);
  ssize_t sent;
  do {
    sent = ::sendmsg(fd, &header, MSG_NOSIGNAL);
  } while (sent < 0 && errno == EINTR);
  return sent == static_cast<ssize_t>(sizeof message);
}

bool receive_sync_with_fds(int fd, SyncKind expected, int* fds, std::size_t* count) noexcept {
  SyncMessage message;
  return receive_sync_message(fd, expected, message, fds, count);
}

bool receive_sync_message(int fd, SyncKind expected, SyncMessage& message, int* fds, std::size_t* count) noexcept {
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxSyncFds)] = {};
  struct iovec data {&message, sizeof message};
  struct msghdr header {};
  header.msg_iov = &data;
  header.msg_iovlen = 1;
  header.msg_control = control;
  header.msg_controllen = sizeof control;
  *count = 0;
  ssize_t received;
  do {
    received = ::recvmsg(fd, &header, MSG_CMSG_CLOEXEC);
  } while (received < 0 && errno == EINTR);
  for (struct cmsghdr* item = CMSG_FIRSTHDR(&header); item; item = CMSG_NXTHDR(&header, item)) {
    if (item->cmsg_level != SOL_SOCKET || item->cmsg_type != SCM_RIGHTS) continue;
    const std::size_t n = (item->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    std::memcpy(fds + *count, CMSG_DATA(item), sizeof(int) * n);
    *count += n;
  }
  if (received != static_cast<ssize_t>(sizeof message)) {
    if (received >= 0) errno = EPIPE;
    return false;
  }
  // More fds than room: the kernel dropped some. Refuse (the child exits).
  if (header.msg_flags & MSG_CTRUNC) {
    errno = EMSGSIZE;
    return false;
  }
  if (message.kind != expected) {
    errno = EPROTO;
    return false;
  }
  return true;
}

}  // namespace tierbox::launch
