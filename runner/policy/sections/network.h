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

struct NetworkSpec {
  NetworkMode mode = NetworkMode::none;
  std::vector<net::Destination> allow;
  std::string mode_origin;   // "file.json:/network/mode" of the layer that set it
  std::string allow_origin;  // "file.json:/network/allow" of the layer that set it
};

const char* to_string(NetworkMode mode);

void apply_network(JsonObjectReader reader, NetworkSpec& spec);
// After the whole extends chain: mode and allow must agree.
void validate_network(const NetworkSpec& spec, const std::string& leaf_file);
// What `profile check` warns about (e.g. mode host).
std::vector<std::string> network_warnings(const NetworkSpec& spec);

}  // namespace tierbox::policy
