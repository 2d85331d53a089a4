#include "common/run_id.h"

#include <sys/random.h>

#include <cstdio>

#include "common/errors.h"

namespace tierbox {

std::string new_run_id() {
  unsigned char bytes[8];
  if (::getrandom(bytes, sizeof bytes, 0) != static_cast<ssize_t>(sizeof bytes)) throw_sys_error("getrandom(8)");
  char hex[sizeof bytes * 2 + 1];
  for (std::size_t i = 0; i < sizeof bytes; ++i) std::snprintf(hex + 2 * i, 3, "%02x", bytes[i]);
  return hex;
}

}  // namespace tierbox
