#include "net/destination.h"

#include <algorithm>
#include <charconv>

namespace tierbox::net {
namespace {

constexpr const char* kForm = " (expected HOST:PORT/PROTO, e.g. \"api.github.com:443/tcp\" or \"10.20.0.0/16:5432/tcp\")";

std::optional<std::uint16_t> parse_port(std::string_view digits) {
  if (digits.empty() || digits.size() > 5 || (digits.size() > 1 && digits[0] == '0')) return std::nullopt;
  if (digits.find_first_not_of("0123456789") != std::string_view::npos) return std::nullopt;
  unsigned port = 0;
  auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
  if (error != std::errc() || end != digits.data() + digits.size() || port == 0 || port > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(port);
}

std::optional<PortRange> parse_ports(std::string_view text) {
  const auto dash = text.find('-');
  auto first = parse_port(text.substr(0, dash));
  auto last = dash == std::string_view::npos ? first : parse_port(text.substr(dash + 1));
  if (!first || !last || *last < *first) return std::nullopt;
  return PortRange{*first, *last};
}

}  // namespace

std::string lower_case(std::string_view text) {
  std::string lower(text);
  for (auto& c : lower)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return lower;
}

bool equal_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && lower_case(a) == lower_case(b);
}

bool name_matches(std::string_view pattern, std::string_view name) {
  if (pattern.substr(0, 2) != "*.") return equal_ignoring_case(pattern, name);
  const auto suffix = pattern.substr(1);  // ".example.com"
  // At least one non-empty label before the suffix.
  return name.size() > suffix.size() && equal_ignoring_case(name.substr(name.size() - suffix.size()), suffix) &&
         name[name.size() - suffix.size() - 1] != '.';
}

const char* to_string(Protocol protocol) { return protocol == Protocol::tcp ? "tcp" : "udp"; }

std::string PortRange::to_string() const {
  return single() ? std::to_string(first) : std::to_string(first) + "-" + std::to_string(last);
}

bool is_valid_host_name(std::string_view name) {
  if (name.empty() || name.size() > 253 || name.back() == '.') return false;
  bool all_numeric = true;
  std::size_t start = 0;
  while (start <= name.size()) {
    auto end = name.find('.', start);
    if (end == std::string_view::npos) end = name.size();
    const auto label = name.substr(start, end - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') return false;
    for (char c : label) {
      const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
      const bool digit = c >= '0' && c <= '9';
      if (!letter && !digit && c != '-') return false;
      if (!digit) all_numeric = false;
    }
    start = end + 1;
  }
  return !all_numeric;
}

std::variant<Destination, std::string> parse_destination(std::string_view text) {
  Destination destination;
  destination.text = std::string(text);
  if (text.find('[') != std::string_view::npos || std::count(text.begin(), text.end(), ':') > 1)
    return "IPv6 destinations are not supported: sandboxes have no IPv6 (docs/network.md); name an IPv4 address or a host name";
  const auto slash = text.rfind('/');
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos || slash == std::string_view::npos || slash < colon)
    return std::string("missing port or protocol") + kForm;
  const auto protocol = text.substr(slash + 1);
  if (protocol == "tcp") destination.protocol = Protocol::tcp;
  else if (protocol == "udp") destination.protocol = Protocol::udp;
  else return "protocol " + std::string(protocol) + " is not tcp or udp" + kForm;
  auto ports = parse_ports(text.substr(colon + 1, slash - colon - 1));
  if (!ports) return "bad port " + std::string(text.substr(colon + 1, slash - colon - 1)) + " (expected 1-65535 or a range such as 8000-8100)";
  destination.ports = *ports;
  const auto host = text.substr(0, colon);
  if (host.empty()) return std::string("missing host") + kForm;
  const bool looks_numeric = std::all_of(host.begin(), host.end(), [](char c) { return (c >= '0' && c <= '9') || c == '.' || c == '/'; });
  if (looks_numeric) {
    destination.block = parse_ipv4_cidr(host);
    if (!destination.block)
      return "bad address or block " + std::string(host) + " (expected e.g. 10.20.0.0/16 with the host bits zero, or 198.51.100.7)";
  } else if (host.substr(0, 2) == "*.") {
    const auto suffix = host.substr(2);
    if (!is_valid_host_name(suffix))
      return "bad wildcard " + std::string(host) + " (expected \"*.\" and a host name, e.g. \"*.githubusercontent.com:443/tcp\")";
    if (suffix.find('.') == std::string_view::npos)
      return "wildcard " + std::string(host) + " covers a whole top-level domain (fix: name a domain below it, e.g. \"*.example" +
             std::string(host.substr(1)) + "\")";
    destination.host_name = lower_case(host);
    destination.wildcard = true;
  } else if (is_valid_host_name(host)) {
    destination.host_name = lower_case(host);
  } else {
    return "bad host name " + std::string(host) + kForm;
  }
  return destination;
}

}  // namespace tierbox::net
