// IPv4 addresses and CIDR blocks as plain values (host byte order inside),
// with the parsing and formatting the profile, the address plan and the
// firewall rules share. Pure code: no syscalls.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tierbox::net {

struct Ipv4Address {
  std::uint32_t value = 0;  // host byte order: 10.0.0.1 is 0x0a000001

  [[nodiscard]] std::string to_string() const;
  // The 4 bytes in network order, as the kernel and nftables want them.
  [[nodiscard]] std::uint32_t network_order() const;
  auto operator<=>(const Ipv4Address&) const = default;
};

// Dotted quad, exactly four decimal parts of 0-255 without leading zeros
// ("010.0.0.1" is refused: some parsers read it as octal).
std::optional<Ipv4Address> parse_ipv4(std::string_view text);

struct Ipv4Cidr {
  Ipv4Address network;  // the first address (host bits zero)
  int prefix = 32;      // 0-32

  [[nodiscard]] std::uint32_t mask() const;
  [[nodiscard]] Ipv4Address last() const;
  [[nodiscard]] std::uint64_t size() const { return 1ULL << (32 - prefix); }
  [[nodiscard]] bool contains(Ipv4Address address) const;
  // Whether every address of other lies inside this block.
  [[nodiscard]] bool contains(const Ipv4Cidr& other) const;
  [[nodiscard]] bool overlaps(const Ipv4Cidr& other) const;
  // "10.20.0.0/16"; a /32 is written with its /32.
  [[nodiscard]] std::string to_string() const;
  auto operator<=>(const Ipv4Cidr&) const = default;
};

Ipv4Cidr host_cidr(Ipv4Address address);

// "10.20.0.0/16", or a bare address (a /32). Host bits must be zero
// ("10.20.0.1/16" is refused: it is almost always a typo).
std::optional<Ipv4Cidr> parse_ipv4_cidr(std::string_view text);

}  // namespace tierbox::net
