// Network attempts: loopback, TCP and UDP connections, resolution, unix sockets, the firewall.
#include "probe.h"

#include <arpa/inet.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <netdb.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <iostream>
#include <utility>

namespace probe {
namespace {

// The first IPv4 address of host (a literal or a name), or "" with error set.
std::string resolve_one(const std::string& host, std::string& error) {
  struct addrinfo hints {};
  hints.ai_family = AF_INET;
  struct addrinfo* found = nullptr;
  int rc = getaddrinfo(host.c_str(), nullptr, &hints, &found);
  if (rc != 0) {
    error = rc == EAI_NONAME ? "EAI_NONAME" : gai_strerror(rc);
    return "";
  }
  char text[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(found->ai_addr)->sin_addr, text, sizeof text);
  freeaddrinfo(found);
  return text;
}

// Waits until fd is ready for events, up to 2 s: "ok", "timeout" or the error.
std::string wait_ready(int fd, short events) {
  struct pollfd wait_for {fd, events, 0};
  int ready = poll(&wait_for, 1, 2000);
  if (ready == 0) return "timeout";
  if (ready < 0) return errno_name(errno);
  int err = 0;
  socklen_t length = sizeof err;
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &length);
  return err ? errno_name(err) : "ok";
}

// A connected socket (nonblocking) and how the connect went.
std::pair<int, std::string> open_connection(bool tcp, const std::string& host, int port) {
  std::string error;
  std::string address_text = resolve_one(host, error);
  if (address_text.empty()) return {-1, error};
  int fd = socket(AF_INET, (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  struct sockaddr_in address {};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, address_text.c_str(), &address.sin_addr);
  int rc = connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  std::string outcome = rc == 0 ? "ok" : errno_name(errno);
  if (rc < 0 && errno == EINPROGRESS) outcome = wait_ready(fd, POLLOUT);
  return {fd, outcome};
}

// Sends text and expects it echoed: "ok", "timeout", or the error.
std::string echo(int fd, const std::string& text) {
  if (send(fd, text.data(), text.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(text.size())) return errno_name(errno);
  std::string received;
  while (received.size() < text.size()) {
    std::string ready = wait_ready(fd, POLLIN);
    if (ready != "ok") return ready;
    char buffer[256];
    ssize_t n = recv(fd, buffer, sizeof buffer, 0);
    if (n < 0 && errno == EAGAIN) continue;
    if (n <= 0) return n == 0 ? "closed" : errno_name(errno);
    received.append(buffer, static_cast<std::size_t>(n));
  }
  return received == text ? "ok" : "garbled";
}

// The default gateway, from /proc/net/route ("" without one).
std::string default_gateway() {
  std::istringstream routes(read_text("/proc/net/route"));
  std::string line;
  std::getline(routes, line);  // header
  while (std::getline(routes, line)) {
    std::istringstream fields(line);
    std::string interface, destination, gateway;
    fields >> interface >> destination >> gateway;
    if (destination != "00000000") continue;
    struct in_addr address {};
    address.s_addr = static_cast<in_addr_t>(std::stoul(gateway, nullptr, 16));
    return inet_ntoa(address);
  }
  return "";
}

bool wait_for_file(const std::string& path) {
  for (int i = 0; i < 600; ++i) {
    if (access(path.c_str(), F_OK) == 0) return true;
    usleep(50000);
  }
  return false;
}

}  // namespace

json loopback() {
  json report;
  int server = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in address {};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  report["bind"] = result(bind(server, reinterpret_cast<sockaddr*>(&address), sizeof address));
  report["listen"] = result(listen(server, 1));
  socklen_t length = sizeof address;
  getsockname(server, reinterpret_cast<sockaddr*>(&address), &length);
  int client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  report["connect"] = result(connect(client, reinterpret_cast<sockaddr*>(&address), sizeof address));
  int accepted = accept(server, nullptr, nullptr);
  const char message[] = "ping";
  bool echoed = false;
  if (accepted >= 0 && write(client, message, 4) == 4) {
    char buffer[4];
    echoed = read(accepted, buffer, 4) == 4 && std::memcmp(buffer, message, 4) == 0;
  }
  report["exchanged"] = echoed;
  return report;
}

json connect_tcp(const std::string& host, int port) {
  int fd = socket(host.find(':') != std::string::npos ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  int rc;
  if (host.find(':') != std::string::npos) {
    struct sockaddr_in6 address {};
    address.sin6_family = AF_INET6;
    address.sin6_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET6, host.c_str(), &address.sin6_addr);
    rc = connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  } else {
    struct sockaddr_in address {};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, host.c_str(), &address.sin_addr);
    rc = connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  }
  std::string outcome = result(rc);
  if (rc < 0 && errno == EINPROGRESS) {
    struct pollfd wait_for {fd, POLLOUT, 0};
    int ready = poll(&wait_for, 1, 2000);
    if (ready == 0) outcome = "timeout";
    else {
      int err = 0;
      socklen_t length = sizeof err;
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &length);
      outcome = errno_name(err);
    }
  }
  return {{"connect", outcome}};
}

