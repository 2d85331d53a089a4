// The netlink messages of the network helper (and the runner's channel to
// it): a batch is decoded again
// with libnftnl and its expressions compared with what the nft tool (1.0.6)
// sends for the same rule (`nft --debug=netlink`), so the kernel gets from
// tierbox exactly what it gets from nft.
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <libnftnl/rule.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include <boost/test/unit_test.hpp>

#include <sstream>
#include <sys/socket.h>
#include <unistd.h>

#include "net/channel.h"
#include "net/helper/nft_messages.h"
#include "net/ruleset.h"

using namespace tierbox::net;
using namespace tierbox::net::helper;

namespace {

Ipv4Cidr block(const char* text) { return *parse_ipv4_cidr(text); }

struct Decoded {
  std::vector<std::uint16_t> types;  // message types in order
  std::vector<std::uint16_t> flags;
  std::vector<std::string> rules;    // each rule's expressions, one "[ ... ]" per line
};

Decoded decode(NftBatch& batch) {
  batch.finish();
  Decoded decoded;
  int remaining = static_cast<int>(batch.size());
  for (auto* message = static_cast<const nlmsghdr*>(batch.data()); mnl_nlmsg_ok(message, remaining);
       message = mnl_nlmsg_next(message, &remaining)) {
    decoded.types.push_back(message->nlmsg_type);
    decoded.flags.push_back(message->nlmsg_flags);
    if (message->nlmsg_type != ((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWRULE)) continue;
    auto* rule = nftnl_rule_alloc();
    BOOST_TEST_REQUIRE(nftnl_rule_nlmsg_parse(message, rule) == 0);
    char text[4096];
    nftnl_rule_snprintf(text, sizeof text, rule, NFTNL_OUTPUT_DEFAULT, 0);
    nftnl_rule_free(rule);
    // Drop the "inet tierbox chain" header line: the expressions are what count.
    std::string expressions;
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);)
      if (line.find("[ ") != std::string::npos) expressions += line.substr(line.find("[ ")) + "\n";
    decoded.rules.push_back(expressions);
  }
  return decoded;
}

std::string decode_one(const Rule& rule) {
  NftBatch batch(100);
  Chain chain{"c"};
  chain.rules = {rule};
  batch.replace_rules(kTableName, chain);
  auto decoded = decode(batch);
  BOOST_TEST_REQUIRE(decoded.rules.size() == 1u);
  return decoded.rules[0];
}

Rule allowed(const char* cidr, Protocol protocol, std::uint16_t port) {
  Rule rule;
  rule.match.destination = block(cidr);
  rule.match.protocol = protocol;
  rule.match.destination_ports = PortRange{port, port};
  rule.counter = kAllowedCounter;
  rule.action = Action::accept;
  return rule;
}

constexpr std::uint16_t kNewRule = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWRULE;

}  // namespace

BOOST_AUTO_TEST_SUITE(network_messages)

BOOST_AUTO_TEST_CASE(an_allow_rule_is_what_nft_sends) {
  // nft: meta nfproto ipv4 ip daddr 10.20.0.0/16 meta l4proto tcp th dport 5432 counter name "allowed" accept
  BOOST_TEST(decode_one(allowed("10.20.0.0/16", Protocol::tcp, 5432)) ==
             "[ meta load nfproto => reg 1 ]\n"
             "[ cmp eq reg 1 0x00000002 ]\n"
             "[ payload load 2b @ network header + 16 => reg 1 ]\n"
             "[ cmp eq reg 1 0x0000140a ]\n"
             "[ meta load l4proto => reg 1 ]\n"
             "[ cmp eq reg 1 0x00000006 ]\n"
             "[ payload load 2b @ transport header + 2 => reg 1 ]\n"
             "[ cmp eq reg 1 0x00003815 ]\n"
             "[ objref type 1 name allowed ]\n"
             "[ immediate reg 0 accept ]\n");
  // nft: meta nfproto ipv4 ip daddr 198.51.100.7 meta l4proto udp th dport 53 accept
  auto udp = allowed("198.51.100.7/32", Protocol::udp, 53);
  udp.counter.clear();
  BOOST_TEST(decode_one(udp) ==
             "[ meta load nfproto => reg 1 ]\n"
             "[ cmp eq reg 1 0x00000002 ]\n"
             "[ payload load 4b @ network header + 16 => reg 1 ]\n"
             "[ cmp eq reg 1 0x076433c6 ]\n"
             "[ meta load l4proto => reg 1 ]\n"
             "[ cmp eq reg 1 0x00000011 ]\n"
             "[ payload load 2b @ transport header + 2 => reg 1 ]\n"
             "[ cmp eq reg 1 0x00003500 ]\n"
             "[ immediate reg 0 accept ]\n");
}

