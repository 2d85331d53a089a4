#include "net/address_plan.h"

#include <cstdio>

namespace tierbox::net {

std::uint64_t pool_capacity(const Ipv4Cidr& pool) {
  return pool.prefix > kRunSubnetPrefix ? 0 : pool.size() >> (32 - kRunSubnetPrefix);
}

std::optional<AddressPlan> address_plan_for_slot(const Ipv4Cidr& pool, unsigned slot) {
  if (slot >= pool_capacity(pool)) return std::nullopt;
  AddressPlan plan;
  plan.subnet = Ipv4Cidr{Ipv4Address{pool.network.value + (slot << (32 - kRunSubnetPrefix))}, kRunSubnetPrefix};
  plan.host_side = Ipv4Address{plan.subnet.network.value + 1};
  plan.sandbox_side = Ipv4Address{plan.subnet.network.value + 2};
  char tag[9];
  std::snprintf(tag, sizeof tag, "%08x", plan.subnet.network.value);
  plan.tag = tag;
  plan.host_interface = kHostInterfacePrefix + plan.tag;
  return plan;
}

}  // namespace tierbox::net
