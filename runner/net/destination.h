// One entry of a tier's network.allow list: where a task may connect.
//
//   "api.github.com:443/tcp"     a name, answered by the run's resolver (or pinned at launch)
//   "*.example.com:443/tcp"      every name below example.com (one or more labels), not example.com itself
//   "10.20.0.0/16:5432/tcp"      an IPv4 block
//   "198.51.100.7:8000-8100/udp" an address and a port range
//
// The protocol is always stated. IPv6 destinations are refused: sandboxes
// have no IPv6 (docs/network.md).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "net/ipv4.h"

namespace tierbox::net {

enum class Protocol : std::uint8_t { tcp = 6, udp = 17 };

const char* to_string(Protocol protocol);

struct PortRange {
  std::uint16_t first = 0;
  std::uint16_t last = 0;
  [[nodiscard]] bool single() const { return first == last; }
  [[nodiscard]] std::string to_string() const;
  auto operator<=>(const PortRange&) const = default;
};

struct Destination {
  std::string text;                // as written in the profile
  std::string host_name;           // set when the host is a DNS name (lower case; "*.example.com" for a wildcard)
  bool wildcard = false;           // host_name starts with "*."
  std::optional<Ipv4Cidr> block;   // set when the host is an address or block
  PortRange ports;
  Protocol protocol = Protocol::tcp;
};

// The destination, or a message saying what is wrong and how to write it.
std::variant<Destination, std::string> parse_destination(std::string_view text);

// A DNS name: dot-separated labels of letters, digits and '-', at most 253
// characters, not all-numeric (so "10.1.2" is not taken for a name).
bool is_valid_host_name(std::string_view name);

// Whether a name (as asked, any case, without the final dot) falls under a
// pattern of the allow list: the same name, or for "*.example.com" a name
// with one or more labels before ".example.com" (never example.com itself).
bool name_matches(std::string_view pattern, std::string_view name);

// ASCII lower case (DNS names compare case-insensitively; nothing else is folded).
std::string lower_case(std::string_view text);
bool equal_ignoring_case(std::string_view a, std::string_view b);

}  // namespace tierbox::net
