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

}  // namespace

std::vector<std::string> RunNetwork::host_objects() const {
  return {"veth " + addresses.host_interface,
          "route " + addresses.subnet.to_string() + " dev " + addresses.host_interface,
          std::string("nft chain inet ") + kTableName + " " + host_egress_chain(addresses),
          std::string("nft chain inet ") + kTableName + " " + host_ingress_chain(addresses),
          std::string("nft elements inet ") + kTableName + " " + kEgressMap + "/" + kIngressMap + "/" +
              kSandboxInterfacesSet + " " + addresses.host_interface + ", " + kSandboxAddressesSet + " " +
              addresses.sandbox_side.to_string()};
}

nlohmann::json to_json(const RunNetwork& network) {
  nlohmann::json allow = nlohmann::json::array();
  for (const auto& rule : network.allow) allow.push_back(to_json(rule));
  return {{"run_id", network.run_id},
          {"pool", network.pool.to_string()},
          {"slot", network.slot},
          {"slot_lock", network.slot_lock},
          {"subnet", network.addresses.subnet.to_string()},
          {"sandbox_address", network.addresses.sandbox_side.to_string()},
          {"host_interface", network.addresses.host_interface},
          {"allow", allow},
          {"netns_inode", network.netns_inode},
          {"host_objects", network.host_objects()}};
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
    network.netns_inode = json.value("netns_inode", std::uint64_t{0});
    return network;
  } catch (const nlohmann::json::exception& error) {
    throw std::runtime_error(std::string("network record: ") + error.what());
  } catch (const std::runtime_error& error) {
    throw std::runtime_error(std::string("network record: ") + error.what());
  }
}

}  // namespace tierbox::net
