// tierboxd's listening side: the socket (its own, or the one systemd passes
// with LISTEN_FDS), the accept loop, one thread per connection, and an
// orderly stop on SIGTERM/SIGINT: every live task is killed, its end record
// written ("stopped: the daemon stopped"), before the daemon exits.
#pragma once

#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <string>

#include "common/unique_fd.h"
#include "daemon/limits.h"
#include "daemon/session.h"

namespace tierbox::daemon {

struct SocketSettings {
  std::filesystem::path path = "/run/tierbox/tierbox.sock";
  mode_t mode = 0660;
  std::string group = "tierbox";  // the socket's group; missing: root's group, with a warning
};

// The socket systemd passed (LISTEN_PID is this process, LISTEN_FDS >= 1:
// fd 3), or none.
UniqueFd socket_from_systemd();
// Binds a new listening socket at settings.path: its directory made if
// missing (0755), a stale socket nobody listens on replaced; refuses when
// another daemon listens there. Throws Error.
UniqueFd bind_socket(const SocketSettings& settings);

// Serves until SIGTERM, SIGINT or SIGHUP; returns the exit status.
int serve(UniqueFd listener, DaemonContext& context);

}  // namespace tierbox::daemon
