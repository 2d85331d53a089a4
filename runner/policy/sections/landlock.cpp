#include "policy/sections/landlock.h"

#include "policy/json_reader.h"

namespace tierbox::policy {

const char* to_string(LandlockMode mode) {
  switch (mode) {
    case LandlockMode::off: return "off";
    case LandlockMode::best_effort: return "best_effort";
    case LandlockMode::required: return "required";
  }
  return "?";
}

void apply_landlock(JsonObjectReader& layer, LandlockMode& mode) {
  auto text = layer.string("landlock");
  if (!text) return;
  if (*text == "off") mode = LandlockMode::off;
  else if (*text == "best_effort") mode = LandlockMode::best_effort;
  else if (*text == "required") mode = LandlockMode::required;
  else layer.fail("landlock", "expected \"required\", \"best_effort\" or \"off\", got " + nlohmann::json(*text).dump());
}

}  // namespace tierbox::policy