BOOST_AUTO_TEST_CASE(refusing_a_block_is_what_nft_sends) {
  // nft: meta nfproto ipv4 ip daddr 172.16.0.0/12 goto refuse
  Rule rule;
  rule.match.destination = block("172.16.0.0/12");
  rule.action = Action::go_to;
  rule.target_chain = kRefuseChain;
  BOOST_TEST(decode_one(rule) ==
             "[ meta load nfproto => reg 1 ]\n"
             "[ cmp eq reg 1 0x00000002 ]\n"
             "[ payload load 4b @ network header + 16 => reg 1 ]\n"
             "[ bitwise reg 1 = ( reg 1 & 0x0000f0ff ) ^ 0x00000000 ]\n"
             "[ cmp eq reg 1 0x000010ac ]\n"
             "[ immediate reg 0 goto -> refuse ]\n");
  // nft: meta nfproto ipv4 ip saddr != 10.210.0.2 drop
  Rule spoofed;
  spoofed.match.source = block("10.210.0.2/32");
  spoofed.match.source_negated = true;
  spoofed.action = Action::drop;
  BOOST_TEST(decode_one(spoofed) ==
             "[ meta load nfproto => reg 1 ]\n"
             "[ cmp eq reg 1 0x00000002 ]\n"
             "[ payload load 4b @ network header + 12 => reg 1 ]\n"
             "[ cmp neq reg 1 0x0200d20a ]\n"
             "[ immediate reg 0 drop ]\n");
}

BOOST_AUTO_TEST_CASE(state_loopback_and_ipv6_are_what_nft_sends) {
  const auto table = sandbox_table([] {
    EgressPolicy policy;
    policy.pool = block("10.210.0.0/16");
    policy.addresses = *address_plan_for_slot(policy.pool, 0);
    policy.allow = {{block("198.51.100.7/32"), {443, 443}, Protocol::tcp, true, "x"}};
    return policy;
  }());
  const Chain* output = nullptr;
  for (const auto& chain : table.chains)
    if (chain.name == "output") output = &chain;
  BOOST_TEST_REQUIRE(output);
  // nft: meta oif lo accept
  BOOST_TEST(decode_one(output->rules[0]) ==
             "[ meta load oif => reg 1 ]\n"
             "[ cmp eq reg 1 0x00000001 ]\n"
             "[ immediate reg 0 accept ]\n");
  // nft: meta nfproto ipv6 counter name "dropped" drop
  BOOST_TEST(decode_one(output->rules[1]) ==
             "[ meta load nfproto => reg 1 ]\n"
             "[ cmp eq reg 1 0x0000000a ]\n"
             "[ objref type 1 name dropped ]\n"
             "[ immediate reg 0 drop ]\n");
  // nft: ct state established,related counter name "allowed" accept
  BOOST_TEST(decode_one(output->rules[2]) ==
             "[ ct load state => reg 1 ]\n"
             "[ bitwise reg 1 = ( reg 1 & 0x00000006 ) ^ 0x00000000 ]\n"
             "[ cmp neq reg 1 0x00000000 ]\n"
             "[ objref type 1 name allowed ]\n"
             "[ immediate reg 0 accept ]\n");
}

