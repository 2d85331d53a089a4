#include "launch/sync.h"

#include <sys/socket.h>

#include <cerrno>

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

}  // namespace tierbox::launch
