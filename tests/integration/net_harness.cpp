#include "integration/net_harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>

namespace tierbox::testing {
namespace {

std::atomic<int> g_host_counter{0};

int listen_on(int type, std::uint16_t port) {
  int fd = ::socket(AF_INET, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  const int on = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  struct sockaddr_in address {};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0)
    throw std::runtime_error("test host: bind port " + std::to_string(port) + " failed");
  if (type == SOCK_STREAM) ::listen(fd, 16);
  return fd;
}

}  // namespace

ProcessResult run_or_fail(const std::vector<std::string>& argv, bool allow_failure) {
  auto result = run_process(argv);
  if (!allow_failure && result.status != 0) {
    std::string command;
    for (const auto& word : argv) command += word + " ";
    throw std::runtime_error(command + "failed (" + std::to_string(result.status) + "): " + result.err);
  }
  return result;
}

TestHost::TestHost(const std::vector<std::string>& ranges, const std::vector<std::uint16_t>& tcp_ports,
                   const std::vector<std::uint16_t>& udp_ports)
    : tcp_ports_(tcp_ports), udp_ports_(udp_ports) {
  host_interface_ = "tbt" + std::to_string(::getpid()) + "-" + std::to_string(g_host_counter++);
  stop_fd_ = ::eventfd(0, EFD_CLOEXEC);
  // The servers' thread moves into a network namespace of its own (setns and
  // unshare act on the calling thread only), which lives as long as it does.
  server_ = std::thread([this] {
    if (::unshare(CLONE_NEWNET) != 0) thread_error_ = "unshare(CLONE_NEWNET) failed";
    {
      std::lock_guard lock(startup_mutex_);
      thread_id_ = static_cast<pid_t>(::syscall(SYS_gettid));
      started_ = true;
    }
    startup_.notify_all();
    {
      std::unique_lock lock(startup_mutex_);
      startup_.wait(lock, [this] { return configured_; });
    }
    try {
      if (thread_error_.empty() && !addresses_.empty()) serve(stop_fd_);
    } catch (const std::exception& error) {
      thread_error_ = error.what();
    }
    {
      std::lock_guard lock(startup_mutex_);
      serving_ = true;
      startup_.notify_all();
    }
  });
  {
    std::unique_lock lock(startup_mutex_);
    startup_.wait(lock, [this] { return started_; });
  }
  const auto release = [this] {
    {
      std::lock_guard lock(startup_mutex_);
      configured_ = true;
    }
    startup_.notify_all();
  };
  try {
    if (!thread_error_.empty()) throw std::runtime_error(thread_error_);
    const std::string netns = "/proc/" + std::to_string(::getpid()) + "/task/" + std::to_string(thread_id_) + "/ns/net";
    run_or_fail({"/usr/sbin/ip", "link", "add", host_interface_, "type", "veth", "peer", "name", "h0", "netns", netns});
    run_or_fail({"/usr/sbin/ip", "link", "set", host_interface_, "up"});
    // A free address in each range: a /32 route that another test (of this
    // or another process) already holds makes `ip route add` fail.
    for (const auto& range : ranges) {
      const auto wanted = addresses_.size() + 1;
      for (int attempt = 0; attempt < 250; ++attempt) {
        const int last = 2 + static_cast<int>((static_cast<unsigned>(::getpid()) * 7u + static_cast<unsigned>(attempt) * 13u +
                                                static_cast<unsigned>(g_host_counter) * 31u) % 250u);
        const std::string candidate = range + "." + std::to_string(last);
        if (run_process({"/usr/sbin/ip", "route", "add", candidate + "/32", "dev", host_interface_}).status == 0) {
          addresses_.push_back(candidate);
          break;
        }
      }
      if (addresses_.size() != wanted) throw std::runtime_error("no free test address in " + range);
    }
    std::string inside = "ip link set lo up && ip link set h0 up";
    for (const auto& address : addresses_) inside += " && ip addr add " + address + "/32 dev h0";
    inside += " && ip route add default dev h0";
    run_or_fail({"/usr/bin/nsenter", "--net=" + netns, "/bin/sh", "-c", inside});
  } catch (...) {
    release();
    ::eventfd_write(stop_fd_, 1);
    server_.join();
    run_process({"/usr/sbin/ip", "link", "del", host_interface_});
    ::close(stop_fd_);
    throw;
  }
  release();
  {
    std::unique_lock lock(startup_mutex_);
    startup_.wait(lock, [this] { return serving_; });
  }
  if (!thread_error_.empty()) {
    tear_down();
    throw std::runtime_error("test host: " + thread_error_);
  }
}

TestHost::~TestHost() { tear_down(); }

void TestHost::tear_down() {
  ::eventfd_write(stop_fd_, 1);
  if (server_.joinable()) server_.join();
  run_process({"/usr/sbin/ip", "link", "del", host_interface_});  // its /32 routes go with it
  ::close(stop_fd_);
}

int TestHost::connections(std::uint16_t tcp_port) const {
  std::lock_guard lock(mutex_);
  auto it = connections_.find(tcp_port);
  return it == connections_.end() ? 0 : it->second;
}

bool TestHost::wait_for_connections(std::uint16_t tcp_port, int count) const {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (connections(tcp_port) < count) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

void TestHost::set_datagram_handler(std::uint16_t udp_port, DatagramHandler handler) {
  std::lock_guard lock(mutex_);
  handlers_[udp_port] = std::move(handler);
}

long TestHost::received_bytes(std::uint16_t port) const {
  std::lock_guard lock(mutex_);
  auto it = received_.find(port);
  return it == received_.end() ? 0 : it->second;
}

// TCP and UDP echo on every port, until the stop eventfd is written.
void TestHost::serve(int stop_fd) {
  struct Endpoint {
    int fd;
    std::uint16_t port;
    enum { listener, connection, datagram } kind;
  };
  std::vector<Endpoint> endpoints;
  for (auto port : tcp_ports_) endpoints.push_back({listen_on(SOCK_STREAM, port), port, Endpoint::listener});
  for (auto port : udp_ports_) endpoints.push_back({listen_on(SOCK_DGRAM, port), port, Endpoint::datagram});
  {
    std::lock_guard lock(startup_mutex_);
    serving_ = true;
  }
  startup_.notify_all();
  while (true) {
    std::vector<pollfd> waits{{stop_fd, POLLIN, 0}};
    for (const auto& endpoint : endpoints) waits.push_back({endpoint.fd, POLLIN, 0});
    if (::poll(waits.data(), waits.size(), 1000) < 0 && errno != EINTR) break;
    if (waits[0].revents) break;
    std::vector<Endpoint> added;
    for (std::size_t i = 0; i < endpoints.size(); ++i) {
      if (!waits[i + 1].revents) continue;
      auto& endpoint = endpoints[i];
      char buffer[4096];
      if (endpoint.kind == Endpoint::listener) {
        int connection = ::accept4(endpoint.fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (connection >= 0) {
          added.push_back({connection, endpoint.port, Endpoint::connection});
          std::lock_guard lock(mutex_);
          ++connections_[endpoint.port];
        }
      } else if (endpoint.kind == Endpoint::connection) {
        ssize_t n = ::read(endpoint.fd, buffer, sizeof buffer);
        if (n > 0) {
          (void)!::write(endpoint.fd, buffer, static_cast<std::size_t>(n));
          std::lock_guard lock(mutex_);
          received_[endpoint.port] += n;
        } else if (n == 0 || errno != EAGAIN) {
          ::close(endpoint.fd);
          endpoint.fd = -1;
        }
      } else {
        struct sockaddr_in peer {};
        socklen_t length = sizeof peer;
        ssize_t n = ::recvfrom(endpoint.fd, buffer, sizeof buffer, 0, reinterpret_cast<sockaddr*>(&peer), &length);
        if (n > 0) {
          DatagramHandler handler;
          {
            std::lock_guard lock(mutex_);
            received_[endpoint.port] += n;
            if (auto it = handlers_.find(endpoint.port); it != handlers_.end()) handler = it->second;
          }
          if (!handler) {
            ::sendto(endpoint.fd, buffer, static_cast<std::size_t>(n), 0, reinterpret_cast<sockaddr*>(&peer), length);
          } else if (auto reply = handler(std::string(buffer, static_cast<std::size_t>(n)))) {
            ::sendto(endpoint.fd, reply->data(), reply->size(), 0, reinterpret_cast<sockaddr*>(&peer), length);
          }
        }
      }
    }
    std::erase_if(endpoints, [](const Endpoint& endpoint) { return endpoint.fd < 0; });
    endpoints.insert(endpoints.end(), added.begin(), added.end());
  }
  for (const auto& endpoint : endpoints) ::close(endpoint.fd);
}

HostListener::HostListener() {
  fd_ = listen_on(SOCK_STREAM, 0);
  struct sockaddr_in address {};
  socklen_t length = sizeof address;
  ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length);
  port_ = ntohs(address.sin_port);
}

HostListener::~HostListener() { ::close(fd_); }

std::string connect_from_host(const std::string& address, std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  struct sockaddr_in target {};
  target.sin_family = AF_INET;
  target.sin_port = htons(port);
  ::inet_pton(AF_INET, address.c_str(), &target.sin_addr);
  std::string outcome = "ok";
  if (::connect(fd, reinterpret_cast<sockaddr*>(&target), sizeof target) != 0) {
    if (errno != EINPROGRESS) {
      outcome = strerrorname_np(errno);
    } else {
      struct pollfd wait_for {fd, POLLOUT, 0};
      int err = 0;
      socklen_t length = sizeof err;
      if (::poll(&wait_for, 1, 2000) != 1) outcome = "timeout";
      else if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &length) == 0 && err != 0) outcome = strerrorname_np(err);
    }
  }
  ::close(fd);
  return outcome;
}

