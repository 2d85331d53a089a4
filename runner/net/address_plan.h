// The address plan of allowlist runs. Each run gets its own /30 from the
// runner's pool (tierbox.json `network_pool`), chosen by its run slot: slot N
// takes the N-th /30, so two live runs (which never share a slot) never share
// addresses. In the /30: .1 is the host's end of the veth pair (the sandbox's
// gateway), .2 the sandbox's eth0.
//
// Host objects are named after the subnet, not the run id, so that a run
// taking a slot can recognise (and remove) what a crashed run of the same
// slot left behind: the slot lock proves that run is dead.
#pragma once

#include <optional>
#include <string>

#include "net/ipv4.h"

namespace tierbox::net {

inline constexpr int kRunSubnetPrefix = 30;
inline constexpr const char* kSandboxInterface = "eth0";
inline constexpr const char* kHostInterfacePrefix = "tbx";
inline constexpr const char* kDefaultPool = "10.210.0.0/16";

struct AddressPlan {
  Ipv4Cidr subnet;             // the run's /30
  Ipv4Address host_side;       // on the host's veth: the sandbox's gateway
  Ipv4Address sandbox_side;    // on the sandbox's eth0
  std::string tag;             // 8 hex digits of the subnet address: names the run's objects
  std::string host_interface;  // "tbx" + tag (11 characters, under IFNAMSIZ)
};

// How many runs the pool can hold at once.
std::uint64_t pool_capacity(const Ipv4Cidr& pool);

// The plan of run slot `slot`; nullopt when the pool has no /30 for it.
std::optional<AddressPlan> address_plan_for_slot(const Ipv4Cidr& pool, unsigned slot);

}  // namespace tierbox::net
