#include "audit/syslog.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "common/errors.h"
#include "common/logging.h"
#include "common/unique_fd.h"

namespace tierbox::audit {

namespace {
constexpr int kAuthprivInfo = (10 << 3) | 6;
}

std::string syslog_message(const nlohmann::json& record, int pid) {
  return "<" + std::to_string(kAuthprivInfo) + ">tierbox[" + std::to_string(pid) + "]: " + record.dump();
}

bool forward_to_syslog(const std::string& socket_path, const nlohmann::json& record) {
  struct sockaddr_un address {};
  address.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof address.sun_path) {
    logging::warn("audit_syslog: {}: path too long; record {} not forwarded", socket_path, record.value("seq", 0));
    return false;
  }
  std::memcpy(address.sun_path, socket_path.c_str(), socket_path.size() + 1);
  UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  const auto message = syslog_message(record, ::getpid());
  if (!fd || ::sendto(fd.get(), message.data(), message.size(), MSG_DONTWAIT | MSG_NOSIGNAL,
                      reinterpret_cast<const sockaddr*>(&address), sizeof address) < 0) {
    logging::warn("audit_syslog: sendto({}): {}; record {} is in the audit log but was not forwarded", socket_path,
                  errno_text(errno), record.value("seq", 0));
    return false;
  }
  return true;
}

}  // namespace tierbox::audit
