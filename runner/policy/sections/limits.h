// The `limits` section of a tier: what a task may use.
#pragma once

#include <chrono>

namespace tierbox::policy {

class JsonObjectReader;

struct LimitsSpec {
  std::chrono::milliseconds wall_time{std::chrono::hours(1)};
};

void apply_limits(JsonObjectReader reader, LimitsSpec& spec);

}  // namespace tierbox::policy