json resolve(const std::vector<std::string>& names) {
  json report = json::object();
  for (const auto& name : names) {
    struct addrinfo hints {};
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    struct addrinfo* found = nullptr;
    int rc = getaddrinfo(name.c_str(), nullptr, &hints, &found);
    if (rc != 0) {
      report[name] = rc == EAI_NONAME ? "EAI_NONAME" : std::string(gai_strerror(rc));
      continue;
    }
    json list = json::array();
    for (auto* it = found; it; it = it->ai_next) {
      char text[INET_ADDRSTRLEN] = {};
      inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(it->ai_addr)->sin_addr, text, sizeof text);
      list.push_back(text);
    }
    freeaddrinfo(found);
    report[name] = list;
  }
  return report;
}

// IPv6 addresses of each name (AF_INET6): the error, or the addresses.
json resolve6(const std::vector<std::string>& names) {
  json report = json::object();
  for (const auto& name : names) {
    struct addrinfo hints {};
    hints.ai_family = AF_INET6;
    hints.ai_socktype = SOCK_STREAM;
    struct addrinfo* found = nullptr;
    int rc = getaddrinfo(name.c_str(), nullptr, &hints, &found);
    if (rc != 0) {
      report[name] = gai_strerror(rc);
      continue;
    }
    json list = json::array();
    for (auto* it = found; it; it = it->ai_next) {
      char text[INET6_ADDRSTRLEN] = {};
      inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(it->ai_addr)->sin6_addr, text, sizeof text);
      list.push_back(text);
    }
    freeaddrinfo(found);
    report[name] = list;
  }
  return report;
}

json exchange(const std::string& protocol, const std::string& host, int port) {
  auto [fd, connected] = open_connection(protocol == "tcp", host, port);
  json report = {{"connect", connected}};
  report["echo"] = connected == "ok" ? echo(fd, "tierbox-probe " + protocol) : "not connected";
  report["exchanged"] = report["echo"] == "ok";
  if (fd >= 0) close(fd);
  return report;
}

// HOST may be "gateway": the sandbox's default gateway (the host's end).
json connect_many(const std::vector<std::string>& targets) {
  json report = json::object();
  for (const auto& target : targets) {
    auto colon = target.rfind(':');
    std::string host = target.substr(0, colon);
    if (host == "gateway") host = default_gateway();
    auto [fd, outcome] = open_connection(true, host, std::stoi(target.substr(colon + 1)));
    report[target] = outcome;
    if (fd >= 0) close(fd);
  }
  return report;
}

json resolve_after(const std::string& trigger, const std::vector<std::string>& names) {
  json report;
  report["before"] = resolve(names);
  std::cerr << "probe: resolved" << std::endl;
  report["triggered"] = wait_for_file(trigger);
  report["after"] = resolve(names);
  return report;
}

// Exchanges with host (a name), waits for the trigger, exchanges again, and
// then tries a TCP connect to the address `old` (the name's earlier one).
json exchange_after(const std::string& trigger, const std::string& protocol, const std::string& host, int port,
                    const std::string& old) {
  json report;
  report["before"] = exchange(protocol, host, port);
  std::cerr << "probe: exchanged" << std::endl;
  report["triggered"] = wait_for_file(trigger);
  report["after"] = exchange(protocol, host, port);
  report["old"] = connect_tcp(old, port)["connect"];
  return report;
}

// Sends count A queries for distinct names to the run's resolver as fast as
// it can (answers are not read), then reports how many went out.
json dns_flood(int count, const std::string& suffix) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  struct sockaddr_in address {};
  address.sin_family = AF_INET;
  address.sin_port = htons(53);
  inet_pton(AF_INET, "127.0.0.53", &address.sin_addr);
  int sent = 0;
  for (int i = 0; i < count; ++i) {
    const std::string label = "f" + std::to_string(i);
    unsigned char query[300] = {static_cast<unsigned char>(i >> 8), static_cast<unsigned char>(i), 1, 0, 0, 1, 0, 0, 0, 0, 0, 0};
    std::size_t at = 12;
    query[at++] = static_cast<unsigned char>(label.size());
    for (char c : label) query[at++] = static_cast<unsigned char>(c);
    std::size_t start = 0;
    while (start < suffix.size()) {
      auto dot = suffix.find('.', start);
      if (dot == std::string::npos) dot = suffix.size();
      query[at++] = static_cast<unsigned char>(dot - start);
      for (std::size_t j = start; j < dot; ++j) query[at++] = static_cast<unsigned char>(suffix[j]);
      start = dot + 1;
    }
    query[at++] = 0;
    const unsigned char tail[] = {0, 1, 0, 1};
    for (unsigned char c : tail) query[at++] = c;
    if (sendto(fd, query, at, 0, reinterpret_cast<sockaddr*>(&address), sizeof address) > 0) ++sent;
  }
  close(fd);
  return {{"sent", sent}};
}

