// The `network` section of a tier: what a task may reach.
#pragma once

namespace tierbox::policy {

class JsonObjectReader;

enum class NetworkMode { none };

struct NetworkSpec {
  NetworkMode mode = NetworkMode::none;
};

const char* to_string(NetworkMode mode);

void apply_network(JsonObjectReader reader, NetworkSpec& spec);

}  // namespace tierbox::policy
