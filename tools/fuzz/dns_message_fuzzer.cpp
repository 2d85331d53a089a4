// libFuzzer entry point for the run's resolver's DNS parsing
// (tools/fuzz/dns_message.sh): every input is read as a query from a task
// and as an upstream's answer, under AddressSanitizer and UBSan. The parser
// must never read outside the input, loop, or throw.
#include <cstddef>
#include <cstdint>
#include <span>

#include "net/dns_message.h"

namespace dns = tierbox::net::dns;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> message(data, size);
  const auto query = dns::parse_query(message);
  if (const auto* parsed = std::get_if<dns::Query>(&query)) {
    // What the resolver would send and answer for it, and an answer to it
    // read back: built messages must parse as what they say.
    const auto upstream = dns::build_query(1, parsed->question, parsed->edns_udp_size);
    const auto again = dns::parse_query(upstream);
    if (!std::holds_alternative<dns::Query>(again) || std::get<dns::Query>(again).question.name != parsed->question.name)
      __builtin_trap();
    (void)dns::build_empty_answer(*parsed, dns::Rcode::refused);
    (void)dns::parse_response(message, parsed->question);
  }
  // As an answer to a fixed question.
  (void)dns::parse_response(message, dns::Question{"example.com", dns::kTypeA, dns::kClassIn});
  (void)dns::with_id(message, 7);
  return 0;
}
