#include "net/report.h"

#include <nlohmann/json.hpp>

namespace tierbox::net {

nlohmann::json NetworkReport::to_json() const {
  return {{"mode", mode},
          {"allowed_packets", allowed_packets},
          {"allowed_bytes", allowed_bytes},
          {"dropped_packets", dropped_packets},
          {"dropped_destinations", dropped_destinations}};
}

NetworkReport NetworkReport::from_json(const nlohmann::json& json) {
  NetworkReport report;
  report.mode = json.at("mode").get<std::string>();
  report.allowed_packets = json.at("allowed_packets").get<std::uint64_t>();
  report.allowed_bytes = json.at("allowed_bytes").get<std::uint64_t>();
  report.dropped_packets = json.at("dropped_packets").get<std::uint64_t>();
  report.dropped_destinations = json.at("dropped_destinations").get<std::vector<std::string>>();
  return report;
}

std::string format_destination(Ipv4Address address, std::uint8_t protocol, std::uint16_t port) {
  switch (protocol) {
    case 6: return address.to_string() + ":" + std::to_string(port) + "/tcp";
    case 17: return address.to_string() + ":" + std::to_string(port) + "/udp";
    case 1: return address.to_string() + "/icmp";
    default: return address.to_string() + "/proto-" + std::to_string(protocol);
  }
}

}  // namespace tierbox::net
