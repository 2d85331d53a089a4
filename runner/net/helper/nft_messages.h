// Turns the rules of net/ruleset.h into nftables netlink messages (libnftnl),
// collected in one batch: the kernel applies a batch as one transaction, all
// of it or nothing. No decision is made here; unit tests decode the messages
// again and compare them with what the nft tool sends for the same rule.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "net/ipv4.h"
#include "net/ruleset.h"

struct mnl_nlmsg_batch;

namespace tierbox::net::helper {

// The key of a set element, in the bytes the kernel compares.
std::vector<std::uint8_t> interface_key(const std::string& name);  // ifname: 16 bytes, zero-padded
std::vector<std::uint8_t> address_key(Ipv4Address address);        // ipv4_addr: network order

struct ElementVerdict {
  bool jump = false;     // jump to chain; else drop
  std::string chain;
};

class NftBatch {
 public:
  explicit NftBatch(std::uint32_t first_sequence);
  ~NftBatch();
  NftBatch(const NftBatch&) = delete;
  NftBatch& operator=(const NftBatch&) = delete;

  // The table and everything in it. With only_if_new the table is created
  // with NLM_F_EXCL: the whole batch fails with EEXIST if it exists already,
  // which is how concurrent first uses agree that one of them made it.
  void add_table(const Table& table, bool only_if_new);
  // A chain (NLM_F_EXCL: an existing one fails the batch) and its rules.
  void add_chain(const std::string& table, const Chain& chain);
  // Removes every rule of the chain and adds the chain's rules: atomically,
  // within the batch's transaction.
  void replace_rules(const std::string& table, const Chain& chain);
  void delete_chain(const std::string& table, const std::string& chain);  // flushes it first
  void add_element(const std::string& table, const std::string& set, const std::vector<std::uint8_t>& key,
                   const std::optional<ElementVerdict>& verdict = std::nullopt);
  void delete_element(const std::string& table, const std::string& set, const std::vector<std::uint8_t>& key);
  // An element of a set with flags timeout, gone on its own after timeout_ms.
  void add_element_with_timeout(const std::string& table, const std::string& set, const std::vector<std::uint8_t>& key,
                                std::uint64_t timeout_ms);
  // Sets of an existing table (NLM_F_EXCL), and their removal.
  void add_sets(const std::string& table, const std::vector<Set>& sets);
  void delete_set(const std::string& table, const std::string& set);

  // Closes the batch; data()/size() are then ready to send.
  void finish();
  [[nodiscard]] const void* data() const;
  [[nodiscard]] std::size_t size() const;
  [[nodiscard]] bool empty() const { return descriptions_.empty(); }
  // What the message with this sequence number does ("add chain inet tierbox x").
  [[nodiscard]] std::string describe(std::uint32_t sequence) const;
  // The first sequence number after this batch's.
  [[nodiscard]] std::uint32_t end_sequence() const { return sequence_; }

 private:
  char* next_message(const std::string& description);
  void add_counter(const std::string& table, const std::string& name);
  void add_set(const std::string& table, const Set& spec, std::uint32_t id);
  void add_rule(const std::string& table, const std::string& chain, const Rule& rule);

  std::vector<char> buffer_;
  mnl_nlmsg_batch* batch_ = nullptr;
  std::uint32_t sequence_;
  std::map<std::uint32_t, std::string> descriptions_;
  char* last_ = nullptr;  // the last message added
  bool finished_ = false;
};

}  // namespace tierbox::net::helper