BOOST_AUTO_TEST_CASE(recording_and_rejecting_are_what_nft_sends) {
  Chain refuse;
  for (const auto& chain : sandbox_table([] {
         EgressPolicy policy;
         policy.pool = block("10.210.0.0/16");
         policy.addresses = *address_plan_for_slot(policy.pool, 0);
         return policy;
       }()).chains)
    if (chain.name == kRefuseChain) refuse = chain;
  BOOST_TEST_REQUIRE(refuse.rules.size() == 5u);
  // nft: meta nfproto ipv4 meta l4proto tcp add @dropped_destinations { ip daddr . meta l4proto . th dport }
  BOOST_TEST(decode_one(refuse.rules[0]) ==
             "[ meta load nfproto => reg 1 ]\n"
             "[ cmp eq reg 1 0x00000002 ]\n"
             "[ meta load l4proto => reg 1 ]\n"
             "[ cmp eq reg 1 0x00000006 ]\n"
             "[ payload load 4b @ network header + 16 => reg 1 ]\n"
             "[ meta load l4proto => reg 9 ]\n"
             "[ payload load 2b @ transport header + 2 => reg 10 ]\n"
             "[ dynset add reg_key 1 set dropped_destinations ]\n");
  // Other protocols: the port part of the key is a zero.
  BOOST_TEST(decode_one(refuse.rules[2]).find("[ immediate reg 10 0x00000000 ]") != std::string::npos);
  // nft: meta l4proto tcp counter name "dropped" reject with tcp reset
  BOOST_TEST(decode_one(refuse.rules[3]) ==
             "[ meta load l4proto => reg 1 ]\n"
             "[ cmp eq reg 1 0x00000006 ]\n"
             "[ objref type 1 name dropped ]\n"
             "[ reject type 1 code 0 ]\n");
  // nft: counter name "dropped" reject with icmpx admin-prohibited
  BOOST_TEST(decode_one(refuse.rules[4]) ==
             "[ objref type 1 name dropped ]\n"
             "[ reject type 2 code 3 ]\n");
}

BOOST_AUTO_TEST_CASE(host_dispatch_and_masquerade_are_what_nft_sends) {
  const auto host = host_base_table();
  // nft: iifname vmap @egress_from
  BOOST_TEST(decode_one(host.chains[0].rules[0]) ==
             "[ meta load iifname => reg 1 ]\n"
             "[ lookup reg 1 set egress_from dreg 0 ]\n");
  // nft: meta nfproto ipv4 ip saddr @sandbox_addresses masquerade
  BOOST_TEST(decode_one(host.chains[2].rules[0]) ==
             "[ meta load nfproto => reg 1 ]\n"
             "[ cmp eq reg 1 0x00000002 ]\n"
             "[ payload load 4b @ network header + 12 => reg 1 ]\n"
             "[ lookup reg 1 set sandbox_addresses ]\n"
             "[ masq ]\n");
}

BOOST_AUTO_TEST_CASE(port_ranges_compare_both_ends) {
  auto rule = allowed("198.51.100.7/32", Protocol::tcp, 0);
  rule.match.destination_ports = PortRange{8000, 8100};
  const auto text = decode_one(rule);
  BOOST_TEST(text.find("[ cmp gte reg 1 0x0000401f ]") != std::string::npos, text);
  BOOST_TEST(text.find("[ cmp lte reg 1 0x0000a41f ]") != std::string::npos, text);
}

