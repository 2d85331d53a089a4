// The decisions of a run's resolver, as pure code (the helper's resolver,
// net/helper/resolver.cpp, only does the I/O): which name entries a name
// asked falls under, which answered addresses may be opened (the rebinding
// defence), for how long, and how fast a task may ask.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "net/ruleset.h"
#include "net/run_network.h"

namespace tierbox::net {

// The indexes of the name entries the name falls under (several entries may
// name it, with different ports).
std::vector<std::size_t> matching_names(const std::vector<NameRule>& names, const std::string& name);

// Why an answered address must not be opened, or nullopt: the sandbox pool
// (never), one of the host's own addresses, or an always-denied range
// (private, link-local and metadata, loopback, multicast, ...), unless an
// allow entry given as an address names it (the host's: exactly; a range:
// a block inside it that holds the address).
std::optional<std::string> rebinding_refusal(Ipv4Address address, const EgressPolicy& policy);

// The set timeout for a record's TTL, clamped to the runner's bounds.
std::uint32_t clamped_ttl(std::uint32_t ttl, const ResolverSettings& settings);

// A token bucket: `rate` queries a second, bursts of as many again. Time is
// the caller's (milliseconds of a monotonic clock), so tests drive it.
class QueryBudget {
 public:
  explicit QueryBudget(std::uint32_t rate) : rate_(rate), tokens_(2.0 * rate) {}
  // Takes one query's token; false when the task is over its rate.
  bool take(std::uint64_t now_ms);

 private:
  std::uint32_t rate_;
  double tokens_;
  std::uint64_t last_ms_ = 0;
  bool started_ = false;
};

}  // namespace tierbox::net
