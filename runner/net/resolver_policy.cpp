#include "net/resolver_policy.h"

#include <algorithm>

#include "net/destination.h"

namespace tierbox::net {

std::vector<std::size_t> matching_names(const std::vector<NameRule>& names, const std::string& name) {
  std::vector<std::size_t> matches;
  for (std::size_t i = 0; i < names.size(); ++i)
    if (name_matches(names[i].pattern, name)) matches.push_back(i);
  return matches;
}

std::optional<std::string> rebinding_refusal(Ipv4Address address, const EgressPolicy& policy) {
  if (policy.pool.contains(address)) return "the sandbox pool (gateways and other sandboxes)";
  const auto listed = [&](auto&& covers) {
    return std::any_of(policy.allow.begin(), policy.allow.end(),
                       [&](const AllowRule& rule) { return rule.given_as_address && covers(rule); });
  };
  if (std::find(policy.host_addresses.begin(), policy.host_addresses.end(), address) != policy.host_addresses.end()) {
    if (listed([&](const AllowRule& rule) { return rule.block == host_cidr(address); })) return std::nullopt;
    return "an address of the host itself";
  }
  if (auto denied = denied_range_of(address)) {
    // Listed explicitly: a block of the allow list inside the denied range
    // that holds this address (the same test the rules use).
    if (listed([&](const AllowRule& rule) { return denied->block.contains(rule.block) && rule.block.contains(address); }))
      return std::nullopt;
    return denied->reason;
  }
  return std::nullopt;
}

std::uint32_t clamped_ttl(std::uint32_t ttl, const ResolverSettings& settings) {
  return std::clamp(ttl, settings.min_ttl_seconds, std::max(settings.min_ttl_seconds, settings.max_ttl_seconds));
}

bool QueryBudget::take(std::uint64_t now_ms) {
  if (!started_) {
    started_ = true;
    last_ms_ = now_ms;
  }
  if (now_ms > last_ms_) {
    tokens_ = std::min(2.0 * rate_, tokens_ + static_cast<double>(now_ms - last_ms_) * rate_ / 1000.0);
    last_ms_ = now_ms;
  }
  if (tokens_ < 1.0) return false;
  tokens_ -= 1.0;
  return true;
}

}  // namespace tierbox::net
