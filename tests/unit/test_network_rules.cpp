// The pure part of network tiers: addresses, destinations, the address
// plan, and the rules, checked by evaluating them on packets (what a packet
// to X meets first), so "always denied unless a rule names it explicitly"
// is tested as a property, not as a listing.
#include <boost/test/unit_test.hpp>

#include <set>
#include <nlohmann/json.hpp>

#include "net/address_plan.h"
#include "net/destination.h"
#include "net/ipv4.h"
#include "net/report.h"
#include "net/ruleset.h"
#include "net/run_network.h"

using namespace tierbox::net;

namespace {

Ipv4Address ip(const char* text) { return *parse_ipv4(text); }
Ipv4Cidr block(const char* text) { return *parse_ipv4_cidr(text); }

AllowRule allow(const char* cidr, std::uint16_t first, std::uint16_t last, Protocol protocol, bool given_as_address = true) {
  return {block(cidr), {first, last}, protocol, given_as_address, cidr};
}

EgressPolicy policy_with(std::vector<AllowRule> rules) {
  EgressPolicy policy;
  policy.allow = std::move(rules);
  policy.pool = block("10.210.0.0/16");
  policy.addresses = *address_plan_for_slot(policy.pool, 3);
  policy.host_addresses = {ip("127.0.0.1"), ip("192.0.2.2"), ip("10.210.0.13")};
  return policy;
}

struct Packet {
  Ipv4Address destination;
  std::uint16_t port = 443;
  std::optional<Protocol> protocol = Protocol::tcp;  // nullopt: another protocol
  bool ipv6 = false;
  std::uint32_t ct = 8;  // new
  std::uint32_t output_index = 2;
  std::uint32_t input_index = 2;
  Ipv4Address source = ip("10.210.0.14");
};

bool matches(const Match& match, const Packet& packet) {
  if (match.output_index && *match.output_index != packet.output_index) return false;
  if (match.input_index && *match.input_index != packet.input_index) return false;
  if (match.family && (*match.family == IpFamily::ipv6) != packet.ipv6) return false;
  if ((match.source || match.destination) && packet.ipv6) return false;
  if (match.source && match.source->contains(packet.source) == match.source_negated) return false;
  if (match.destination && !match.destination->contains(packet.destination)) return false;
  if (match.ct_states && !(match.ct_states & packet.ct)) return false;
  if (match.protocol && match.protocol != packet.protocol) return false;
  if (match.other_protocol && packet.protocol) return false;
  if (match.destination_ports && (packet.port < match.destination_ports->first || packet.port > match.destination_ports->last))
    return false;
  return true;
}

// What the chain does with the packet: "accept", "drop", "refuse" (goto
// the refuse chain) or "policy" (no rule decided).
std::string verdict(const Chain& chain, const Packet& packet) {
  for (const auto& rule : chain.rules) {
    if (!matches(rule.match, packet)) continue;
    switch (rule.action) {
      case Action::accept: return "accept";
      case Action::drop: return "drop";
      case Action::reject: return "reject";
      case Action::go_to: return rule.target_chain == kRefuseChain ? "refuse" : "goto " + rule.target_chain;
      default: break;
    }
  }
  return "policy";
}

const Chain& chain_named(const Table& table, const std::string& name) {
  for (const auto& chain : table.chains)
    if (chain.name == name) return chain;
  throw std::runtime_error("no chain " + name);
}

std::string sandbox_verdict(const EgressPolicy& policy, Packet packet) {
  return verdict(chain_named(sandbox_table(policy), "output"), packet);
}

std::string host_verdict(const EgressPolicy& policy, Packet packet) {
  return verdict(host_run_chains(policy).front(), packet);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(network_addresses)

BOOST_AUTO_TEST_CASE(ipv4_addresses_and_blocks_parse_strictly) {
  BOOST_TEST(parse_ipv4("198.51.100.7")->value == 0xc6336407u);
  BOOST_TEST(parse_ipv4("0.0.0.0")->value == 0u);
  for (const char* bad : {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1.2.3.4 ", "a.b.c.d", "1..2.3", "+1.2.3.4", "1.2.3.-4"})
    BOOST_TEST(!parse_ipv4(bad), bad);
  BOOST_TEST(parse_ipv4_cidr("10.20.0.0/16")->prefix == 16);
  BOOST_TEST(parse_ipv4_cidr("198.51.100.7")->prefix == 32);
  BOOST_TEST(parse_ipv4_cidr("0.0.0.0/0")->size() == (1ULL << 32));
  for (const char* bad : {"10.20.0.1/16", "10.0.0.0/33", "10.0.0.0/", "10.0.0.0/08", "10.0.0.0/-1", "10.0.0.0/+8"})
    BOOST_TEST(!parse_ipv4_cidr(bad), bad);
  BOOST_TEST(block("10.0.0.0/8").contains(block("10.20.0.0/16")));
  BOOST_TEST(!block("10.20.0.0/16").contains(block("10.0.0.0/8")));
  BOOST_TEST(block("10.20.0.0/16").overlaps(block("10.0.0.0/8")));
  BOOST_TEST(!block("10.0.0.0/8").overlaps(block("11.0.0.0/8")));
  BOOST_TEST(block("172.16.0.0/12").last().to_string() == "172.31.255.255");
}

BOOST_AUTO_TEST_CASE(destinations_state_host_port_and_protocol) {
  auto named = std::get<Destination>(parse_destination("api.github.com:443/tcp"));
  BOOST_TEST(named.host_name == "api.github.com");
  BOOST_TEST(!named.block);
  BOOST_TEST(named.ports.first == 443);
  BOOST_TEST((named.protocol == Protocol::tcp));
  auto cidr = std::get<Destination>(parse_destination("10.20.0.0/16:5432/tcp"));
  BOOST_TEST(cidr.block->to_string() == "10.20.0.0/16");
  auto range = std::get<Destination>(parse_destination("198.51.100.7:8000-8100/udp"));
  BOOST_TEST(range.ports.first == 8000);
  BOOST_TEST(range.ports.last == 8100);
  BOOST_TEST((range.protocol == Protocol::udp));
  const std::pair<const char*, const char*> bad[] = {
      {"api.github.com:443", "missing port or protocol"},
      {"api.github.com/tcp", "missing port or protocol"},
      {"api.github.com:443/icmp", "not tcp or udp"},
      {"api.github.com:0/tcp", "bad port"},
      {"api.github.com:+443/tcp", "bad port"},
      {"api.github.com:65536/tcp", "bad port"},
      {"api.github.com:90-80/tcp", "bad port"},
      {"[2001:db8::1]:443/tcp", "IPv6"},
      {"2001:db8::1:443/tcp", "IPv6"},
      {"10.20.0.1/16:80/tcp", "bad address or block"},
      {"under_score.example:80/tcp", "bad host name"},
      {":80/tcp", "missing host"},
  };
  for (const auto& [text, expected] : bad) {
    auto parsed = parse_destination(text);
    BOOST_TEST_REQUIRE(std::holds_alternative<std::string>(parsed), text);
    BOOST_TEST(std::get<std::string>(parsed).find(expected) != std::string::npos, text << ": " << std::get<std::string>(parsed));
  }
}

BOOST_AUTO_TEST_CASE(each_slot_gets_its_own_subnet_and_names) {
  const auto pool = block("10.210.0.0/16");
  BOOST_TEST(pool_capacity(pool) == 16384u);
  BOOST_TEST(pool_capacity(block("10.210.0.0/24")) == 64u);
  auto first = *address_plan_for_slot(pool, 0);
  BOOST_TEST(first.subnet.to_string() == "10.210.0.0/30");
  BOOST_TEST(first.host_side.to_string() == "10.210.0.1");
  BOOST_TEST(first.sandbox_side.to_string() == "10.210.0.2");
  BOOST_TEST(first.host_interface == "tbx0ad20000");
  BOOST_TEST(first.host_interface.size() < 16u);  // IFNAMSIZ
  std::set<std::string> interfaces;
  for (unsigned slot = 0; slot < 4096; ++slot) {
    auto plan = *address_plan_for_slot(pool, slot);
    BOOST_TEST_REQUIRE(pool.contains(plan.subnet));
    BOOST_TEST_REQUIRE(interfaces.insert(plan.host_interface).second);
    if (slot > 0) BOOST_TEST_REQUIRE(!plan.subnet.overlaps(address_plan_for_slot(pool, slot - 1)->subnet));
  }
  BOOST_TEST(!address_plan_for_slot(block("10.210.0.0/24"), 64));
}

BOOST_AUTO_TEST_CASE(report_and_record_round_trip) {
  NetworkReport report{"allowlist", 12, 3456, 3, {"169.254.169.254:80/tcp"}};
  auto json = report.to_json();
  BOOST_TEST(json.size() == 6u);  // no resolver: no "dns"
  for (const char* key : {"mode", "allowed_packets", "allowed_bytes", "dropped_packets", "dropped_destinations",
                          "connected_destinations"})
    BOOST_TEST(json.contains(key), key);
  BOOST_TEST(NetworkReport::from_json(json).dropped_destinations == report.dropped_destinations);
  BOOST_TEST(format_destination(ip("198.51.100.7"), 17, 53) == "198.51.100.7:53/udp");
  BOOST_TEST(format_destination(ip("198.51.100.7"), 1, 0) == "198.51.100.7/icmp");
  BOOST_TEST(format_destination(ip("198.51.100.7"), 132, 0) == "198.51.100.7/proto-132");

  RunNetwork network;
  network.run_id = "0123456789abcdef";
  network.pool = block("10.210.0.0/16");
  network.slot = 7;
  network.slot_lock = "/run/tierbox/slots/7.lock";
  network.addresses = *address_plan_for_slot(network.pool, 7);
  network.allow = {allow("10.20.0.0/16", 5432, 5432, Protocol::tcp), allow("198.51.100.7/32", 8000, 8100, Protocol::udp, false)};
  network.netns_inode = 4026532000;
  auto back = run_network_from_json(to_json(network));
  BOOST_TEST(back.addresses.host_interface == network.addresses.host_interface);
  BOOST_TEST(back.allow.size() == 2u);
  BOOST_TEST(back.allow[1].ports.last == 8100);
  BOOST_TEST(!back.allow[1].given_as_address);
  BOOST_TEST(back.netns_inode == network.netns_inode);
  auto tampered = to_json(network);
  tampered["host_interface"] = "eth0";  // gc must never delete a name the record does not own
  BOOST_CHECK_THROW(run_network_from_json(tampered), std::runtime_error);
  tampered = to_json(network);
  tampered["slot_lock"] = "/etc/shadow";
  BOOST_CHECK_THROW(run_network_from_json(tampered), std::runtime_error);
  tampered["slot_lock"] = "/run/tierbox/slots/8.lock";  // another slot's
  BOOST_CHECK_THROW(run_network_from_json(tampered), std::runtime_error);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(network_rules)

BOOST_AUTO_TEST_CASE(listed_destinations_pass_and_nothing_else) {
  auto policy = policy_with({allow("198.51.100.7/32", 443, 443, Protocol::tcp), allow("198.51.100.7/32", 53, 53, Protocol::udp)});
  BOOST_TEST(sandbox_verdict(policy, {ip("198.51.100.7"), 443}) == "accept");
  BOOST_TEST(sandbox_verdict(policy, {ip("198.51.100.7"), 53, Protocol::udp}) == "accept");
  BOOST_TEST(sandbox_verdict(policy, {ip("198.51.100.7"), 444}) == "refuse");   // another port
  BOOST_TEST(sandbox_verdict(policy, {ip("198.51.100.7"), 53}) == "refuse");    // tcp where udp is allowed
  BOOST_TEST(sandbox_verdict(policy, {ip("198.51.100.8"), 443}) == "refuse");   // another host
  BOOST_TEST(sandbox_verdict(policy, {ip("198.51.100.7"), 0, std::nullopt}) == "refuse");  // another protocol
}

BOOST_AUTO_TEST_CASE(a_wide_block_never_opens_an_always_denied_range) {
  auto policy = policy_with({allow("0.0.0.0/0", 443, 443, Protocol::tcp)});
  BOOST_TEST(sandbox_verdict(policy, {ip("198.51.100.7"), 443}) == "accept");
  for (const char* denied : {"169.254.169.254", "169.254.1.1", "10.1.2.3", "172.20.0.1", "192.168.1.1", "100.100.100.200",
                             "127.0.0.1", "0.0.0.1", "224.0.0.251", "239.255.255.250", "255.255.255.255", "192.0.0.192",
                             "192.0.2.2" /* the host */, "10.210.0.13" /* the gateway */, "10.210.7.2" /* another sandbox */})
    BOOST_TEST(sandbox_verdict(policy, {ip(denied), 443}) == "refuse", denied);
}

BOOST_AUTO_TEST_CASE(a_denied_range_opens_only_to_a_rule_inside_it) {
  auto policy = policy_with({allow("10.20.0.0/16", 5432, 5432, Protocol::tcp), allow("169.254.169.254/32", 80, 80, Protocol::tcp)});
  BOOST_TEST(sandbox_verdict(policy, {ip("10.20.3.4"), 5432}) == "accept");
  BOOST_TEST(sandbox_verdict(policy, {ip("10.21.3.4"), 5432}) == "refuse");
  BOOST_TEST(sandbox_verdict(policy, {ip("10.20.3.4"), 5433}) == "refuse");
  BOOST_TEST(sandbox_verdict(policy, {ip("169.254.169.254"), 80}) == "accept");
  BOOST_TEST(sandbox_verdict(policy, {ip("169.254.169.254"), 443}) == "refuse");
  BOOST_TEST(sandbox_verdict(policy, {ip("169.254.169.253"), 80}) == "refuse");
}

BOOST_AUTO_TEST_CASE(the_host_opens_only_to_its_exact_address) {
  auto wide = policy_with({allow("192.0.2.0/24", 80, 80, Protocol::tcp)});
  BOOST_TEST(sandbox_verdict(wide, {ip("192.0.2.3"), 80}) == "accept");
  BOOST_TEST(sandbox_verdict(wide, {ip("192.0.2.2"), 80}) == "refuse");
  auto exact = policy_with({allow("192.0.2.2/32", 80, 80, Protocol::tcp)});
  BOOST_TEST(sandbox_verdict(exact, {ip("192.0.2.2"), 80}) == "accept");
  BOOST_TEST(sandbox_verdict(exact, {ip("192.0.2.2"), 81}) == "refuse");
}

BOOST_AUTO_TEST_CASE(names_and_the_pool_never_open_anything_denied) {
  // A name that resolved to a private address (the planner refuses those;
  // the rules would not let it through either).
  auto named = policy_with({allow("10.1.2.3/32", 443, 443, Protocol::tcp, false)});
  BOOST_TEST(sandbox_verdict(named, {ip("10.1.2.3"), 443}) == "refuse");
  auto pool = policy_with({allow("10.210.0.0/16", 443, 443, Protocol::tcp)});
  BOOST_TEST(sandbox_verdict(pool, {ip("10.210.7.2"), 443}) == "refuse");
  BOOST_TEST(sandbox_verdict(pool, {ip("10.210.0.13"), 443}) == "refuse");
}

BOOST_AUTO_TEST_CASE(port_ranges_are_inclusive) {
  auto policy = policy_with({allow("198.51.100.7/32", 8000, 8100, Protocol::udp)});
  BOOST_TEST(sandbox_verdict(policy, {ip("198.51.100.7"), 8000, Protocol::udp}) == "accept");
  BOOST_TEST(sandbox_verdict(policy, {ip("198.51.100.7"), 8100, Protocol::udp}) == "accept");
  BOOST_TEST(sandbox_verdict(policy, {ip("198.51.100.7"), 7999, Protocol::udp}) == "refuse");
  BOOST_TEST(sandbox_verdict(policy, {ip("198.51.100.7"), 8101, Protocol::udp}) == "refuse");
}

BOOST_AUTO_TEST_CASE(lo_replies_and_ipv6) {
  auto policy = policy_with({allow("198.51.100.7/32", 443, 443, Protocol::tcp)});
  Packet loopback{ip("127.0.0.1"), 80};
  loopback.output_index = kLoopbackIndex;
  BOOST_TEST(sandbox_verdict(policy, loopback) == "accept");
  Packet reply{ip("10.9.9.9"), 80};
  reply.ct = kCtEstablished;
  BOOST_TEST(sandbox_verdict(policy, reply) == "accept");
  Packet invalid{ip("198.51.100.7"), 443};
  invalid.ct = kCtInvalid;
  BOOST_TEST(sandbox_verdict(policy, invalid) == "drop");
  Packet ipv6{ip("198.51.100.7"), 443};
  ipv6.ipv6 = true;
  BOOST_TEST(sandbox_verdict(policy, ipv6) == "drop");
  ipv6.output_index = kLoopbackIndex;  // ::1 on lo is fine
  BOOST_TEST(sandbox_verdict(policy, ipv6) == "accept");

  const auto& input = chain_named(sandbox_table(policy), "input");
  Packet inbound{ip("10.210.0.14"), 22};
  BOOST_TEST(verdict(input, inbound) == "drop");
  inbound.ct = kCtEstablished;
  BOOST_TEST(verdict(input, inbound) == "accept");
  BOOST_TEST((input.policy == Action::drop));
  BOOST_TEST((chain_named(sandbox_table(policy), "output").policy == Action::drop));
}

BOOST_AUTO_TEST_CASE(refusals_are_recorded_counted_and_answered) {
  const auto table = sandbox_table(policy_with({allow("198.51.100.7/32", 443, 443, Protocol::tcp)}));
  BOOST_TEST((table.counters == std::vector<std::string>{kAllowedCounter, kDroppedCounter}));
  BOOST_TEST_REQUIRE(table.sets.size() == 2u);
  BOOST_TEST(table.sets[0].size == kDroppedDestinationsKept);
  BOOST_TEST(table.sets[1].name == kConnectedSet);
  const auto& refuse = chain_named(table, kRefuseChain);
  BOOST_TEST_REQUIRE(refuse.rules.size() == 5u);
  for (int i = 0; i < 3; ++i) {
    BOOST_TEST(refuse.rules[i].record_in_set == kDroppedSet);
    BOOST_TEST((refuse.rules[i].action == Action::none));  // recording never decides
  }
  BOOST_TEST(to_text(refuse.rules[3]) == "meta l4proto tcp counter name \"dropped\" reject with tcp reset");
  BOOST_TEST(to_text(refuse.rules[4]) == "counter name \"dropped\" reject with icmpx admin-prohibited");
  for (const auto& rule : chain_named(table, "output").rules)
    if (rule.action == Action::accept && rule.match.destination) BOOST_TEST(rule.counter == kAllowedCounter);
}

BOOST_AUTO_TEST_CASE(the_host_chain_enforces_the_same_destinations_and_the_sandbox_address) {
  auto policy = policy_with({allow("198.51.100.7/32", 443, 443, Protocol::tcp), allow("10.20.0.0/16", 5432, 5432, Protocol::tcp),
                             allow("0.0.0.0/0", 80, 80, Protocol::tcp)});
  for (const char* destination : {"198.51.100.7", "198.51.100.8", "10.20.1.1", "169.254.169.254", "192.0.2.2", "10.210.9.2"})
    for (std::uint16_t port : {80, 443, 5432}) {
      Packet packet{ip(destination), port};
      const auto inside = sandbox_verdict(policy, packet);
      BOOST_TEST(host_verdict(policy, packet) == (inside == "refuse" ? "drop" : inside), destination << ":" << port);
    }
  Packet spoofed{ip("198.51.100.7"), 443};
  spoofed.source = ip("10.210.0.6");  // another sandbox's address
  BOOST_TEST(host_verdict(policy, spoofed) == "drop");
  const auto ingress = host_run_chains(policy).back();
  BOOST_TEST(verdict(ingress, {ip("10.210.0.14"), 22}) == "drop");
  Packet reply{ip("10.210.0.14"), 40000};
  reply.ct = kCtEstablished;
  BOOST_TEST(verdict(ingress, reply) == "accept");
  BOOST_TEST(host_egress_chain(policy.addresses) == "sandbox-0ad2000c-egress");
}

BOOST_AUTO_TEST_CASE(isolation_leaves_only_lo) {
  const auto chains = isolated_sandbox_chains();
  BOOST_TEST_REQUIRE(chains.size() == 2u);
  Packet allowed_before{ip("198.51.100.7"), 443};
  BOOST_TEST(verdict(chains[0], allowed_before) == "refuse");
  allowed_before.ct = kCtEstablished;  // an established connection stops too
  BOOST_TEST(verdict(chains[0], allowed_before) == "refuse");
  BOOST_TEST(verdict(chains[1], allowed_before) == "drop");
  Packet loopback{ip("127.0.0.1"), 80};
  loopback.output_index = kLoopbackIndex;
  loopback.input_index = kLoopbackIndex;
  BOOST_TEST(verdict(chains[0], loopback) == "accept");
  BOOST_TEST(verdict(chains[1], loopback) == "accept");
}

BOOST_AUTO_TEST_CASE(rules_read_as_nft_syntax) {
  auto policy = policy_with({allow("10.20.0.0/16", 5432, 5432, Protocol::tcp)});
  const auto text = to_text(sandbox_table(policy));
  for (const char* line : {
           "type filter hook output priority 0; policy drop;",
           "meta oif 1 accept comment \"lo\"",
           "ip daddr 10.210.0.0/16 goto refuse",
           "ip daddr 192.0.2.2/32 goto refuse comment \"an address of the host itself\"",
           "ip daddr 10.20.0.0/16 meta l4proto tcp th dport 5432 counter name \"allowed\" accept",
           "ip daddr 169.254.0.0/16 goto refuse",
           "meta nfproto ipv4 meta l4proto tcp add @dropped_destinations { ip daddr . meta l4proto . th dport }",
           "goto refuse comment \"not on the allowlist\"",
       })
    BOOST_TEST(text.find(line) != std::string::npos, line << " not in:\n" << text);
  // The explicit private block comes before the refusal of 10.0.0.0/8.
  BOOST_TEST(text.find("ip daddr 10.20.0.0/16") < text.find("ip daddr 10.0.0.0/8"));
  const auto host = to_text(host_base_table());
  BOOST_TEST(host.find("iifname vmap @egress_from") != std::string::npos, host);
  BOOST_TEST(host.find("ip saddr @sandbox_addresses masquerade") != std::string::npos, host);
  BOOST_TEST(host.find("type nat hook postrouting priority 100; policy accept;") != std::string::npos, host);
}

BOOST_AUTO_TEST_SUITE_END()
