#include "net/run_network.h"

#include <stdexcept>
#include <nlohmann/json.hpp>

namespace tierbox::net {
namespace {

Ipv4Cidr cidr_field(const nlohmann::json& json, const char* key) {
  auto parsed = parse_ipv4_cidr(json.at(key).get<std::string>());
  if (!parsed) throw std::runtime_error(std::string("bad ") + key);
  return *parsed;
}

nlohmann::json to_json(const AllowRule& rule) {
  return {{"block", rule.block.to_string()},
          {"ports", rule.ports.to_string()},
          {"protocol", to_string(rule.protocol)},
          {"given_as_address", rule.given_as_address},
          {"origin", rule.origin}};
}

AllowRule allow_rule_from_json(const nlohmann::json& json) {
  AllowRule rule;
  rule.block = cidr_field(json, "block");
  auto parsed = parse_destination("0.0.0.0:" + json.at("ports").get<std::string>() + "/" +
                                  json.at("protocol").get<std::string>());
  if (!std::holds_alternative<Destination>(parsed)) throw std::runtime_error("bad ports or protocol");
  rule.ports = std::get<Destination>(parsed).ports;
  rule.protocol = std::get<Destination>(parsed).protocol;
  rule.given_as_address = json.at("given_as_address").get<bool>();
  rule.origin = json.at("origin").get<std::string>();
  return rule;
}

nlohmann::json to_json(const NameRule& rule) {
  return {{"pattern", rule.pattern},
          {"ports", rule.ports.to_string()},
          {"protocol", to_string(rule.protocol)},
          {"origin", rule.origin}};
}

NameRule name_rule_from_json(const nlohmann::json& json) {
  auto parsed = parse_destination(json.at("pattern").get<std::string>() + ":" + json.at("ports").get<std::string>() +
                                  "/" + json.at("protocol").get<std::string>());
  const auto* destination = std::get_if<Destination>(&parsed);
  if (!destination || destination->host_name.empty()) throw std::runtime_error("bad name entry");
  return {destination->host_name, destination->ports, destination->protocol, json.at("origin").get<std::string>()};
}

nlohmann::json to_json(const ResolverSettings& settings) {
  return {{"upstream", settings.upstream.to_string()},
          {"upstream_port", settings.upstream_port},
          {"min_ttl_seconds", settings.min_ttl_seconds},
          {"max_ttl_seconds", settings.max_ttl_seconds},
          {"queries_per_second", settings.queries_per_second},
          {"outstanding", settings.outstanding}};
}

ResolverSettings resolver_from_json(const nlohmann::json& json) {
  ResolverSettings settings;
  auto upstream = parse_ipv4(json.at("upstream").get<std::string>());
  if (!upstream) throw std::runtime_error("bad resolver upstream");
  settings.upstream = *upstream;
  settings.upstream_port = json.at("upstream_port").get<std::uint16_t>();
  settings.min_ttl_seconds = json.at("min_ttl_seconds").get<std::uint32_t>();
  settings.max_ttl_seconds = json.at("max_ttl_seconds").get<std::uint32_t>();
  settings.queries_per_second = json.at("queries_per_second").get<std::uint32_t>();
  settings.outstanding = json.at("outstanding").get<std::uint32_t>();
  return settings;
}

}  // namespace

std::vector<std::string> RunNetwork::host_objects() const {
  std::vector<std::string> objects = {"veth " + addresses.host_interface,
          "route " + addresses.subnet.to_string() + " dev " + addresses.host_interface,
          std::string("nft chain inet ") + kTableName + " " + host_egress_chain(addresses),
          std::string("nft chain inet ") + kTableName + " " + host_ingress_chain(addresses),
          std::string("nft elements inet ") + kTableName + " " + kEgressMap + "/" + kIngressMap + "/" +
              kSandboxInterfacesSet + " " + addresses.host_interface + ", " + kSandboxAddressesSet + " " +
              addresses.sandbox_side.to_string()};
  for (std::size_t i = 0; i < names.size(); ++i)
    objects.push_back(std::string("nft set inet ") + kTableName + " " + host_name_set(addresses, i));
  return objects;
}

nlohmann::json to_json(const RunNetwork& network) {
  nlohmann::json allow = nlohmann::json::array();
  for (const auto& rule : network.allow) allow.push_back(to_json(rule));
  nlohmann::json names = nlohmann::json::array();
  for (const auto& rule : network.names) names.push_back(to_json(rule));
  nlohmann::json json = {{"run_id", network.run_id},
          {"pool", network.pool.to_string()},
          {"slot", network.slot},
          {"slot_lock", network.slot_lock},
          {"subnet", network.addresses.subnet.to_string()},
          {"sandbox_address", network.addresses.sandbox_side.to_string()},
          {"host_interface", network.addresses.host_interface},
          {"allow", allow},
          {"netns_inode", network.netns_inode},
          {"host_objects", network.host_objects()}};
  if (!network.names.empty()) {
    json["names"] = names;
    json["resolver"] = to_json(network.resolver);
  }
  return json;
}

RunNetwork run_network_from_json(const nlohmann::json& json) {
  try {
    RunNetwork network;
    network.run_id = json.at("run_id").get<std::string>();
    network.pool = cidr_field(json, "pool");
    network.slot = json.at("slot").get<unsigned>();
    network.slot_lock = json.at("slot_lock").get<std::string>();
    // gc opens (and may create) this file as root: only a slot lock of the
    // record's own slot is accepted.
    const std::string lock_name = "/slots/" + std::to_string(network.slot) + ".lock";
    if (network.slot_lock.empty() || network.slot_lock[0] != '/' || network.slot_lock.find("/../") != std::string::npos ||
        network.slot_lock.size() < lock_name.size() ||
        network.slot_lock.compare(network.slot_lock.size() - lock_name.size(), lock_name.size(), lock_name) != 0)
      throw std::runtime_error("slot_lock is not the lock file of slot " + std::to_string(network.slot));
    auto addresses = address_plan_for_slot(network.pool, network.slot);
    if (!addresses) throw std::runtime_error("slot outside the pool");
    network.addresses = *addresses;
    if (json.at("host_interface").get<std::string>() != addresses->host_interface)
      throw std::runtime_error("host_interface does not match pool and slot");
    for (const auto& rule : json.at("allow")) network.allow.push_back(allow_rule_from_json(rule));
    if (json.contains("names")) {
      for (const auto& rule : json.at("names")) network.names.push_back(name_rule_from_json(rule));
      network.resolver = resolver_from_json(json.at("resolver"));
    }
    network.netns_inode = json.value("netns_inode", std::uint64_t{0});
    return network;
  } catch (const nlohmann::json::exception& error) {
    throw std::runtime_error(std::string("network record: ") + error.what());
  } catch (const std::runtime_error& error) {
    throw std::runtime_error(std::string("network record: ") + error.what());
  }
}

}  // namespace tierbox::net