BOOST_AUTO_TEST_CASE(a_batch_is_one_transaction_acknowledged_once) {
  NftBatch batch(1);
  batch.add_table(host_base_table(), true);
  const auto decoded = decode(batch);
  BOOST_TEST_REQUIRE(decoded.types.size() >= 3u);
  BOOST_TEST(decoded.types.front() == NFNL_MSG_BATCH_BEGIN);
  BOOST_TEST(decoded.types.back() == NFNL_MSG_BATCH_END);
  BOOST_TEST(decoded.types[1] == ((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWTABLE));
  BOOST_TEST((decoded.flags[1] & NLM_F_EXCL) != 0);  // the first maker wins, the others get EEXIST
  int acknowledged = 0;
  for (std::size_t i = 1; i + 1 < decoded.flags.size(); ++i) acknowledged += (decoded.flags[i] & NLM_F_ACK) ? 1 : 0;
  BOOST_TEST(acknowledged == 1);
  BOOST_TEST((decoded.flags[decoded.flags.size() - 2] & NLM_F_ACK) != 0);
  BOOST_TEST(decoded.rules.size() == 4u);  // two vmap lookups, the input drop, the masquerade
  BOOST_TEST(batch.describe(2) == "add table inet tierbox");
}

BOOST_AUTO_TEST_CASE(a_sandbox_table_carries_every_rule) {
  EgressPolicy policy;
  policy.pool = block("10.210.0.0/16");
  policy.addresses = *address_plan_for_slot(policy.pool, 0);
  policy.allow = {{block("198.51.100.7/32"), {443, 443}, Protocol::tcp, true, "x"}};
  const auto table = sandbox_table(policy);
  std::size_t expected = 0;
  for (const auto& chain : table.chains) expected += chain.rules.size();
  NftBatch batch(1);
  batch.add_table(table, true);
  const auto decoded = decode(batch);
  BOOST_TEST(decoded.rules.size() == expected);
  int new_chains = 0, new_sets = 0, new_objects = 0;
  for (auto type : decoded.types) {
    new_chains += type == ((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWCHAIN);
    new_sets += type == ((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWSET);
    new_objects += type == ((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWOBJ);
  }
  BOOST_TEST(new_chains == 3);
  BOOST_TEST(new_sets == 2);  // dropped and connected destinations
  BOOST_TEST(new_objects == 2);
  // The regular chain (refuse) is made before the base chain that jumps to it.
  (void)kNewRule;
}

BOOST_AUTO_TEST_CASE(element_keys_are_the_bytes_the_kernel_compares) {
  auto interface = interface_key("tbx0ad20000");
  BOOST_TEST(interface.size() == 16u);
  BOOST_TEST(std::string(reinterpret_cast<const char*>(interface.data())) == "tbx0ad20000");
  BOOST_TEST(interface.back() == 0);
  auto address = address_key(*parse_ipv4("10.210.0.2"));
  BOOST_TEST((address == std::vector<std::uint8_t>{10, 210, 0, 2}));
  NftBatch batch(1);
  batch.add_element(kTableName, kEgressMap, interface, ElementVerdict{true, "sandbox-0ad20000-egress"});
  batch.delete_element(kTableName, kSandboxAddressesSet, address);
  batch.finish();
  BOOST_TEST(batch.describe(2) == "add element inet tierbox egress_from { tbx0ad20000 : jump sandbox-0ad20000-egress }");
  BOOST_TEST(batch.describe(3) == "delete element inet tierbox sandbox_addresses { 10.210.0.2 }");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(network_channel)

struct Pair {
  tierbox::UniqueFd runner, helper;
  Pair() {
    int fds[2];
    BOOST_TEST_REQUIRE(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) == 0);
    runner.reset(fds[0]);
    helper.reset(fds[1]);
  }
};

BOOST_AUTO_TEST_CASE(messages_keep_their_bounds_and_carry_an_fd) {
  Pair pair;
  int pipe_fds[2];
  BOOST_TEST_REQUIRE(::pipe2(pipe_fds, O_CLOEXEC) == 0);
  BOOST_TEST(send_message(pair.runner.get(), R"({"op":"attach"})", pipe_fds[0]));
  BOOST_TEST(send_message(pair.runner.get(), R"({"op":"finish"})"));
  auto first = receive_message(pair.helper.get(), 1000);
  BOOST_TEST(first.text == R"({"op":"attach"})");
  BOOST_TEST_REQUIRE(first.fd.valid());
  BOOST_TEST(::write(pipe_fds[1], "x", 1) == 1);  // the fd that arrived is the pipe
  char byte = 0;
  BOOST_TEST(::read(first.fd.get(), &byte, 1) == 1);
  BOOST_TEST(byte == 'x');
  BOOST_TEST((::fcntl(first.fd.get(), F_GETFD) & FD_CLOEXEC) != 0);
  auto second = receive_message(pair.helper.get(), 1000);
  BOOST_TEST(second.text == R"({"op":"finish"})");
  BOOST_TEST(!second.fd.valid());
  ::close(pipe_fds[0]);
  ::close(pipe_fds[1]);
}

BOOST_AUTO_TEST_CASE(a_peer_that_answered_and_left_is_still_heard) {
  // The helper answers (an error) and exits while a request of the
  // runner's waits unread: the kernel reports ECONNRESET first; the answer
  // must still be read, and only then the end.
  Pair pair;
  BOOST_TEST(send_message(pair.helper.get(), R"({"ok":false,"error":"why"})"));
  BOOST_TEST(send_message(pair.runner.get(), R"({"op":"attach"})"));
  pair.helper.reset();
  auto answer = receive_message(pair.runner.get(), 1000);
  BOOST_TEST(!answer.end_of_file);
  BOOST_TEST(answer.text == R"({"ok":false,"error":"why"})");
  BOOST_TEST(receive_message(pair.runner.get(), 1000).end_of_file);
}

BOOST_AUTO_TEST_CASE(a_silent_peer_times_out) {
  Pair pair;
  BOOST_CHECK_THROW(receive_message(pair.runner.get(), 20), std::runtime_error);
}

BOOST_AUTO_TEST_SUITE_END()
