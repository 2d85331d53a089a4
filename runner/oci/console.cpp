#include "oci/console.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include "common/errors.h"
#include "common/fd_passing.h"

namespace tierbox::oci {

Pty open_pty() {
  Pty pty;
  pty.master = UniqueFd(::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!pty.master) throw_sys_error("posix_openpt(O_RDWR|O_NOCTTY|O_CLOEXEC)");
  if (::grantpt(pty.master.get()) != 0) throw_sys_error("grantpt(console master)");
  if (::unlockpt(pty.master.get()) != 0) throw_sys_error("unlockpt(console master)");
  char name[128];
  if (::ptsname_r(pty.master.get(), name, sizeof name) != 0) throw_sys_error("ptsname_r(console master)");
  pty.name = name;
  pty.slave = UniqueFd(::open(name, O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!pty.slave) throw_sys_error("open(" + quote(pty.name) + ", O_RDWR|O_NOCTTY)");
  return pty;
}

void send_console(const std::string& socket_path, const Pty& pty) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof address.sun_path)
    throw Error("--console-socket " + quote(socket_path) + ": path too long for a unix socket (fix: a shorter path)",
                exit_code::runner_failed);
  std::memcpy(address.sun_path, socket_path.c_str(), socket_path.size() + 1);
  UniqueFd socket_fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!socket_fd) throw_sys_error("socket(AF_UNIX, SOCK_STREAM)");
  if (::connect(socket_fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0)
    throw_sys_error("connect(--console-socket " + quote(socket_path) + ")");
  // The pty's name as the message, its master as the one fd (what runc
  // sends and engines expect).
  const int fd = pty.master.get();
  if (send_with_fds(socket_fd.get(), pty.name.data(), pty.name.size(), &fd, 1) < 0)
    throw_sys_error("sendmsg(--console-socket " + quote(socket_path) + ", the console's master)");
}

}  // namespace tierbox::oci