json hold(const std::string& host, int port, const std::string& trigger) {
  auto [fd, connected] = open_connection(true, host, port);
  json report = {{"connect", connected}};
  report["before"] = connected == "ok" ? echo(fd, "before") : "not connected";
  std::cerr << "probe: holding" << std::endl;
  report["triggered"] = wait_for_file(trigger);
  report["after"] = connected == "ok" ? echo(fd, "after") : "not connected";
  if (fd >= 0) close(fd);
  auto [second, reconnected] = open_connection(true, host, port);
  report["new_connection"] = reconnected;
  if (second >= 0) close(second);
  return report;
}

// What a task with a network could try against its own firewall: take the
// interface down, and delete tierbox's nftables table over netlink.
json net_admin(const std::vector<std::string>& then_connect) {
  json report;
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  struct ifreq request {};
  std::strncpy(request.ifr_name, "eth0", IFNAMSIZ - 1);
  ioctl(fd, SIOCGIFFLAGS, &request);
  request.ifr_flags = static_cast<short>(request.ifr_flags & ~IFF_UP);
  report["link_down"] = result(ioctl(fd, SIOCSIFFLAGS, &request));
  close(fd);

  int nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
  if (nl < 0) {
    report["nft_delete_table"] = "socket: " + errno_name(errno);
    return report;
  }
  struct {
    nlmsghdr begin_header;
    nfgenmsg begin;
    nlmsghdr header;
    nfgenmsg table;
    nlattr name_attribute;
    char name[8];
    nlmsghdr end_header;
    nfgenmsg end;
  } batch{};
  batch.begin_header = {sizeof(nlmsghdr) + sizeof(nfgenmsg), NFNL_MSG_BATCH_BEGIN, NLM_F_REQUEST, 1, 0};
  batch.begin.res_id = htons(NFNL_SUBSYS_NFTABLES);
  batch.header = {sizeof(nlmsghdr) + sizeof(nfgenmsg) + sizeof(nlattr) + 8,
                  static_cast<__u16>((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_DELTABLE), NLM_F_REQUEST | NLM_F_ACK, 2, 0};
  batch.table.nfgen_family = 1;  // NFPROTO_INET
  batch.name_attribute = {static_cast<__u16>(sizeof(nlattr) + 8), NFTA_TABLE_NAME};
  std::memcpy(batch.name, "tierbox", 8);
  batch.end_header = {sizeof(nlmsghdr) + sizeof(nfgenmsg), NFNL_MSG_BATCH_END, NLM_F_REQUEST, 3, 0};
  batch.end.res_id = htons(NFNL_SUBSYS_NFTABLES);
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (sendto(nl, &batch, sizeof batch, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) < 0) {
    report["nft_delete_table"] = "sendto: " + errno_name(errno);
  } else {
    char answer[512];
    ssize_t n = recv(nl, answer, sizeof answer, 0);
    auto* header = reinterpret_cast<nlmsghdr*>(answer);
    if (n >= static_cast<ssize_t>(sizeof(nlmsghdr) + sizeof(nlmsgerr)) && header->nlmsg_type == NLMSG_ERROR)
      report["nft_delete_table"] = errno_name(-reinterpret_cast<nlmsgerr*>(NLMSG_DATA(header))->error);
    else
      report["nft_delete_table"] = "no answer";
  }
  close(nl);
  report["afterwards"] = connect_many(then_connect);
  return report;
}

json connect_abstract(const std::string& name) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un address {};
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path + 1, name.data(), std::min(name.size(), sizeof address.sun_path - 2));
  socklen_t length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  return {{"connect", result(connect(fd, reinterpret_cast<sockaddr*>(&address), length))}};
}

json connect_unix(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un address {};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
  return {{"connect", result(connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address))}};
}

// Sends a UDP datagram to host:port every 10 ms, forever (what a frozen or
// cut-off task must no longer be able to do).
json stream(const std::string& host, int port) {
  auto [fd, connected] = open_connection(false, host, port);
  if (connected != "ok") return {{"connect", connected}};
  bool announced = false;
  for (;;) {
    if (send(fd, "tierbox-stream", 14, MSG_NOSIGNAL) == 14 && !announced) {
      std::cerr << "probe: streaming" << std::endl;
      announced = true;
    }
    usleep(10000);
  }
}

}  // namespace probe