std::string host_ipv4_address() {
  struct ifaddrs* all = nullptr;
  std::string found;
  if (::getifaddrs(&all) != 0) return found;
  for (auto* it = all; it && found.empty(); it = it->ifa_next) {
    if (!it->ifa_addr || it->ifa_addr->sa_family != AF_INET) continue;
    const auto* address = reinterpret_cast<sockaddr_in*>(it->ifa_addr);
    if ((ntohl(address->sin_addr.s_addr) >> 24) == 127) continue;
    if (std::string(it->ifa_name).rfind("tb", 0) == 0) continue;  // tierbox's and the tests' own links
    char text[INET_ADDRSTRLEN];
    ::inet_ntop(AF_INET, &address->sin_addr, text, sizeof text);
    found = text;
  }
  ::freeifaddrs(all);
  return found;
}

PoolClaim::PoolClaim(const std::string& name_prefix) {
  for (unsigned i = 0; i < 256; ++i) {
    const unsigned octet = (static_cast<unsigned>(::getpid()) + i) % 256;
    const std::string name = name_prefix + std::to_string(octet);
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    BOOST_TEST_REQUIRE(fd.get() >= 0);
    struct sockaddr_un address {};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path + 1, name.data(), name.size());
    const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), length) == 0) {
      lock = std::move(fd);
      third_octet = octet;
      return;
    }
  }
  BOOST_FAIL("no free test network pool for " + name_prefix);
}

