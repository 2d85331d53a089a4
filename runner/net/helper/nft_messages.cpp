#include "net/helper/nft_messages.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/object.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <net/if.h>

#include <cstring>
#include <memory>
#include <stdexcept>

namespace tierbox::net::helper {
namespace {

// A batch large enough for the biggest rule set by far (a few hundred
// rules); libmnl wants a buffer twice the batch's limit.
constexpr std::size_t kBatchLimit = 512 * 1024;

// nft's datatype numbers, so that `nft list` shows the sets' types.
constexpr std::uint32_t kTypeIpv4Address = 7;
constexpr std::uint32_t kTypeInetProtocol = 12;
constexpr std::uint32_t kTypeInetService = 13;
constexpr std::uint32_t kTypeInterfaceName = 41;
constexpr std::uint32_t concatenated_type(std::initializer_list<std::uint32_t> types) {
  std::uint32_t type = 0;
  for (auto part : types) type = (type << 6) | part;  // nft's TYPE_BITS
  return type;
}

// Offsets of the IPv4 header fields and the transport header's destination port.
constexpr std::uint32_t kIpv4SourceOffset = 12;
constexpr std::uint32_t kIpv4DestinationOffset = 16;
constexpr std::uint32_t kDestinationPortOffset = 2;

struct RuleDeleter {
  void operator()(nftnl_rule* rule) const { nftnl_rule_free(rule); }
};
using RulePtr = std::unique_ptr<nftnl_rule, RuleDeleter>;

void add(nftnl_rule* rule, nftnl_expr* expression) {
  if (!expression) throw std::bad_alloc();
  nftnl_rule_add_expr(rule, expression);
}

nftnl_expr* meta(std::uint32_t key, std::uint32_t destination) {
  auto* expression = nftnl_expr_alloc("meta");
  nftnl_expr_set_u32(expression, NFTNL_EXPR_META_KEY, key);
  nftnl_expr_set_u32(expression, NFTNL_EXPR_META_DREG, destination);
  return expression;
}

nftnl_expr* compare(std::uint32_t operation, const void* data, std::uint32_t length) {
  auto* expression = nftnl_expr_alloc("cmp");
  nftnl_expr_set_u32(expression, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
  nftnl_expr_set_u32(expression, NFTNL_EXPR_CMP_OP, operation);
  nftnl_expr_set(expression, NFTNL_EXPR_CMP_DATA, data, length);
  return expression;
}

template <typename T>
nftnl_expr* compare(std::uint32_t operation, T value) {
  return compare(operation, &value, sizeof value);
}

nftnl_expr* payload(std::uint32_t base, std::uint32_t offset, std::uint32_t length, std::uint32_t destination) {
  auto* expression = nftnl_expr_alloc("payload");
  nftnl_expr_set_u32(expression, NFTNL_EXPR_PAYLOAD_BASE, base);
  nftnl_expr_set_u32(expression, NFTNL_EXPR_PAYLOAD_OFFSET, offset);
  nftnl_expr_set_u32(expression, NFTNL_EXPR_PAYLOAD_LEN, length);
  nftnl_expr_set_u32(expression, NFTNL_EXPR_PAYLOAD_DREG, destination);
  return expression;
}

nftnl_expr* mask(const void* bits, std::uint32_t length) {
  const std::uint8_t zeros[16] = {};
  auto* expression = nftnl_expr_alloc("bitwise");
  nftnl_expr_set_u32(expression, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
  nftnl_expr_set_u32(expression, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
  nftnl_expr_set_u32(expression, NFTNL_EXPR_BITWISE_LEN, length);
  nftnl_expr_set(expression, NFTNL_EXPR_BITWISE_MASK, bits, length);
  nftnl_expr_set(expression, NFTNL_EXPR_BITWISE_XOR, zeros, length);
  return expression;
}

nftnl_expr* verdict(int code, const std::string& chain = "") {
  auto* expression = nftnl_expr_alloc("immediate");
  nftnl_expr_set_u32(expression, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
  nftnl_expr_set_u32(expression, NFTNL_EXPR_IMM_VERDICT, static_cast<std::uint32_t>(code));
  if (!chain.empty()) nftnl_expr_set_str(expression, NFTNL_EXPR_IMM_CHAIN, chain.c_str());
  return expression;
}

nftnl_expr* lookup(const std::string& set, bool verdict_map) {
  auto* expression = nftnl_expr_alloc("lookup");
  nftnl_expr_set_u32(expression, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
  nftnl_expr_set_str(expression, NFTNL_EXPR_LOOKUP_SET, set.c_str());
  if (verdict_map) nftnl_expr_set_u32(expression, NFTNL_EXPR_LOOKUP_DREG, NFT_REG_VERDICT);
  return expression;
}

// Matches the address block the way nft does (so `nft list` prints it as
// "ip daddr 172.16.0.0/12"): a byte-aligned prefix loads and compares only
// its bytes (a /16 two); any other loads all four, masks and compares.
void add_address_match(nftnl_rule* rule, std::uint32_t offset, const Ipv4Cidr& block, bool negated) {
  if (block.prefix == 0) return;
  const bool aligned = block.prefix % 8 == 0;
  const std::uint32_t length = aligned ? static_cast<std::uint32_t>(block.prefix / 8) : 4;
  add(rule, payload(NFT_PAYLOAD_NETWORK_HEADER, offset, length, NFT_REG_1));
  if (!aligned) {
    const std::uint32_t bits = htonl(block.mask());
    add(rule, mask(&bits, length));
  }
  const std::uint32_t network = block.network.network_order();
  add(rule, compare(negated ? NFT_CMP_NEQ : NFT_CMP_EQ, &network, length));
}

void add_port_match(nftnl_rule* rule, const PortRange& ports) {
  add(rule, payload(NFT_PAYLOAD_TRANSPORT_HEADER, kDestinationPortOffset, 2, NFT_REG_1));
  const std::uint16_t first = htons(ports.first);
  const std::uint16_t last = htons(ports.last);
  if (ports.single()) {
    add(rule, compare(NFT_CMP_EQ, first));
    return;
  }
  // Big-endian bytes compare in numeric order.
  add(rule, compare(NFT_CMP_GTE, first));
  add(rule, compare(NFT_CMP_LTE, last));
}

void add_matches(nftnl_rule* rule, const Match& match) {
  if (match.input_index) {
    add(rule, meta(NFT_META_IIF, NFT_REG_1));
    add(rule, compare(NFT_CMP_EQ, *match.input_index));
  }
  if (match.output_index) {
    add(rule, meta(NFT_META_OIF, NFT_REG_1));
    add(rule, compare(NFT_CMP_EQ, *match.output_index));
  }
  if (!match.input_name_in_set.empty()) {
    add(rule, meta(NFT_META_IIFNAME, NFT_REG_1));
    add(rule, lookup(match.input_name_in_set, false));
  }
  // The payload offsets below are IPv4's: the family is checked first.
  const bool ipv4 = match.source || match.destination || !match.source_in_set.empty() ||
                    !match.destination_in_set.empty() || match.destination_address;
  if (match.family || ipv4) {
    add(rule, meta(NFT_META_NFPROTO, NFT_REG_1));
    add(rule, compare(NFT_CMP_EQ, static_cast<std::uint8_t>(ipv4 ? IpFamily::ipv4 : *match.family)));
  }
  if (match.source) add_address_match(rule, kIpv4SourceOffset, *match.source, match.source_negated);
  if (!match.source_in_set.empty()) {
    add(rule, payload(NFT_PAYLOAD_NETWORK_HEADER, kIpv4SourceOffset, 4, NFT_REG_1));
    add(rule, lookup(match.source_in_set, false));
  }
  if (match.destination) add_address_match(rule, kIpv4DestinationOffset, *match.destination, false);
  if (match.destination_address) add_address_match(rule, kIpv4DestinationOffset, host_cidr(*match.destination_address), false);
  if (!match.destination_in_set.empty()) {
    add(rule, payload(NFT_PAYLOAD_NETWORK_HEADER, kIpv4DestinationOffset, 4, NFT_REG_1));
    add(rule, lookup(match.destination_in_set, false));
  }
  if (match.ct_states) {
    auto* state = nftnl_expr_alloc("ct");
    nftnl_expr_set_u32(state, NFTNL_EXPR_CT_KEY, NFT_CT_STATE);
    nftnl_expr_set_u32(state, NFTNL_EXPR_CT_DREG, NFT_REG_1);
    add(rule, state);
    add(rule, mask(&match.ct_states, 4));
    add(rule, compare(NFT_CMP_NEQ, std::uint32_t{0}));
  }
  if (match.protocol || match.other_protocol) add(rule, meta(NFT_META_L4PROTO, NFT_REG_1));
  if (match.protocol) add(rule, compare(NFT_CMP_EQ, static_cast<std::uint8_t>(*match.protocol)));
  if (match.other_protocol) {
    add(rule, compare(NFT_CMP_NEQ, static_cast<std::uint8_t>(Protocol::tcp)));
    add(rule, compare(NFT_CMP_NEQ, static_cast<std::uint8_t>(Protocol::udp)));
  }
  if (match.destination_ports) add_port_match(rule, *match.destination_ports);
}

// Key: ip daddr . meta l4proto . th dport (0 for other protocols), in the
// 32-bit registers 8, 9 and 10 that nft uses for concatenations.
void add_record(nftnl_rule* rule, const Rule& source) {
  add(rule, payload(NFT_PAYLOAD_NETWORK_HEADER, kIpv4DestinationOffset, 4, NFT_REG_1));
  add(rule, meta(NFT_META_L4PROTO, NFT_REG32_01));
  if (source.match.other_protocol) {
    const std::uint32_t zero = 0;
    auto* immediate = nftnl_expr_alloc("immediate");
    nftnl_expr_set_u32(immediate, NFTNL_EXPR_IMM_DREG, NFT_REG32_02);
    nftnl_expr_set(immediate, NFTNL_EXPR_IMM_DATA, &zero, sizeof zero);
    add(rule, immediate);
  } else {
    add(rule, payload(NFT_PAYLOAD_TRANSPORT_HEADER, kDestinationPortOffset, 2, NFT_REG32_02));
  }
  auto* insert = nftnl_expr_alloc("dynset");
  nftnl_expr_set_u32(insert, NFTNL_EXPR_DYNSET_SREG_KEY, NFT_REG_1);
  nftnl_expr_set_u32(insert, NFTNL_EXPR_DYNSET_OP, NFT_DYNSET_OP_ADD);
  nftnl_expr_set_str(insert, NFTNL_EXPR_DYNSET_SET_NAME, source.record_in_set.c_str());
  add(rule, insert);
}

void add_action(nftnl_rule* rule, const Rule& source) {
  switch (source.action) {
    case Action::none: return;
    case Action::accept: add(rule, verdict(NF_ACCEPT)); return;
    case Action::drop: add(rule, verdict(NF_DROP)); return;
    case Action::go_to: add(rule, verdict(NFT_GOTO, source.target_chain)); return;
    case Action::masquerade: add(rule, nftnl_expr_alloc("masq")); return;
    case Action::verdict_map:
      add(rule, meta(source.map_key == InterfaceKey::input ? NFT_META_IIFNAME : NFT_META_OIFNAME, NFT_REG_1));
      add(rule, lookup(source.map, true));
      return;
    case Action::reject: {
      auto* reject = nftnl_expr_alloc("reject");
      const bool tcp = source.match.protocol == Protocol::tcp;
      nftnl_expr_set_u32(reject, NFTNL_EXPR_REJECT_TYPE, tcp ? NFT_REJECT_TCP_RST : NFT_REJECT_ICMPX_UNREACH);
      nftnl_expr_set_u8(reject, NFTNL_EXPR_REJECT_CODE, tcp ? 0 : NFT_REJECT_ICMPX_ADMIN_PROHIBITED);
      add(rule, reject);
      return;
    }
  }
}

void set_comment(nftnl_rule* rule, const std::string& comment) {
  if (comment.empty()) return;
  auto* data = nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN);
  if (!data) throw std::bad_alloc();
  nftnl_udata_put_strz(data, NFTNL_UDATA_RULE_COMMENT, comment.substr(0, 120).c_str());
  nftnl_rule_set_data(rule, NFTNL_RULE_USERDATA, nftnl_udata_buf_data(data), nftnl_udata_buf_len(data));
  nftnl_udata_buf_free(data);
}

std::uint32_t hook_number(Hook hook) {
  switch (hook) {
    case Hook::input: return NF_INET_LOCAL_IN;
    case Hook::output: return NF_INET_LOCAL_OUT;
    case Hook::forward: return NF_INET_FORWARD;
    case Hook::postrouting: return NF_INET_POST_ROUTING;
    case Hook::none: break;
  }
  return 0;
}

// nft's byte order numbers, stored with a set so `nft list` prints its
// elements right (interface names are host-endian strings to nft).
constexpr std::uint32_t kHostEndian = 1;
constexpr std::uint32_t kBigEndian = 2;

void set_key_byte_order(nftnl_set* set, std::uint32_t byte_order) {
  auto* data = nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN);
  if (!data) throw std::bad_alloc();
  nftnl_udata_put_u32(data, NFTNL_UDATA_SET_KEYBYTEORDER, byte_order);
  nftnl_set_set_data(set, NFTNL_SET_USERDATA, nftnl_udata_buf_data(data), nftnl_udata_buf_len(data));
  nftnl_udata_buf_free(data);
}

void describe_set(nftnl_set* set, const Set& spec) {
  switch (spec.type) {
    case SetType::dropped_destinations:
      nftnl_set_set_u32(set, NFTNL_SET_KEY_TYPE, concatenated_type({kTypeIpv4Address, kTypeInetProtocol, kTypeInetService}));
      nftnl_set_set_u32(set, NFTNL_SET_KEY_LEN, 12);
      nftnl_set_set_u32(set, NFTNL_SET_FLAGS, NFT_SET_EVAL);
      set_key_byte_order(set, kBigEndian);
      break;
    case SetType::interface_names:
      nftnl_set_set_u32(set, NFTNL_SET_KEY_TYPE, kTypeInterfaceName);
      nftnl_set_set_u32(set, NFTNL_SET_KEY_LEN, IFNAMSIZ);
      nftnl_set_set_u32(set, NFTNL_SET_FLAGS, 0);
      set_key_byte_order(set, kHostEndian);
      break;
    case SetType::ipv4_addresses:
      nftnl_set_set_u32(set, NFTNL_SET_KEY_TYPE, kTypeIpv4Address);
      nftnl_set_set_u32(set, NFTNL_SET_KEY_LEN, 4);
      nftnl_set_set_u32(set, NFTNL_SET_FLAGS, 0);
      set_key_byte_order(set, kBigEndian);
      break;
    case SetType::resolved_addresses:
      nftnl_set_set_u32(set, NFTNL_SET_KEY_TYPE, kTypeIpv4Address);
      nftnl_set_set_u32(set, NFTNL_SET_KEY_LEN, 4);
      nftnl_set_set_u32(set, NFTNL_SET_FLAGS, NFT_SET_TIMEOUT);
      set_key_byte_order(set, kBigEndian);
      break;
    case SetType::interface_verdict_map:
      nftnl_set_set_u32(set, NFTNL_SET_KEY_TYPE, kTypeInterfaceName);
      nftnl_set_set_u32(set, NFTNL_SET_KEY_LEN, IFNAMSIZ);
      nftnl_set_set_u32(set, NFTNL_SET_FLAGS, NFT_SET_MAP);
      nftnl_set_set_u32(set, NFTNL_SET_DATA_TYPE, NFT_DATA_VERDICT);
      set_key_byte_order(set, kHostEndian);
      break;
  }
  if (spec.size) nftnl_set_set_u32(set, NFTNL_SET_DESC_SIZE, spec.size);
}

}  // namespace

std::vector<std::uint8_t> interface_key(const std::string& name) {
  std::vector<std::uint8_t> key(IFNAMSIZ, 0);
  std::memcpy(key.data(), name.data(), std::min<std::size_t>(name.size(), IFNAMSIZ - 1));
  return key;
}

std::vector<std::uint8_t> address_key(Ipv4Address address) {
  const std::uint32_t bytes = address.network_order();
  std::vector<std::uint8_t> key(4);
  std::memcpy(key.data(), &bytes, 4);
  return key;
}

NftBatch::NftBatch(std::uint32_t first_sequence) : buffer_(2 * kBatchLimit), sequence_(first_sequence) {
  batch_ = mnl_nlmsg_batch_start(buffer_.data(), kBatchLimit);
  if (!batch_) throw std::bad_alloc();
  nftnl_batch_begin(static_cast<char*>(mnl_nlmsg_batch_current(batch_)), sequence_++);
  mnl_nlmsg_batch_next(batch_);
}

NftBatch::~NftBatch() { mnl_nlmsg_batch_stop(batch_); }

char* NftBatch::next_message(const std::string& description) {
  if (finished_) throw std::logic_error("nftables batch already finished");
  descriptions_[sequence_] = description;
  last_ = static_cast<char*>(mnl_nlmsg_batch_current(batch_));
  return last_;
}

#define TIERBOX_NEXT(batch)                                                              \
  do {                                                                                   \
    if (!mnl_nlmsg_batch_next(batch)) throw std::length_error("nftables batch too large"); \
    ++sequence_;                                                                         \
  } while (false)

void NftBatch::add_table(const Table& table, bool only_if_new) {
  auto* header = next_message("add table inet " + table.name);
  std::unique_ptr<nftnl_table, decltype(&nftnl_table_free)> object(nftnl_table_alloc(), &nftnl_table_free);
  nftnl_table_set_str(object.get(), NFTNL_TABLE_NAME, table.name.c_str());
  nftnl_table_set_u32(object.get(), NFTNL_TABLE_FAMILY, NFPROTO_INET);
  auto* message = nftnl_nlmsg_build_hdr(header, NFT_MSG_NEWTABLE, NFPROTO_INET,
                                        NLM_F_CREATE | (only_if_new ? NLM_F_EXCL : 0), sequence_);
  nftnl_table_nlmsg_build_payload(message, object.get());
  TIERBOX_NEXT(batch_);

  for (const auto& name : table.counters) add_counter(table.name, name);
  std::uint32_t set_id = 1;
  for (const auto& spec : table.sets) add_set(table.name, spec, set_id++);
  // Regular chains first: base chains jump (goto) into them.
  for (const auto& chain : table.chains)
    if (chain.hook == Hook::none) add_chain(table.name, chain);
  for (const auto& chain : table.chains)
    if (chain.hook != Hook::none) add_chain(table.name, chain);
}

void NftBatch::add_counter(const std::string& table, const std::string& name) {
  auto* header = next_message("add counter inet " + table + " " + name);
  std::unique_ptr<nftnl_obj, decltype(&nftnl_obj_free)> counter(nftnl_obj_alloc(), &nftnl_obj_free);
  nftnl_obj_set_str(counter.get(), NFTNL_OBJ_TABLE, table.c_str());
  nftnl_obj_set_str(counter.get(), NFTNL_OBJ_NAME, name.c_str());
  nftnl_obj_set_u32(counter.get(), NFTNL_OBJ_FAMILY, NFPROTO_INET);
  nftnl_obj_set_u32(counter.get(), NFTNL_OBJ_TYPE, NFT_OBJECT_COUNTER);
  auto* message = nftnl_nlmsg_build_hdr(header, NFT_MSG_NEWOBJ, NFPROTO_INET, NLM_F_CREATE | NLM_F_EXCL, sequence_);
  nftnl_obj_nlmsg_build_payload(message, counter.get());
  TIERBOX_NEXT(batch_);
}

void NftBatch::add_set(const std::string& table, const Set& spec, std::uint32_t id) {
  auto* header = next_message("add set inet " + table + " " + spec.name);
  std::unique_ptr<nftnl_set, decltype(&nftnl_set_free)> set(nftnl_set_alloc(), &nftnl_set_free);
  nftnl_set_set_str(set.get(), NFTNL_SET_TABLE, table.c_str());
  nftnl_set_set_str(set.get(), NFTNL_SET_NAME, spec.name.c_str());
  nftnl_set_set_u32(set.get(), NFTNL_SET_FAMILY, NFPROTO_INET);
  nftnl_set_set_u32(set.get(), NFTNL_SET_ID, id);
  describe_set(set.get(), spec);
  auto* message = nftnl_nlmsg_build_hdr(header, NFT_MSG_NEWSET, NFPROTO_INET, NLM_F_CREATE | NLM_F_EXCL, sequence_);
  nftnl_set_nlmsg_build_payload(message, set.get());
  TIERBOX_NEXT(batch_);
}

void NftBatch::add_chain(const std::string& table, const Chain& chain) {
  auto* header = next_message("add chain inet " + table + " " + chain.name);
  std::unique_ptr<nftnl_chain, decltype(&nftnl_chain_free)> object(nftnl_chain_alloc(), &nftnl_chain_free);
  nftnl_chain_set_str(object.get(), NFTNL_CHAIN_TABLE, table.c_str());
  nftnl_chain_set_str(object.get(), NFTNL_CHAIN_NAME, chain.name.c_str());
  nftnl_chain_set_u32(object.get(), NFTNL_CHAIN_FAMILY, NFPROTO_INET);
  if (chain.hook != Hook::none) {
    nftnl_chain_set_u32(object.get(), NFTNL_CHAIN_HOOKNUM, hook_number(chain.hook));
    nftnl_chain_set_s32(object.get(), NFTNL_CHAIN_PRIO, chain.priority);
    nftnl_chain_set_str(object.get(), NFTNL_CHAIN_TYPE, chain.nat ? "nat" : "filter");
    nftnl_chain_set_u32(object.get(), NFTNL_CHAIN_POLICY, chain.policy == Action::drop ? NF_DROP : NF_ACCEPT);
  }
  auto* message = nftnl_nlmsg_build_hdr(header, NFT_MSG_NEWCHAIN, NFPROTO_INET,
                                        NLM_F_CREATE | NLM_F_EXCL, sequence_);
  nftnl_chain_nlmsg_build_payload(message, object.get());
  TIERBOX_NEXT(batch_);
  for (const auto& rule : chain.rules) add_rule(table, chain.name, rule);
}

void NftBatch::add_rule(const std::string& table, const std::string& chain, const Rule& source) {
  auto* header = next_message("add rule inet " + table + " " + chain + " " + to_text(source));
  RulePtr rule(nftnl_rule_alloc());
  if (!rule) throw std::bad_alloc();
  nftnl_rule_set_str(rule.get(), NFTNL_RULE_TABLE, table.c_str());
  nftnl_rule_set_str(rule.get(), NFTNL_RULE_CHAIN, chain.c_str());
  nftnl_rule_set_u32(rule.get(), NFTNL_RULE_FAMILY, NFPROTO_INET);
  add_matches(rule.get(), source.match);
  if (!source.record_in_set.empty()) add_record(rule.get(), source);
  if (!source.counter.empty()) {
    auto* counter = nftnl_expr_alloc("objref");
    nftnl_expr_set_u32(counter, NFTNL_EXPR_OBJREF_IMM_TYPE, NFT_OBJECT_COUNTER);
    nftnl_expr_set_str(counter, NFTNL_EXPR_OBJREF_IMM_NAME, source.counter.c_str());
    add(rule.get(), counter);
  }
  add_action(rule.get(), source);
  set_comment(rule.get(), source.comment);
  auto* message = nftnl_nlmsg_build_hdr(header, NFT_MSG_NEWRULE, NFPROTO_INET,
                                        NLM_F_APPEND | NLM_F_CREATE, sequence_);
  nftnl_rule_nlmsg_build_payload(message, rule.get());
  TIERBOX_NEXT(batch_);
}

void NftBatch::replace_rules(const std::string& table, const Chain& chain) {
  auto* header = next_message("flush chain inet " + table + " " + chain.name);
  RulePtr flush(nftnl_rule_alloc());
  nftnl_rule_set_str(flush.get(), NFTNL_RULE_TABLE, table.c_str());
  nftnl_rule_set_str(flush.get(), NFTNL_RULE_CHAIN, chain.name.c_str());
  nftnl_rule_set_u32(flush.get(), NFTNL_RULE_FAMILY, NFPROTO_INET);
  auto* message = nftnl_nlmsg_build_hdr(header, NFT_MSG_DELRULE, NFPROTO_INET, 0, sequence_);
  nftnl_rule_nlmsg_build_payload(message, flush.get());
  TIERBOX_NEXT(batch_);
  for (const auto& rule : chain.rules) add_rule(table, chain.name, rule);
}

void NftBatch::delete_chain(const std::string& table, const std::string& chain) {
  replace_rules(table, Chain{chain});
  auto* header = next_message("delete chain inet " + table + " " + chain);
  std::unique_ptr<nftnl_chain, decltype(&nftnl_chain_free)> object(nftnl_chain_alloc(), &nftnl_chain_free);
  nftnl_chain_set_str(object.get(), NFTNL_CHAIN_TABLE, table.c_str());
  nftnl_chain_set_str(object.get(), NFTNL_CHAIN_NAME, chain.c_str());
  nftnl_chain_set_u32(object.get(), NFTNL_CHAIN_FAMILY, NFPROTO_INET);
  auto* message = nftnl_nlmsg_build_hdr(header, NFT_MSG_DELCHAIN, NFPROTO_INET, 0, sequence_);
  nftnl_chain_nlmsg_build_payload(message, object.get());
  TIERBOX_NEXT(batch_);
}

namespace {

std::string key_text(const std::vector<std::uint8_t>& key) {
  if (key.size() == 4) {
    std::uint32_t bytes;
    std::memcpy(&bytes, key.data(), 4);
    return Ipv4Address{ntohl(bytes)}.to_string();
  }
  return std::string(reinterpret_cast<const char*>(key.data()), strnlen(reinterpret_cast<const char*>(key.data()), key.size()));
}

void build_element_message(char* header, std::uint16_t type, std::uint16_t flags, std::uint32_t sequence,
                           const std::string& table, const std::string& set_name,
                           const std::vector<std::uint8_t>& key, const std::optional<ElementVerdict>& verdict,
                           std::uint64_t timeout_ms = 0) {
  std::unique_ptr<nftnl_set, decltype(&nftnl_set_free)> set(nftnl_set_alloc(), &nftnl_set_free);
  nftnl_set_set_str(set.get(), NFTNL_SET_TABLE, table.c_str());
  nftnl_set_set_str(set.get(), NFTNL_SET_NAME, set_name.c_str());
  nftnl_set_set_u32(set.get(), NFTNL_SET_FAMILY, NFPROTO_INET);
  auto* element = nftnl_set_elem_alloc();
  if (!element) throw std::bad_alloc();
  nftnl_set_elem_set(element, NFTNL_SET_ELEM_KEY, key.data(), static_cast<std::uint32_t>(key.size()));
  if (timeout_ms) nftnl_set_elem_set_u64(element, NFTNL_SET_ELEM_TIMEOUT, timeout_ms);
  if (verdict) {
    nftnl_set_elem_set_u32(element, NFTNL_SET_ELEM_VERDICT, static_cast<std::uint32_t>(verdict->jump ? NFT_JUMP : NF_DROP));
    if (verdict->jump) nftnl_set_elem_set_str(element, NFTNL_SET_ELEM_CHAIN, verdict->chain.c_str());
  }
  nftnl_set_elem_add(set.get(), element);  // the set owns it now
  auto* message = nftnl_nlmsg_build_hdr(header, type, NFPROTO_INET, flags, sequence);
  nftnl_set_elems_nlmsg_build_payload(message, set.get());
}

}  // namespace

void NftBatch::add_element(const std::string& table, const std::string& set, const std::vector<std::uint8_t>& key,
                           const std::optional<ElementVerdict>& verdict) {
  std::string description = "add element inet " + table + " " + set + " { " + key_text(key);
  if (verdict) description += verdict->jump ? " : jump " + verdict->chain : " : drop";
  auto* header = next_message(description + " }");
  build_element_message(header, NFT_MSG_NEWSETELEM, NLM_F_CREATE | NLM_F_EXCL, sequence_, table, set,
                        key, verdict);
  TIERBOX_NEXT(batch_);
}

void NftBatch::add_element_with_timeout(const std::string& table, const std::string& set,
                                        const std::vector<std::uint8_t>& key, std::uint64_t timeout_ms) {
  auto* header = next_message("add element inet " + table + " " + set + " { " + key_text(key) + " timeout " +
                              std::to_string(timeout_ms) + "ms }");
  build_element_message(header, NFT_MSG_NEWSETELEM, NLM_F_CREATE | NLM_F_EXCL, sequence_, table, set, key,
                        std::nullopt, timeout_ms);
  TIERBOX_NEXT(batch_);
}

void NftBatch::add_sets(const std::string& table, const std::vector<Set>& sets) {
  std::uint32_t set_id = 1;
  for (const auto& spec : sets) add_set(table, spec, set_id++);
}

void NftBatch::delete_set(const std::string& table, const std::string& set) {
  auto* header = next_message("delete set inet " + table + " " + set);
  std::unique_ptr<nftnl_set, decltype(&nftnl_set_free)> object(nftnl_set_alloc(), &nftnl_set_free);
  nftnl_set_set_str(object.get(), NFTNL_SET_TABLE, table.c_str());
  nftnl_set_set_str(object.get(), NFTNL_SET_NAME, set.c_str());
  nftnl_set_set_u32(object.get(), NFTNL_SET_FAMILY, NFPROTO_INET);
  auto* message = nftnl_nlmsg_build_hdr(header, NFT_MSG_DELSET, NFPROTO_INET, 0, sequence_);
  nftnl_set_nlmsg_build_payload(message, object.get());
  TIERBOX_NEXT(batch_);
}

void NftBatch::delete_element(const std::string& table, const std::string& set, const std::vector<std::uint8_t>& key) {
  auto* header = next_message("delete element inet " + table + " " + set + " { " + key_text(key) + " }");
  build_element_message(header, NFT_MSG_DELSETELEM, 0, sequence_, table, set, key, std::nullopt);
  TIERBOX_NEXT(batch_);
}

void NftBatch::finish() {
  if (finished_) return;
  // Errors come back whatever the flags; an ack only for the last message,
  // so that a success costs one message to read, not one per rule.
  if (last_) reinterpret_cast<nlmsghdr*>(last_)->nlmsg_flags |= NLM_F_ACK;
  nftnl_batch_end(static_cast<char*>(mnl_nlmsg_batch_current(batch_)), sequence_++);
  if (!mnl_nlmsg_batch_next(batch_)) throw std::length_error("nftables batch too large");
  finished_ = true;
}

const void* NftBatch::data() const { return mnl_nlmsg_batch_head(batch_); }

std::size_t NftBatch::size() const { return mnl_nlmsg_batch_size(batch_); }

std::string NftBatch::describe(std::uint32_t sequence) const {
  auto it = descriptions_.find(sequence);
  return it == descriptions_.end() ? "nftables batch message " + std::to_string(sequence) : it->second;
}

}  // namespace tierbox::net::helper
