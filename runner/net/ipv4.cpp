#include "net/ipv4.h"

#include <arpa/inet.h>

#include <charconv>

namespace tierbox::net {

std::string Ipv4Address::to_string() const {
  return std::to_string(value >> 24) + "." + std::to_string((value >> 16) & 0xff) + "." +
         std::to_string((value >> 8) & 0xff) + "." + std::to_string(value & 0xff);
}

std::uint32_t Ipv4Address::network_order() const { return htonl(value); }

std::optional<Ipv4Address> parse_ipv4(std::string_view text) {
  std::uint32_t value = 0;
  for (int part = 0; part < 4; ++part) {
    const auto dot = text.find('.');
    const auto digits = part < 3 ? text.substr(0, dot) : text;
    if ((part < 3 && dot == std::string_view::npos) || digits.empty() || digits.size() > 3) return std::nullopt;
    if (digits.size() > 1 && digits[0] == '0') return std::nullopt;
    if (digits.find_first_not_of("0123456789") != std::string_view::npos) return std::nullopt;
    unsigned number = 0;
    auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), number);
    if (error != std::errc() || end != digits.data() + digits.size() || number > 255) return std::nullopt;
    value = (value << 8) | number;
    if (part < 3) text.remove_prefix(dot + 1);
  }
  return Ipv4Address{value};
}

std::uint32_t Ipv4Cidr::mask() const { return prefix == 0 ? 0 : ~0U << (32 - prefix); }

Ipv4Address Ipv4Cidr::last() const { return Ipv4Address{network.value | ~mask()}; }

bool Ipv4Cidr::contains(Ipv4Address address) const { return (address.value & mask()) == network.value; }

bool Ipv4Cidr::contains(const Ipv4Cidr& other) const { return other.prefix >= prefix && contains(other.network); }

bool Ipv4Cidr::overlaps(const Ipv4Cidr& other) const { return contains(other) || other.contains(*this); }

std::string Ipv4Cidr::to_string() const { return network.to_string() + "/" + std::to_string(prefix); }

Ipv4Cidr host_cidr(Ipv4Address address) { return Ipv4Cidr{address, 32}; }

std::optional<Ipv4Cidr> parse_ipv4_cidr(std::string_view text) {
  const auto slash = text.find('/');
  auto address = parse_ipv4(text.substr(0, slash));
  if (!address) return std::nullopt;
  Ipv4Cidr cidr{*address, 32};
  if (slash != std::string_view::npos) {
    const auto digits = text.substr(slash + 1);
    if (digits.empty() || digits.size() > 2 || (digits.size() > 1 && digits[0] == '0')) return std::nullopt;
    if (digits.find_first_not_of("0123456789") != std::string_view::npos) return std::nullopt;
    int prefix = 0;
    auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
    if (error != std::errc() || end != digits.data() + digits.size() || prefix > 32) return std::nullopt;
    cidr.prefix = prefix;
  }
  if ((cidr.network.value & ~cidr.mask()) != 0) return std::nullopt;
  return cidr;
}

}  // namespace tierbox::net
