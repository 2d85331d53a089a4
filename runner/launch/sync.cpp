#include "launch/sync.h"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "common/fd_passing.h"

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

// The SCM_RIGHTS packing is common/fd_passing's (no allocation, safe here
// after clone); these wrappers keep the sync protocol's own part: at most
// kMaxSyncFds per message, a whole SyncMessage or EPIPE, the expected sync
// point or EPROTO, and the child's bool-and-errno style.
bool send_sync_with_fds(int fd, const SyncMessage& message, const int* fds, std::size_t count) noexcept {
  if (count == 0) return send_sync(fd, message);
  if (count > kMaxSyncFds) {
    errno = E2BIG;
    return false;
  }
  return send_with_fds(fd, &message, sizeof message, fds, count) == static_cast<ssize_t>(sizeof message);
}

bool receive_sync_with_fds(int fd, SyncKind expected, int* fds, std::size_t* count) noexcept {
  SyncMessage message;
  return receive_sync_message(fd, expected, message, fds, count);
}

bool receive_sync_message(int fd, SyncKind expected, SyncMessage& message, int* fds, std::size_t* count) noexcept {
  // More fds than kMaxSyncFds: the kernel drops the rest (MSG_CTRUNC) and
  // receive_with_fds refuses the message with EMSGSIZE (the child exits).
  const ssize_t received = receive_with_fds(fd, &message, sizeof message, fds, kMaxSyncFds, count);
  if (received != static_cast<ssize_t>(sizeof message)) {
    if (received >= 0) errno = EPIPE;
    return false;
  }
  if (message.kind != expected) {
    errno = EPROTO;
    return false;
  }
  return true;
}

}  // namespace tierbox::launch
