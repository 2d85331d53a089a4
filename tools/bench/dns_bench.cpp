// dns_bench: the two ends of tools/bench/dns.sh.
//
//   dns_bench serve PORT              answers every query (A: 198.51.100.7,
//                                     TTL 300) until killed
//   dns_bench query SERVER PORT N NAME
//                                     N sequential A queries for NAME, each
//                                     waiting for its answer; prints the
//                                     median, p10 and p90 round trip in ms
//
// The server runs in a network namespace of the script's own; the queries
// go to it straight from the host (the upstream's own latency) and from a
// sandbox through the run's resolver (127.0.0.53).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

int serve(int port) {
  int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    std::perror("bind");
    return 1;
  }
  unsigned char buffer[1500];
  while (true) {
    sockaddr_in peer{};
    socklen_t length = sizeof peer;
    const ssize_t got = ::recvfrom(fd, buffer, 512, 0, reinterpret_cast<sockaddr*>(&peer), &length);
    if (got < 17) continue;
    std::size_t at = 12;
    while (at < static_cast<std::size_t>(got) && buffer[at] != 0) at += 1 + buffer[at];
    const std::size_t end = at + 5;
    if (end > static_cast<std::size_t>(got)) continue;
    buffer[2] = 0x81;
    buffer[3] = 0x80;
    const bool a = buffer[at + 2] == 1;
    buffer[6] = 0;
    buffer[7] = a ? 1 : 0;
    buffer[8] = buffer[9] = buffer[10] = buffer[11] = 0;
    std::size_t size = end;
    if (a) {
      const unsigned char record[] = {0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 1, 44, 0, 4, 198, 51, 100, 7};
      std::copy(std::begin(record), std::end(record), buffer + size);
      size += sizeof record;
    }
    ::sendto(fd, buffer, size, 0, reinterpret_cast<sockaddr*>(&peer), length);
  }
}

int query(const char* server, int port, int count, const std::string& name) {
  int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  ::inet_pton(AF_INET, server, &address.sin_addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    std::perror("connect");
    return 1;
  }
  std::vector<unsigned char> message = {0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0};
  std::size_t start = 0;
  while (start < name.size()) {
    auto dot = name.find('.', start);
    if (dot == std::string::npos) dot = name.size();
    message.push_back(static_cast<unsigned char>(dot - start));
    message.insert(message.end(), name.begin() + static_cast<long>(start), name.begin() + static_cast<long>(dot));
    start = dot + 1;
  }
  message.insert(message.end(), {0, 0, 1, 0, 1});
  std::vector<double> samples;
  unsigned char reply[1500];
  for (int i = 0; i < count; ++i) {
    message[0] = static_cast<unsigned char>(i >> 8);
    message[1] = static_cast<unsigned char>(i);
    const auto begin = std::chrono::steady_clock::now();
    if (::send(fd, message.data(), message.size(), 0) < 0) return 1;
    pollfd wait_for{fd, POLLIN, 0};
    if (::poll(&wait_for, 1, 2000) != 1 || ::recv(fd, reply, sizeof reply, 0) < 12) {
      std::fprintf(stderr, "query %d: no answer\n", i);
      return 1;
    }
    samples.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - begin).count());
  }
  const double first = samples.front();  // through the run's resolver: the one that opened the address
  std::sort(samples.begin(), samples.end());
  const auto at = [&](double q) { return samples[static_cast<std::size_t>(q * static_cast<double>(samples.size() - 1))]; };
  std::printf("%d queries: median %.3f ms, p10 %.3f ms, p90 %.3f ms (the first %.3f ms)\n", count, at(0.5), at(0.1), at(0.9),
              first);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string verb = argc > 1 ? argv[1] : "";
  if (verb == "serve" && argc == 3) return serve(std::atoi(argv[2]));
  if (verb == "query" && argc == 6) return query(argv[2], std::atoi(argv[3]), std::atoi(argv[4]), argv[5]);
  std::fprintf(stderr, "usage: dns_bench serve PORT | query SERVER PORT N NAME\n");
  return 2;
}
