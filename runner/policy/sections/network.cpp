#include "policy/sections/network.h"

#include "policy/json_reader.h"

namespace tierbox::policy {

const char* to_string(NetworkMode mode) {
  switch (mode) {
    case NetworkMode::none: return "none";
  }
  return "?";
}

void apply_network(JsonObjectReader reader, NetworkSpec& spec) {
  if (auto mode = reader.string("mode")) {
    if (*mode == "none") spec.mode = NetworkMode::none;
    else reader.fail("mode", "expected \"none\" (the only network mode this build implements), got " + nlohmann::json(*mode).dump());
  }
  reader.finish();
}

}  // namespace tierbox::policy
