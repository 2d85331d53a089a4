// --console-socket: a new pseudo-terminal for a container with
// process.terminal, its master sent to the engine over the unix socket it
// names (SCM_RIGHTS, with the terminal's name as the message, as runc does);
// the slave becomes the container's stdio.
#pragma once

#include <string>

#include "common/unique_fd.h"

namespace tierbox::oci {

struct Pty {
  UniqueFd master;
  UniqueFd slave;
  std::string name;  // /dev/pts/N
};

Pty open_pty();

// Connects to socket_path and sends the master; throws Error naming the call.
void send_console(const std::string& socket_path, const Pty& pty);

}  // namespace tierbox::oci
