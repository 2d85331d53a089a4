// Who is at the other end of the daemon's socket, from the kernel only:
// SO_PEERCRED (uid, gid, pid, fixed when the client connected),
// SO_PEERGROUPS (its supplementary groups) and, where the kernel has it
// (Linux 6.5+), SO_PEERPIDFD: a pidfd of the client, so a pid that is
// recycled after the client died is never taken for it. Nothing a client
// writes in a message says who it is.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "common/unique_fd.h"

namespace tierbox::daemon {

struct PeerIdentity {
  uid_t uid = 0;
  gid_t gid = 0;
  pid_t pid = 0;
  std::vector<gid_t> groups;  // supplementary, as the kernel reports them
  std::string user_name;      // from /etc/passwd, "" when none
  UniqueFd pidfd;             // -1 when the kernel has no SO_PEERPIDFD
};

// Throws SysError when SO_PEERCRED or SO_PEERGROUPS fails.
PeerIdentity read_peer_identity(int socket_fd);

}  // namespace tierbox::daemon
