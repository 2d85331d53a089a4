#include "net/ruleset.h"

#include <algorithm>
#include <functional>

namespace tierbox::net {
namespace {

Ipv4Cidr cidr(const char* text) { return *parse_ipv4_cidr(text); }

Rule accept_allowed(const AllowRule& allow, const std::string& counter) {
  Rule rule;
  rule.match.destination = allow.block;
  rule.match.protocol = allow.protocol;
  rule.match.destination_ports = allow.ports;
  rule.counter = counter;
  rule.action = Action::accept;
  rule.comment = "allow " + allow.origin;
  return rule;
}

Rule refuse_block(const Ipv4Cidr& block, const std::string& reason, const Rule& refusal) {
  Rule rule = refusal;
  rule.match.destination = block;
  rule.comment = reason;
  return rule;
}

Rule accept_resolved(const NameRule& name, const std::string& set, const std::string& counter) {
  Rule rule;
  rule.match.destination_in_set = set;
  rule.match.protocol = name.protocol;
  rule.match.destination_ports = name.ports;
  rule.counter = counter;
  rule.action = Action::accept;
  rule.comment = "allow " + name.origin + " (addresses its resolver answered)";
  return rule;
}

// Before an accept: the same match, recording the destination (a new
// connection: replies were accepted earlier) in the connected set. A rule
// of its own: once the set is full its add fails and only this rule ends.
Rule record_connection(const Rule& accept) {
  Rule rule;
  rule.match = accept.match;
  rule.record_in_set = kConnectedSet;
  return rule;
}

bool inside_static_range(const AllowRule& allow) {
  return allow.given_as_address && std::any_of(always_denied_ranges().begin(), always_denied_ranges().end(),
                                               [&](const auto& denied) { return denied.block.contains(allow.block); });
}

bool names_host_address(const AllowRule& allow, Ipv4Address host) {
  return allow.given_as_address && allow.block == host_cidr(host);
}

// The destination rules, in the order that gives "always denied unless a
// rule names them explicitly" its meaning:
//   1. the pool (this run's gateway and every other sandbox): never;
//   2. allow rules naming one of the host's addresses exactly, then the
//      host's addresses refused;
//   3. allow rules given as an address or block inside an always-denied
//      range (e.g. "10.20.0.0/16"), then those ranges refused;
//   4. every other allow rule (names, public blocks; a wide block such as
//      0.0.0.0/0 comes here, after the refusals, so it never opens them);
//   5. everything else refused.
//   4b. the name entries: the addresses the run's resolver answered, in a set
//      per entry (the resolver never adds an always-denied address that the
//      tier did not list; if it did, the refusals above still win);
std::vector<Rule> destination_rules(const EgressPolicy& policy, const Rule& refusal, const std::string& counter,
                                    const std::function<std::string(std::size_t)>& name_set, bool record) {
  std::vector<Rule> rules;
  const auto accept = [&](Rule rule) {
    if (record) rules.push_back(record_connection(rule));
    rules.push_back(std::move(rule));
  };
  rules.push_back(refuse_block(policy.pool, "the sandbox pool: gateways and other sandboxes", refusal));
  std::vector<bool> placed(policy.allow.size(), false);
  for (std::size_t i = 0; i < policy.allow.size(); ++i) {
    for (const auto& host : policy.host_addresses) {
      if (!placed[i] && names_host_address(policy.allow[i], host)) {
        accept(accept_allowed(policy.allow[i], counter));
        placed[i] = true;
      }
    }
  }
  for (const auto& host : policy.host_addresses) {
    if (policy.pool.contains(host)) continue;
    rules.push_back(refuse_block(host_cidr(host), "an address of the host itself", refusal));
  }
  for (std::size_t i = 0; i < policy.allow.size(); ++i) {
    if (!placed[i] && inside_static_range(policy.allow[i])) {
      accept(accept_allowed(policy.allow[i], counter));
      placed[i] = true;
    }
  }
  for (const auto& denied : always_denied_ranges()) rules.push_back(refuse_block(denied.block, denied.reason, refusal));
  for (std::size_t i = 0; i < policy.allow.size(); ++i)
    if (!placed[i]) accept(accept_allowed(policy.allow[i], counter));
  for (std::size_t i = 0; i < policy.names.size(); ++i) accept(accept_resolved(policy.names[i], name_set(i), counter));
  Rule last = refusal;
  last.comment = "not on the allowlist";
  rules.push_back(last);
  return rules;
}

Rule with_ct(std::uint32_t states, Action action, const std::string& counter, const std::string& comment) {
  Rule rule;
  rule.match.ct_states = states;
  rule.counter = counter;
  rule.action = action;
  rule.comment = comment;
  return rule;
}

Rule loopback_accept(bool output) {
  Rule rule;
  (output ? rule.match.output_index : rule.match.input_index) = kLoopbackIndex;
  rule.action = Action::accept;
  rule.comment = "lo";
  return rule;
}

Rule ipv6_drop(const std::string& counter) {
  Rule rule;
  rule.match.family = IpFamily::ipv6;
  rule.counter = counter;
  rule.action = Action::drop;
  rule.comment = "sandboxes have no IPv6";
  return rule;
}

Rule go_to_refuse() {
  Rule rule;
  rule.action = Action::go_to;
  rule.target_chain = kRefuseChain;
  return rule;
}

// Records the destination (the set keeps the first 20 distinct ones: once
// full, the add fails and the rule simply ends), then counts and refuses:
// a TCP reset or an ICMP administratively-prohibited, so the task fails at
// once instead of waiting for a timeout.
Chain refuse_chain() {
  Chain chain{kRefuseChain};
  for (int kind = 0; kind < 3; ++kind) {
    Rule record;
    record.match.family = IpFamily::ipv4;
    if (kind == 0) record.match.protocol = Protocol::tcp;
    if (kind == 1) record.match.protocol = Protocol::udp;
    if (kind == 2) record.match.other_protocol = true;
    record.record_in_set = kDroppedSet;
    record.comment = "remember what the task tried to reach";
    chain.rules.push_back(record);
  }
  Rule tcp_reset;
  tcp_reset.match.protocol = Protocol::tcp;
  tcp_reset.counter = kDroppedCounter;
  tcp_reset.action = Action::reject;
  chain.rules.push_back(tcp_reset);
  Rule unreachable;
  unreachable.counter = kDroppedCounter;
  unreachable.action = Action::reject;
  chain.rules.push_back(unreachable);
  return chain;
}

Chain base_chain(const char* name, Hook hook, Action policy) {
  Chain chain{name, hook};
  chain.policy = policy;
  return chain;
}

Chain sandbox_input_chain() {
  Chain input = base_chain("input", Hook::input, Action::drop);
  input.rules.push_back(loopback_accept(false));
  input.rules.push_back(with_ct(kCtEstablished | kCtRelated, Action::accept, kAllowedCounter, "replies"));
  input.rules.push_back(with_ct(0, Action::drop, kDroppedCounter, "nothing connects into a sandbox"));
  return input;
}

Rule map_lookup(const char* map, InterfaceKey key) {
  Rule rule;
  rule.action = Action::verdict_map;
  rule.map = map;
  rule.map_key = key;
  return rule;
}

std::string ct_text(std::uint32_t states) {
  std::string text;
  const std::pair<std::uint32_t, const char*> names[] = {
      {kCtInvalid, "invalid"}, {kCtEstablished, "established"}, {kCtRelated, "related"}};
  for (const auto& [bit, name] : names)
    if (states & bit) text += (text.empty() ? "" : ",") + std::string(name);
  return text;
}

const char* hook_name(Hook hook) {
  switch (hook) {
    case Hook::input: return "input";
    case Hook::output: return "output";
    case Hook::forward: return "forward";
    case Hook::postrouting: return "postrouting";
    case Hook::none: break;
  }
  return "";
}

std::string match_text(const Match& match) {
  std::string text;
  const auto add = [&](const std::string& part) { text += (text.empty() ? "" : " ") + part; };
  if (match.input_index) add("meta iif " + std::to_string(*match.input_index));
  if (match.output_index) add("meta oif " + std::to_string(*match.output_index));
  if (!match.input_name_in_set.empty()) add("iifname @" + match.input_name_in_set);
  const bool ipv4 = match.source || match.destination || !match.source_in_set.empty() ||
                    !match.destination_in_set.empty() || match.destination_address;
  if (match.family && !ipv4) add(std::string("meta nfproto ") + (*match.family == IpFamily::ipv4 ? "ipv4" : "ipv6"));
  if (match.source) add(std::string("ip saddr ") + (match.source_negated ? "!= " : "") + match.source->to_string());
  if (!match.source_in_set.empty()) add("ip saddr @" + match.source_in_set);
  if (match.destination) add("ip daddr " + match.destination->to_string());
  if (match.destination_address) add("ip daddr " + match.destination_address->to_string());
  if (!match.destination_in_set.empty()) add("ip daddr @" + match.destination_in_set);
  if (match.ct_states) add("ct state " + ct_text(match.ct_states));
  if (match.protocol) add(std::string("meta l4proto ") + to_string(*match.protocol));
  if (match.other_protocol) add("meta l4proto != { tcp, udp }");
  if (match.destination_ports) add("th dport " + match.destination_ports->to_string());
  return text;
}

std::string action_text(const Rule& rule) {
  switch (rule.action) {
    case Action::none: return "";
    case Action::accept: return "accept";
    case Action::drop: return "drop";
    case Action::reject:
      return rule.match.protocol == Protocol::tcp ? "reject with tcp reset" : "reject with icmpx admin-prohibited";
    case Action::go_to: return "goto " + rule.target_chain;
    case Action::masquerade: return "masquerade";
    case Action::verdict_map:
      return std::string(rule.map_key == InterfaceKey::input ? "iifname" : "oifname") + " vmap @" + rule.map;
  }
  return "";
}

std::string set_text(const Set& set) {
  std::string text = "set " + set.name + " { type ";
  switch (set.type) {
    case SetType::dropped_destinations: text += "ipv4_addr . inet_proto . inet_service; flags dynamic;"; break;
    case SetType::interface_names: text += "ifname;"; break;
    case SetType::ipv4_addresses: text += "ipv4_addr;"; break;
    case SetType::interface_verdict_map: text = "map " + set.name + " { type ifname : verdict;"; break;
    case SetType::resolved_addresses: text += "ipv4_addr; flags timeout;"; break;
  }
  if (set.size) text += " size " + std::to_string(set.size) + ";";
  return text + " }";
}

}  // namespace

const std::vector<DeniedRange>& always_denied_ranges() {
  static const std::vector<DeniedRange> ranges = {
      {cidr("0.0.0.0/8"), "this network (RFC 791)"},
      {cidr("10.0.0.0/8"), "private network (RFC 1918)"},
      {cidr("100.64.0.0/10"), "shared address space (RFC 6598; some clouds' metadata and DNS)"},
      {cidr("127.0.0.0/8"), "loopback"},
      {cidr("169.254.0.0/16"), "link-local, cloud metadata (169.254.169.254)"},
      {cidr("172.16.0.0/12"), "private network (RFC 1918)"},
      {cidr("192.0.0.0/24"), "IETF protocol assignments (RFC 6890)"},
      {cidr("192.168.0.0/16"), "private network (RFC 1918)"},
      {cidr("224.0.0.0/4"), "multicast"},
      {cidr("240.0.0.0/4"), "reserved and broadcast"},
  };
  return ranges;
}

std::optional<DeniedRange> denied_range_of(Ipv4Address address) {
  for (const auto& denied : always_denied_ranges())
    if (denied.block.contains(address)) return denied;
  return std::nullopt;
}

Table sandbox_table(const EgressPolicy& policy) {
  Table table;
  table.counters = {kAllowedCounter, kDroppedCounter};
  table.sets = {{kDroppedSet, SetType::dropped_destinations, kDroppedDestinationsKept},
                {kConnectedSet, SetType::dropped_destinations, kConnectedDestinationsKept}};
  for (std::size_t i = 0; i < policy.names.size(); ++i)
    table.sets.push_back({sandbox_name_set(i), SetType::resolved_addresses, kNameSetSize});
  Chain output = base_chain("output", Hook::output, Action::drop);
  output.rules.push_back(loopback_accept(true));
  output.rules.push_back(ipv6_drop(kDroppedCounter));
  output.rules.push_back(with_ct(kCtEstablished | kCtRelated, Action::accept, kAllowedCounter, "replies and their errors"));
  output.rules.push_back(with_ct(kCtInvalid, Action::drop, kDroppedCounter, "not part of any connection"));
  for (auto& rule : destination_rules(policy, go_to_refuse(), kAllowedCounter, sandbox_name_set, true))
    output.rules.push_back(std::move(rule));
  table.chains = {refuse_chain(), std::move(output), sandbox_input_chain()};
  return table;
}

std::vector<Chain> isolated_sandbox_chains() {
  Chain output = base_chain("output", Hook::output, Action::drop);
  // The run's resolver listens on lo: an isolated run's queries no longer
  // reach it, so nothing more is resolved (or opened).
  for (const auto protocol : {Protocol::udp, Protocol::tcp}) {
    Rule resolver;
    resolver.match.output_index = kLoopbackIndex;
    resolver.match.destination_address = *parse_ipv4(kResolverAddress);
    resolver.match.protocol = protocol;
    resolver.match.destination_ports = PortRange{kResolverPort, kResolverPort};
    resolver.counter = kDroppedCounter;
    resolver.action = Action::drop;
    resolver.comment = "isolated: the run's resolver stops answering";
    output.rules.push_back(resolver);
  }
  output.rules.push_back(loopback_accept(true));
  Rule refuse = go_to_refuse();
  refuse.comment = "isolated: all egress cut";
  output.rules.push_back(refuse);
  Chain input = base_chain("input", Hook::input, Action::drop);
  input.rules.push_back(loopback_accept(false));
  input.rules.push_back(with_ct(0, Action::drop, kDroppedCounter, "isolated: all ingress cut"));
  return {std::move(output), std::move(input)};
}

Table host_base_table() {
  Table table;
  table.sets = {{kEgressMap, SetType::interface_verdict_map},
                {kIngressMap, SetType::interface_verdict_map},
                {kSandboxInterfacesSet, SetType::interface_names},
                {kSandboxAddressesSet, SetType::ipv4_addresses}};
  Chain forward = base_chain("forward", Hook::forward, Action::accept);
  forward.rules.push_back(map_lookup(kEgressMap, InterfaceKey::input));
  forward.rules.push_back(map_lookup(kIngressMap, InterfaceKey::output));
  Chain input = base_chain("input", Hook::input, Action::accept);
  Rule no_host;
  no_host.match.input_name_in_set = kSandboxInterfacesSet;
  no_host.action = Action::drop;
  no_host.comment = "sandboxes never reach the host itself";
  input.rules.push_back(no_host);
  Chain postrouting = base_chain("postrouting", Hook::postrouting, Action::accept);
  postrouting.nat = true;
  postrouting.priority = 100;  // srcnat
  Rule masquerade;
  masquerade.match.source_in_set = kSandboxAddressesSet;
  masquerade.action = Action::masquerade;
  masquerade.comment = "sandboxes leave with the host's address";
  postrouting.rules.push_back(masquerade);
  table.chains = {std::move(forward), std::move(input), std::move(postrouting)};
  return table;
}

std::string sandbox_name_set(std::size_t index) { return "name-" + std::to_string(index); }
std::string host_name_set(const AddressPlan& addresses, std::size_t index) {
  return "sandbox-" + addresses.tag + "-name-" + std::to_string(index);
}

std::vector<Set> host_run_sets(const EgressPolicy& policy) {
  std::vector<Set> sets;
  for (std::size_t i = 0; i < policy.names.size(); ++i)
    sets.push_back({host_name_set(policy.addresses, i), SetType::resolved_addresses, kNameSetSize});
  return sets;
}

std::string host_egress_chain(const AddressPlan& addresses) { return "sandbox-" + addresses.tag + "-egress"; }
std::string host_ingress_chain(const AddressPlan& addresses) { return "sandbox-" + addresses.tag + "-ingress"; }

std::vector<Chain> host_run_chains(const EgressPolicy& policy) {
  Chain egress{host_egress_chain(policy.addresses)};
  egress.rules.push_back(ipv6_drop(""));
  Rule spoofed;
  spoofed.match.source = host_cidr(policy.addresses.sandbox_side);
  spoofed.match.source_negated = true;
  spoofed.action = Action::drop;
  spoofed.comment = "not the sandbox's own address";
  egress.rules.push_back(spoofed);
  egress.rules.push_back(with_ct(kCtEstablished | kCtRelated, Action::accept, "", "replies"));
  egress.rules.push_back(with_ct(kCtInvalid, Action::drop, "", "not part of any connection"));
  Rule drop;
  drop.action = Action::drop;
  const auto name_set = [&](std::size_t index) { return host_name_set(policy.addresses, index); };
  for (auto& rule : destination_rules(policy, drop, "", name_set, false)) egress.rules.push_back(std::move(rule));
  Chain ingress{host_ingress_chain(policy.addresses)};
  ingress.rules.push_back(with_ct(kCtEstablished | kCtRelated, Action::accept, "", "replies"));
  ingress.rules.push_back(with_ct(0, Action::drop, "", "nothing connects into a sandbox"));
  return {std::move(egress), std::move(ingress)};
}

std::string to_text(const Rule& rule) {
  std::string text = match_text(rule.match);
  const auto add = [&](const std::string& part) {
    if (!part.empty()) text += (text.empty() ? "" : " ") + part;
  };
  if (!rule.record_in_set.empty())
    add("add @" + rule.record_in_set + " { ip daddr . meta l4proto . " + (rule.match.other_protocol ? "0" : "th dport") + " }");
  if (!rule.counter.empty()) add("counter name \"" + rule.counter + "\"");
  add(action_text(rule));
  if (!rule.comment.empty()) add("comment \"" + rule.comment + "\"");
  return text;
}

std::string to_text(const Chain& chain) {
  std::string text = "chain " + chain.name + " {\n";
  if (chain.hook != Hook::none)
    text += std::string("  type ") + (chain.nat ? "nat" : "filter") + " hook " + hook_name(chain.hook) + " priority " +
            std::to_string(chain.priority) + "; policy " + (chain.policy == Action::drop ? "drop" : "accept") + ";\n";
  for (const auto& rule : chain.rules) text += "  " + to_text(rule) + "\n";
  return text + "}\n";
}

std::string to_text(const Table& table) {
  std::string text = "table inet " + table.name + " {\n";
  for (const auto& counter : table.counters) text += "  counter " + counter + " { }\n";
  for (const auto& set : table.sets) text += "  " + set_text(set) + "\n";
  for (const auto& chain : table.chains) {
    std::string chain_text = to_text(chain);
    std::size_t start = 0;
    while (start < chain_text.size()) {
      auto end = chain_text.find('\n', start);
      text += "  " + chain_text.substr(start, end - start + 1);
      start = end + 1;
    }
  }
  return text + "}\n";
}

}  // namespace tierbox::net
