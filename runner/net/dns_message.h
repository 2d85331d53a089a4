// DNS messages (RFC 1035) as the run's resolver needs them: a query from the
// task read, a query to the upstream built, the upstream's answer read for
// its IPv4 addresses and TTLs, and small answers (REFUSED, NXDOMAIN, an
// empty NOERROR) built. Pure code, no syscalls; every read is bounds-checked
// and a compression pointer may only point backwards (before the name that
// uses it), so no message can make the parser loop or read outside it
// (tools/fuzz/dns_message_fuzzer.cpp).
//
// Only what the task asked leaves the host: the upstream gets a query this
// code builds from the parsed question alone (never the task's bytes).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "net/ipv4.h"

namespace tierbox::net::dns {

inline constexpr std::size_t kHeaderBytes = 12;
inline constexpr std::size_t kMaxNameBytes = 255;   // on the wire, with the length bytes (RFC 1035 2.3.4)
inline constexpr std::size_t kMaxLabelBytes = 63;
inline constexpr std::size_t kMaxUdpMessage = 4096;  // what the resolver reads; answers are relayed only up to 512 bytes without EDNS

inline constexpr std::uint16_t kTypeA = 1;
inline constexpr std::uint16_t kTypeCname = 5;
inline constexpr std::uint16_t kTypeAaaa = 28;
inline constexpr std::uint16_t kTypeOpt = 41;
inline constexpr std::uint16_t kClassIn = 1;

enum class Rcode : std::uint8_t { noerror = 0, formerr = 1, servfail = 2, nxdomain = 3, notimp = 4, refused = 5 };

struct Question {
  std::string name;   // dotted, as asked (case kept), without the final dot; "" is the root
  std::uint16_t type = 0;
  std::uint16_t klass = 0;
};

struct Query {
  std::uint16_t id = 0;
  bool recursion_desired = false;
  Question question;
  // The UDP size the task's EDNS OPT record offers (RFC 6891), capped at
  // kMaxEdnsUdpSize; 0 without one (answers then fit 512 bytes).
  std::uint16_t edns_udp_size = 0;
};

inline constexpr std::uint16_t kMaxEdnsUdpSize = 1232;

// Why a message could not be used. id_known: the message had a full header,
// so an error answer (FORMERR, REFUSED) can name its id.
struct ParseFailure {
  std::string why;
  bool id_known = false;
  std::uint16_t id = 0;
  Rcode rcode = Rcode::formerr;
};

// A standard query with exactly one question and no answer or authority
// records (an EDNS OPT record in the additional section gives only its UDP
// size; anything else there fails). Labels must be letters, digits, '-' or '_': a label holding a
// '.' or a control byte would read differently as text than on the wire.
// Over-long names and labels fail with REFUSED.
std::variant<Query, ParseFailure> parse_query(std::span<const std::uint8_t> message);

// The query the resolver sends upstream: id, RD set, the question, and
// with edns_udp_size an OPT record offering that size (no options), nothing else.
std::vector<std::uint8_t> build_query(std::uint16_t id, const Question& question, std::uint16_t edns_udp_size = 0);

// An answer with no records: the question echoed, QR and RA set, RD copied.
std::vector<std::uint8_t> build_empty_answer(const Query& query, Rcode rcode);
// The same for a message whose question could not be read (FORMERR): header only.
std::vector<std::uint8_t> build_header_only_answer(std::uint16_t id, Rcode rcode);

struct AddressRecord {
  Ipv4Address address;
  std::uint32_t ttl = 0;
};

struct Response {
  std::uint16_t id = 0;
  Rcode rcode = Rcode::noerror;
  bool truncated = false;
  // The A records of the question's name and of the names its CNAME chain
  // leads to (in the answer section); others are ignored.
  std::vector<AddressRecord> addresses;
  std::vector<std::string> cname_chain;  // the names the question led to, in order
};

// The upstream's answer to `asked` (the same question, case-insensitively,
// or it fails). Answers whose records cannot be read fail whole.
std::variant<Response, ParseFailure> parse_response(std::span<const std::uint8_t> message, const Question& asked);

// The upstream's answer with the task's id put back, ready to relay.
std::vector<std::uint8_t> with_id(std::span<const std::uint8_t> message, std::uint16_t id);

}  // namespace tierbox::net::dns
