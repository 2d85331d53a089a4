#include "policy/sections/limits.h"

#include "policy/json_reader.h"

namespace tierbox::policy {

void apply_limits(JsonObjectReader reader, LimitsSpec& spec) {
  if (auto wall_time = reader.duration("wall_time")) {
    if (wall_time->count() <= 0) reader.fail("wall_time", "expected a positive duration, e.g. \"10m\"");
    spec.wall_time = *wall_time;
  }
  reader.finish();
}

}  // namespace tierbox::policy
