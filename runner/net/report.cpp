#include "net/report.h"

#include <nlohmann/json.hpp>

namespace tierbox::net {

nlohmann::json DnsReport::to_json() const {
  nlohmann::json name_list = nlohmann::json::array();
  for (const auto& name : names) {
    nlohmann::json entry = {{"name", name.name}, {"type", name.type}, {"outcome", name.outcome}, {"count", name.count}};
    if (!name.addresses.empty()) entry["addresses"] = name.addresses;
    if (!name.detail.empty()) entry["detail"] = name.detail;
    name_list.push_back(std::move(entry));
  }
  nlohmann::json opened_list = nlohmann::json::array();
  for (const auto& address : opened)
    opened_list.push_back(
        {{"address", address.address}, {"entry", address.entry}, {"seconds", address.seconds}, {"times", address.times}});
  return {{"queries", queries},     {"answered", answered}, {"refused", refused},
          {"rebinding_refused", rebinding_refused}, {"failed", failed}, {"rate_limited", rate_limited},
          {"names", name_list},     {"opened", opened_list}};
}

DnsReport DnsReport::from_json(const nlohmann::json& json) {
  DnsReport report;
  report.queries = json.at("queries").get<std::uint64_t>();
  report.answered = json.at("answered").get<std::uint64_t>();
  report.refused = json.at("refused").get<std::uint64_t>();
  report.rebinding_refused = json.at("rebinding_refused").get<std::uint64_t>();
  report.failed = json.at("failed").get<std::uint64_t>();
  report.rate_limited = json.at("rate_limited").get<std::uint64_t>();
  for (const auto& entry : json.at("names"))
    report.names.push_back({entry.at("name").get<std::string>(), entry.at("type").get<std::string>(),
                            entry.at("outcome").get<std::string>(), entry.at("count").get<std::uint64_t>(),
                            entry.value("addresses", std::vector<std::string>{}), entry.value("detail", std::string())});
  for (const auto& entry : json.at("opened"))
    report.opened.push_back({entry.at("address").get<std::string>(), entry.at("entry").get<std::string>(),
                             entry.at("seconds").get<std::uint32_t>(), entry.at("times").get<std::uint64_t>()});
  return report;
}

nlohmann::json NetworkReport::to_json() const {
  nlohmann::json json = {{"mode", mode},
                         {"allowed_packets", allowed_packets},
                         {"allowed_bytes", allowed_bytes},
                         {"dropped_packets", dropped_packets},
                         {"dropped_destinations", dropped_destinations},
                         {"connected_destinations", connected_destinations}};
  if (dns) json["dns"] = dns->to_json();
  return json;
}

NetworkReport NetworkReport::from_json(const nlohmann::json& json) {
  NetworkReport report;
  report.mode = json.at("mode").get<std::string>();
  report.allowed_packets = json.at("allowed_packets").get<std::uint64_t>();
  report.allowed_bytes = json.at("allowed_bytes").get<std::uint64_t>();
  report.dropped_packets = json.at("dropped_packets").get<std::uint64_t>();
  report.dropped_destinations = json.at("dropped_destinations").get<std::vector<std::string>>();
  report.connected_destinations = json.value("connected_destinations", std::vector<std::string>{});
  if (json.contains("dns")) report.dns = DnsReport::from_json(json.at("dns"));
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
