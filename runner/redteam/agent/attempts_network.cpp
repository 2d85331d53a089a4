// The agent's network moves: TCP and UDP to an address, host services over
// unix sockets, name resolution, the sandbox's own loopback.
#include <arpa/inet.h>
#include <dirent.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "redteam/agent/agent.h"

namespace tierbox::redteam::agent {
namespace {

constexpr int kTimeoutMs = 1500;

bool parse_address(const std::string& host_port, sockaddr_in& address) {
  const auto colon = host_port.rfind(':');
  if (colon == std::string::npos) return false;
  address = {};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(std::stoi(host_port.substr(colon + 1))));
  return ::inet_pton(AF_INET, host_port.substr(0, colon).c_str(), &address.sin_addr) == 1;
}

// "ok", the errno's name, or "timeout".
std::string connect_within(int fd, const sockaddr* address, socklen_t length) {
  if (::connect(fd, address, length) == 0) return "ok";
  if (errno != EINPROGRESS) return errno_name(errno);
  struct pollfd wait_for {fd, POLLOUT, 0};
  if (::poll(&wait_for, 1, kTimeoutMs) <= 0) return "timeout";
  int err = 0;
  socklen_t size = sizeof err;
  ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &size);
  return errno_name(err);
}

void find_sockets(const std::string& directory, int depth, std::vector<std::string>& found) {
  DIR* dir = ::opendir(directory.c_str());
  if (!dir) return;
  while (auto* entry = ::readdir(dir)) {
    const std::string name = entry->d_name;
    if (name == "." || name == ".." || found.size() >= 64) continue;
    const auto path = (directory == "/" ? "" : directory) + "/" + name;
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) continue;
    if (S_ISSOCK(st.st_mode) && std::find(found.begin(), found.end(), path) == found.end()) found.push_back(path);
    if (S_ISDIR(st.st_mode) && depth > 0 && path != "/proc" && path != "/sys" && path != "/dev" && path != "/usr")
      find_sockets(path, depth - 1, found);
  }
  ::closedir(dir);
}

}  // namespace

json connect_tcp(const std::string& host_port) {
  sockaddr_in address;
  if (!parse_address(host_port, address)) return outcome("bad address");
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return failed_with(errno, "socket");
  const auto result = connect_within(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  ::close(fd);
  return outcome(result);
}

// A datagram out and an answer back: "ok" only when something answered
// (a DNS server, say); a send that the kernel takes proves nothing.
json udp_exchange(const std::string& host_port) {
  sockaddr_in address;
  if (!parse_address(host_port, address)) return outcome("bad address");
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return failed_with(errno, "socket");
  std::string result;
  // A DNS query for "exfil.invalid", A record: what a DNS tunnel sends.
  static const unsigned char query[] = {0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 5, 'e', 'x', 'f', 'i', 'l',
                                        7, 'i', 'n', 'v', 'a', 'l', 'i', 'd', 0, 0, 1, 0, 1};
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::send(fd, query, sizeof query, 0) < 0) {
    result = errno_name(errno);
  } else {
    struct pollfd wait_for {fd, POLLIN, 0};
    char answer[512];
    if (::poll(&wait_for, 1, kTimeoutMs) <= 0) result = "timeout";
    else result = ::recv(fd, answer, sizeof answer, 0) >= 0 ? "ok" : errno_name(errno);
  }
  ::close(fd);
  return outcome(result);
}

// Every listening unix socket the sandbox can see (docker.sock, an ssh or
// gpg agent, a database): "ok" names the ones a connect reached.
json unix_sockets() {
  std::vector<std::string> found;
  for (const char* top : {"/run", "/var/run", "/tmp", "/workspace", "/home", "/root", "/var/lib", "/"})
    find_sockets(top, std::string(top) == "/" ? 1 : 3, found);
  json reached = json::array();
  for (const auto& path : found) {
    sockaddr_un address {};
    address.sun_family = AF_UNIX;
    if (path.size() >= sizeof address.sun_path) continue;
    std::memcpy(address.sun_path, path.c_str(), path.size());
    for (int type : {SOCK_STREAM, SOCK_SEQPACKET, SOCK_DGRAM}) {
      const int fd = ::socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
      if (fd < 0) continue;
      const auto result = connect_within(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
      ::close(fd);
      if (result == "ok") {
        reached.push_back(path);
        break;
      }
      if (result != "EPROTOTYPE") break;
    }
  }
  if (!reached.empty()) return outcome("ok", reached);
  return outcome(found.empty() ? "none visible" : "none reachable", json(found));
}

json resolve(const std::string& name) {
  struct addrinfo hints {};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  struct addrinfo* found = nullptr;
  const int rc = ::getaddrinfo(name.c_str(), nullptr, &hints, &found);
  if (rc != 0) return outcome(rc == EAI_NONAME ? "EAI_NONAME" : ::gai_strerror(rc));
  char text[INET_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(found->ai_addr)->sin_addr, text, sizeof text);
  ::freeaddrinfo(found);
  return outcome("ok", text);
}

// The sandbox's own 127.0.0.1: serve and connect. "ok" is expected in every
// tier (a network namespace has its own loopback); it is the control for the
// blocked moves: sockets work, only the destinations are refused.
json loopback() {
  const int server = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (server < 0) return failed_with(errno, "socket");
  sockaddr_in address {};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  std::string result;
  if (::bind(server, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 || ::listen(server, 1) != 0 ||
      ::getsockname(server, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    result = errno_name(errno);
  } else {
    const int client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    result = connect_within(client, reinterpret_cast<sockaddr*>(&address), sizeof address);
    ::close(client);
  }
  ::close(server);
  return outcome(result);
}

}  // namespace tierbox::redteam::agent
