#include "policy/sections/landlock.h"

#include "policy/json_reader.h"
#include "policy/profile.h"
#include "policy/sections/registry.h"

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

namespace {

void apply_landlock_layer(ProfileLayer& layer, Profile& profile) { apply_landlock(layer.reader, profile.landlock); }

}  // namespace

const ProfileSection& landlock_section() {
  static const ProfileSection kSection{
      "landlock",
      "kernel",
      {
          {"landlock", R"({"enum": ["required", "best_effort", "off"]})", R"("best_effort")",
           "Landlock on top of the mount namespace", "Landlock", true},
      },
      apply_landlock_layer,
      nullptr,
  };
  return kSection;
}

}  // namespace tierbox::policy