std::vector<std::string> with_hosts_file(const std::string& hosts_file, const std::string& nsswitch_file) {
  return {"/usr/bin/unshare", "--mount", "--propagation", "private", "/bin/sh", "-c",
          "mount --bind \"$1\" /etc/hosts && mount --bind \"$2\" /etc/nsswitch.conf && shift 2 && exec \"$@\"",
          "sh", hosts_file, nsswitch_file};
}

std::optional<nlohmann::json> network_report_from(const std::string& err) {
  const std::string marker = "network report: ";
  auto at = err.find(marker);
  if (at == std::string::npos) return std::nullopt;
  auto end = err.find('\n', at);
  return nlohmann::json::parse(err.substr(at + marker.size(), end - at - marker.size()), nullptr, false);
}

std::string run_id_from(const std::string& err) {
  std::smatch match;
  static const std::regex pattern("run ([0-9a-f]{16}) registered");
  return std::regex_search(err, match, pattern) ? match[1].str() : "";
}

std::string host_interface_from(const std::string& err) {
  std::smatch match;
  static const std::regex pattern("host interface (tbx[0-9a-f]{8})");
  return std::regex_search(err, match, pattern) ? match[1].str() : "";
}

std::string write_network_profile(const TempDir& dir, const std::string& name, const nlohmann::json& network) {
  nlohmann::json profile = {{"extends", "untrusted"}, {"network", network}};
  return dir.write("tiers/" + name + ".json", profile.dump(2)).string();
}

std::vector<std::string> nft_lines_of_pool(const std::string& tag_prefix, const std::vector<std::string>& markers) {
  std::vector<std::string> found;
  std::istringstream lines(run_process({"/usr/sbin/nft", "list", "table", "inet", "tierbox"}).out);
  static const std::regex block_start(R"(^\s*(chain|set|map)\s+(\S+)\s*\{)");
  int depth = 0;  // 1: inside the table; 2 and deeper: inside one of its blocks
  std::string kind, name;
  for (std::string line; std::getline(lines, line);) {
    std::smatch match;
    if (depth == 1 && std::regex_search(line, match, block_start)) {
      kind = match[1].str();
      name = match[2].str();
    }
    // Chains and the per-run sets are named after the run; the shared
    // maps' and sets' lines name its interface or address.
    const bool ours = name.find("sandbox-" + tag_prefix) == 0 ||
                      (kind != "chain" && std::any_of(markers.begin(), markers.end(), [&](const std::string& marker) {
                                          return line.find(marker) != std::string::npos;
                                        }));
    if (depth >= 1 && !kind.empty() && ours) found.push_back(line);
    depth += static_cast<int>(std::count(line.begin(), line.end(), '{')) -
             static_cast<int>(std::count(line.begin(), line.end(), '}'));
    if (depth <= 1) kind.clear();
  }
  return found;
}

}  // namespace tierbox::testing
