#include "stages/uts.h"

#include <unistd.h>

#include <cstring>

namespace tierbox::stages {

bool set_host_name(const char* hostname, ChildFailure& failure) noexcept {
  if (::sethostname(hostname, std::strlen(hostname)) != 0) return failure.fail_errno("sethostname", hostname);
  // The new UTS namespace starts with a copy of the host's domain name.
  if (::setdomainname("(none)", 6) != 0) return failure.fail_errno("setdomainname", "(none)");
  return true;
}

}  // namespace tierbox::stages
