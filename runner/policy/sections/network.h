// The `network` section of a tier: what a task may reach (docs/network.md).
//
//   { "mode": "none" }                         lo only (the default)
//   { "mode": "allowlist",
//     "allow": ["api.github.com:443/tcp", "10.20.0.0/16:5432/tcp"] }
//   { "mode": "host" }                         the host's network (trusted tiers only)
#pragma once

#include <string>
#include <vector>

#include "net/destination.h"

namespace tierbox::policy {

class JsonObjectReader;

enum class NetworkMode { none, allowlist, host };
// How the names of network.allow reach addresses (docs/network.md, "Names"):
// resolver: the run's own resolver answers them during the run and opens
// each answered address for its TTL (wildcards allowed); pinned: resolved
// once at launch by the host and pinned in /etc/hosts.
enum class NameResolution { resolver, pinned };

struct NetworkSpec {
  NetworkMode mode = NetworkMode::none;
  std::vector<net::Destination> allow;
  NameResolution names = NameResolution::resolver;
  std::string names_origin;  // "file.json:/network/names" of the layer that set it
  std::string mode_origin;   // "file.json:/network/mode" of the layer that set it
  std::string allow_origin;  // "file.json:/network/allow" of the layer that set it
};

const char* to_string(NetworkMode mode);
const char* to_string(NameResolution names);

void apply_network(JsonObjectReader reader, NetworkSpec& spec);
// After the whole extends chain: mode and allow must agree.
void validate_network(const NetworkSpec& spec, const std::string& leaf_file);
// What `profile check` warns about (e.g. mode host).
std::vector<std::string> network_warnings(const NetworkSpec& spec);

}  // namespace tierbox::policy
