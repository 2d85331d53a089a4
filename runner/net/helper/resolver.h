// The run's resolver: the only DNS server a task of an allowlist tier with
// names can reach (docs/network.md, "Names"). It listens on 127.0.0.53:53
// inside the sandbox's own network namespace (on lo, so no packet of the
// task ever reaches the host for a query), and lives in the run's helper.
//
//   - a query for a name of the allow list (A) is sent to the upstream as a
//     query of its own (only the question leaves the host); every address
//     of the answer that may be opened is added to the entry's nftables
//     sets, in the sandbox and on the host, with a timeout from its TTL,
//     BEFORE the answer is relayed: the task's first connect works;
//   - AAAA for a listed name: an empty answer (sandboxes have no IPv6), so
//     programs go on to A at once;
//   - anything else: REFUSED, answered here, never forwarded.
//
// Decisions are in net/resolver_policy.h; this file does the I/O.
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "common/unique_fd.h"
#include "net/dns_message.h"
#include "net/report.h"
#include "net/resolver_policy.h"

namespace tierbox::net::helper {

// Adds address to the set of name entry `entry` (sandbox and host) with the
// timeout; throws on failure (the answer is then not relayed).
using OpenAddress = std::function<void(std::size_t entry, Ipv4Address address, std::uint32_t seconds)>;

class Resolver {
 public:
  // listener: a UDP socket bound to 127.0.0.53:53 in the sandbox's namespace.
  Resolver(const RunNetwork& network, const EgressPolicy& policy, UniqueFd listener, OpenAddress open);

  [[nodiscard]] int listener_fd() const { return listener_.get(); }
  [[nodiscard]] int upstream_fd() const { return upstream_.get(); }
  // Reads what is waiting (bounded per call, so the runner's channel is not starved).
  void on_query_readable();
  void on_upstream_readable();
  // Queries the upstream did not answer in time get SERVFAIL. Returns the
  // milliseconds until the next such deadline (-1: none).
  int expire();
  // Stops answering (the run is over or isolated).
  void stop();
  [[nodiscard]] DnsReport report() const { return report_; }

 private:
  struct Pending {
    dns::Query query;
    sockaddr_storage client{};
    socklen_t client_length = 0;
    std::vector<std::size_t> entries;
    std::chrono::steady_clock::time_point deadline;
  };

  void handle_query(std::span<const std::uint8_t> message, const sockaddr_storage& client, socklen_t length);
  void answer(const std::vector<std::uint8_t>& message, const sockaddr_storage& client, socklen_t length);
  void note(const std::string& name, std::uint16_t type, const std::string& outcome,
            const std::vector<std::string>& addresses = {}, const std::string& detail = "");
  void note_opened(Ipv4Address address, std::size_t entry, std::uint32_t seconds);
  std::uint16_t fresh_id();

  const RunNetwork& network_;
  const EgressPolicy& policy_;
  UniqueFd listener_;
  UniqueFd upstream_;
  OpenAddress open_;
  QueryBudget budget_;
  std::map<std::uint16_t, Pending> pending_;
  DnsReport report_;
};

// The listener, bound in the calling thread's current network namespace.
UniqueFd open_resolver_listener();

}  // namespace tierbox::net::helper
