#include "daemon/peer.h"

#include <sys/socket.h>

#include <cerrno>

#include "common/errors.h"
#include "common/users.h"

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77  // Linux 6.5; Debian 12's headers predate it
#endif

namespace tierbox::daemon {

PeerIdentity read_peer_identity(int socket_fd) {
  PeerIdentity peer;
  ucred credentials{};
  socklen_t size = sizeof credentials;
  if (::getsockopt(socket_fd, SOL_SOCKET, SO_PEERCRED, &credentials, &size) != 0)
    throw_sys_error("getsockopt(SO_PEERCRED)");
  peer.uid = credentials.uid;
  peer.gid = credentials.gid;
  peer.pid = credentials.pid;
  // SO_PEERGROUPS says how much room it needs with ERANGE.
  std::vector<gid_t> groups(32);
  while (true) {
    socklen_t bytes = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
    if (::getsockopt(socket_fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &bytes) == 0) {
      groups.resize(bytes / sizeof(gid_t));
      break;
    }
    if (errno != ERANGE || bytes / sizeof(gid_t) <= groups.size() || groups.size() > 65536)
      throw_sys_error("getsockopt(SO_PEERGROUPS)");
    groups.resize(bytes / sizeof(gid_t));
  }
  peer.groups = std::move(groups);
  int pidfd = -1;
  socklen_t pidfd_size = sizeof pidfd;
  if (::getsockopt(socket_fd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &pidfd_size) == 0) peer.pidfd.reset(pidfd);
  peer.user_name = user_name(peer.uid);
  return peer;
}

}  // namespace tierbox::daemon
