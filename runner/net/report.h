// What a run's network did, for the run's result (`network` object) and
// `run -v`: the mode, what was allowed, what was dropped and the first
// distinct destinations the task tried to reach and was refused.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "net/ipv4.h"

namespace tierbox::net {

struct NetworkReport {
  std::string mode;                 // "none", "allowlist", "host"
  std::uint64_t allowed_packets = 0;  // both directions, through the sandbox's eth0
  std::uint64_t allowed_bytes = 0;
  std::uint64_t dropped_packets = 0;  // refused or dropped, both directions
  std::vector<std::string> dropped_destinations;  // "addr:port/proto", at most 20, sorted

  [[nodiscard]] nlohmann::json to_json() const;
  static NetworkReport from_json(const nlohmann::json& json);
};

// "198.51.100.7:443/tcp", "198.51.100.7:53/udp"; other protocols without a
// port: "198.51.100.7/icmp", "198.51.100.7/proto-132".
std::string format_destination(Ipv4Address address, std::uint8_t protocol, std::uint16_t port);

}  // namespace tierbox::net
