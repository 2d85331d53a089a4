// What a run's network did, for the run's result (`network` object) and
// `run -v`: the mode, what was allowed, what was dropped and the first
// distinct destinations the task tried to reach and was refused.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "net/ipv4.h"

namespace tierbox::net {

// What the run's resolver did (mode allowlist with names). Bounded: at most
// kDnsReportEntries names and opened addresses; the totals count everything.
inline constexpr std::size_t kDnsReportEntries = 200;

struct DnsNameReport {
  std::string name;     // as asked, lower case
  std::string type;     // "A", "AAAA", "type-N"
  std::string outcome;  // answered, refused, rebinding_refused, failed, rate_limited
  std::uint64_t count = 0;
  std::vector<std::string> addresses;  // answered (opened or not)
  std::string detail;   // rebinding: which address and why; failed: why
};

struct DnsOpenedAddress {
  std::string address;
  std::string entry;           // the allow entry it was opened for
  std::uint32_t seconds = 0;   // the last timeout set (TTL, clamped)
  std::uint64_t times = 0;
};

struct DnsReport {
  std::uint64_t queries = 0;
  std::uint64_t answered = 0;
  std::uint64_t refused = 0;
  std::uint64_t rebinding_refused = 0;  // addresses not opened
  std::uint64_t failed = 0;
  std::uint64_t rate_limited = 0;
  std::vector<DnsNameReport> names;
  std::vector<DnsOpenedAddress> opened;

  [[nodiscard]] nlohmann::json to_json() const;
  static DnsReport from_json(const nlohmann::json& json);
};

struct NetworkReport {
  std::string mode;                 // "none", "allowlist", "host"
  std::uint64_t allowed_packets = 0;  // both directions, through the sandbox's eth0
  std::uint64_t allowed_bytes = 0;
  std::uint64_t dropped_packets = 0;  // refused or dropped, both directions
  std::vector<std::string> dropped_destinations;  // "addr:port/proto", at most 20, sorted
  std::vector<std::string> connected_destinations;  // new connections accepted, "addr:port/proto", at most 64, sorted
  std::optional<DnsReport> dns;                     // the run's resolver, if it had one

  [[nodiscard]] nlohmann::json to_json() const;
  static NetworkReport from_json(const nlohmann::json& json);
};

// "198.51.100.7:443/tcp", "198.51.100.7:53/udp"; other protocols without a
// port: "198.51.100.7/icmp", "198.51.100.7/proto-132".
std::string format_destination(Ipv4Address address, std::uint8_t protocol, std::uint16_t port);

}  // namespace tierbox::net
