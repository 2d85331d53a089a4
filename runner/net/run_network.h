// RunNetwork: everything that identifies one allowlist run's network, as the
// runner hands it to the helper (tierbox-net) and records it in the run's
// registry entry (RunRecord.resources["network"]), from which `tierbox gc`
// and live isolation find the run's objects again.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "net/address_plan.h"
#include "net/ruleset.h"

namespace tierbox::net {

// The run's resolver (docs/network.md, "Names"): where it asks, how long an
// answered address stays open, and how much one task may ask. From the
// runner's tierbox.json; the upstream defaults to the host's resolv.conf.
struct ResolverSettings {
  Ipv4Address upstream;
  std::uint16_t upstream_port = 53;
  std::uint32_t min_ttl_seconds = 60;
  std::uint32_t max_ttl_seconds = 3600;
  std::uint32_t queries_per_second = 200;  // burst: as many again
  std::uint32_t outstanding = 64;          // queries waiting for the upstream at once
};

struct RunNetwork {
  std::string run_id;
  Ipv4Cidr pool;
  unsigned slot = 0;
  std::string slot_lock;       // the run slot's lock file: held while the run (or a cleaner) owns the names
  AddressPlan addresses;       // derived from pool and slot
  std::vector<AllowRule> allow;
  std::vector<NameRule> names;     // answered by the run's resolver (empty: no resolver)
  ResolverSettings resolver;
  std::uint64_t netns_inode = 0;  // the sandbox's network namespace, once it exists

  // The host objects of this run, for people reading the record.
  [[nodiscard]] std::vector<std::string> host_objects() const;
};

nlohmann::json to_json(const RunNetwork& network);
// Throws std::runtime_error naming the missing or bad field.
RunNetwork run_network_from_json(const nlohmann::json& json);

}  // namespace tierbox::net
