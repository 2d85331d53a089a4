#include "stages/loopback.h"

#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

namespace tierbox::stages {

bool bring_up_loopback(ChildFailure& failure) noexcept {
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return failure.fail_errno("socket(AF_INET, SOCK_DGRAM)");
  struct ifreq request {};
  std::strncpy(request.ifr_name, "lo", IFNAMSIZ - 1);
  bool ok = ::ioctl(fd, SIOCGIFFLAGS, &request) == 0;
  if (ok) {
    request.ifr_flags = static_cast<short>(request.ifr_flags | IFF_UP | IFF_RUNNING);
    ok = ::ioctl(fd, SIOCSIFFLAGS, &request) == 0;
  }
  if (!ok) failure.fail_errno("ioctl(SIOCSIFFLAGS, IFF_UP)", "lo");
  ::close(fd);
  return ok;
}

}  // namespace tierbox::stages
