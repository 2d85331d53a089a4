// The nftables rules of allowlist runs, as plain data. Pure code: the rules
// are worked out here from the run's policy and addresses, rendered as nft
// syntax for people (docs, `tierbox-net explain`, unit tests), and turned
// into netlink messages by the helper (helper/nft_messages.cpp), which adds
// no decision of its own.
//
// Two places hold rules (docs/network.md):
//   - table inet tierbox inside the sandbox's network namespace: what the task
//     may send, counted; made before the task starts, by a process the task
//     cannot reach (it has no CAP_NET_ADMIN over that namespace);
//   - table inet tierbox on the host: the same destination rules again for
//     forwarded packets (defence in depth), anti-spoofing, no connection into
//     a sandbox, no packet from a sandbox to the host itself, and masquerade.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "net/address_plan.h"
#include "net/destination.h"
#include "net/ipv4.h"

namespace tierbox::net {

inline constexpr const char* kTableName = "tierbox";
inline constexpr const char* kAllowedCounter = "allowed";
inline constexpr const char* kDroppedCounter = "dropped";
inline constexpr const char* kDroppedSet = "dropped_destinations";
inline constexpr const char* kRefuseChain = "refuse";
inline constexpr std::uint32_t kDroppedDestinationsKept = 20;
// Destinations the task connected to (new connections the rules accepted).
inline constexpr const char* kConnectedSet = "connected_destinations";
inline constexpr std::uint32_t kConnectedDestinationsKept = 64;
// Addresses the run's resolver answered for one name entry of the allow
// list, each with a timeout from its TTL; a set holds at most this many.
inline constexpr std::uint32_t kNameSetSize = 4096;
// Host table objects shared by all runs.
inline constexpr const char* kEgressMap = "egress_from";
inline constexpr const char* kIngressMap = "ingress_to";
inline constexpr const char* kSandboxInterfacesSet = "sandbox_interfaces";
inline constexpr const char* kSandboxAddressesSet = "sandbox_addresses";
// lo is always interface 1 in a network namespace (LOOPBACK_IFINDEX).
inline constexpr std::uint32_t kLoopbackIndex = 1;

// ct state bits, as nftables numbers them.
inline constexpr std::uint32_t kCtInvalid = 1;
inline constexpr std::uint32_t kCtEstablished = 2;
inline constexpr std::uint32_t kCtRelated = 4;

enum class IpFamily : std::uint8_t { ipv4 = 2, ipv6 = 10 };  // NFPROTO_*
enum class InterfaceKey { input, output };

struct Match {
  std::optional<std::uint32_t> input_index;     // meta iif
  std::optional<std::uint32_t> output_index;    // meta oif
  std::optional<IpFamily> family;               // meta nfproto (implied by source/destination)
  std::optional<Ipv4Cidr> source;               // ip saddr
  bool source_negated = false;                  // ip saddr != ...
  std::string source_in_set;                    // ip saddr @set
  std::string input_name_in_set;                // iifname @set
  std::optional<Ipv4Cidr> destination;          // ip daddr
  std::string destination_in_set;               // ip daddr @set
  // ip daddr 127.0.0.53 (with protocol and ports): the resolver on lo
  std::optional<Ipv4Address> destination_address;
  std::uint32_t ct_states = 0;                  // ct state (any of these bits)
  std::optional<Protocol> protocol;             // meta l4proto
  bool other_protocol = false;                  // meta l4proto neither tcp nor udp
  std::optional<PortRange> destination_ports;   // th dport (with protocol)
};

enum class Action { none, accept, drop, reject, go_to, masquerade, verdict_map };

struct Rule {
  Match match;
  std::string counter;         // count in this named counter
  std::string record_in_set;   // add (ip daddr . meta l4proto . th dport, or 0) to this set
  Action action = Action::none;
  std::string target_chain;    // go_to
  std::string map;             // verdict_map: look the interface name up here
  InterfaceKey map_key = InterfaceKey::input;
  std::string comment;         // why; stored with the rule, shown by `nft list`
};

enum class Hook { none, input, output, forward, postrouting };

struct Chain {
  std::string name;
  Hook hook = Hook::none;  // none: a regular chain (goto, jump, map)
  bool nat = false;        // type nat, else filter
  int priority = 0;
  Action policy = Action::accept;
  std::vector<Rule> rules;
};

enum class SetType {
  dropped_destinations,    // ipv4_addr . inet_proto . inet_service, filled by the packet path
  interface_names,         // ifname
  ipv4_addresses,          // ipv4_addr
  interface_verdict_map,   // ifname : verdict
  resolved_addresses,      // ipv4_addr, flags timeout: filled by the run's resolver
};

struct Set {
  std::string name;
  SetType type = SetType::interface_names;
  std::uint32_t size = 0;  // 0: unbounded
};

struct Table {
  std::string name = kTableName;
  std::vector<std::string> counters;
  std::vector<Set> sets;
  std::vector<Chain> chains;
};

// A destination the task may reach, resolved.
struct AllowRule {
  Ipv4Cidr block;
  PortRange ports;
  Protocol protocol = Protocol::tcp;
  bool given_as_address = false;  // written as an address or block (not a name)
  std::string origin;             // the profile entry, e.g. "api.github.com:443/tcp"
};

// A name entry of the allow list ("api.github.com:443/tcp",
// "*.example.com:443/tcp"): opened for the addresses the run's resolver
// answers for it, through the set named after the entry's index.
struct NameRule {
  std::string pattern;  // lower case; "*.example.com" for a wildcard
  PortRange ports;
  Protocol protocol = Protocol::tcp;
  std::string origin;   // the profile entry
};

struct DeniedRange {
  Ipv4Cidr block;
  const char* reason;
};

// Ranges refused unless an allow rule given as an address lies inside them.
const std::vector<DeniedRange>& always_denied_ranges();
// The denied range that contains address, if any.
std::optional<DeniedRange> denied_range_of(Ipv4Address address);

struct EgressPolicy {
  std::vector<AllowRule> allow;
  AddressPlan addresses;
  Ipv4Cidr pool;
  std::vector<Ipv4Address> host_addresses;  // every local IPv4 address of the host
  std::vector<NameRule> names;              // answered by the run's resolver
};

// Where the run's resolver listens, in the sandbox's own namespace (on lo).
inline constexpr const char* kResolverAddress = "127.0.0.53";
inline constexpr std::uint16_t kResolverPort = 53;

// The set of name entry `index`: in the sandbox's table, and the run's own
// copy in the host table.
std::string sandbox_name_set(std::size_t index);
std::string host_name_set(const AddressPlan& addresses, std::size_t index);
// The run's sets in the host table (one per name entry), made before its chains.
std::vector<Set> host_run_sets(const EgressPolicy& policy);

// The table in the sandbox's network namespace.
Table sandbox_table(const EgressPolicy& policy);
// The sandbox's output and input chains once the run is isolated: nothing
// but lo, every attempt refused and recorded.
std::vector<Chain> isolated_sandbox_chains();

// The host's table: what every run shares; created once, kept.
Table host_base_table();
// The run's own chains in the host table.
std::vector<Chain> host_run_chains(const EgressPolicy& policy);
std::string host_egress_chain(const AddressPlan& addresses);
std::string host_ingress_chain(const AddressPlan& addresses);

// nft syntax ("ip daddr 10.20.0.0/16 meta l4proto tcp th dport 5432 counter name \"allowed\" accept").
std::string to_text(const Rule& rule);
std::string to_text(const Chain& chain);
std::string to_text(const Table& table);

}  // namespace tierbox::net
