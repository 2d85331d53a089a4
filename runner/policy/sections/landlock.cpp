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

std::string to_string(const LandlockSetting& setting) {
  if (setting.mode == LandlockMode::required && setting.minimum_abi < kLandlockFullAbi)
    return "{\"minimum_abi\": " + std::to_string(setting.minimum_abi) + "}";
  return to_string(setting.mode);
}

int strictness(const LandlockSetting& setting) {
  switch (setting.mode) {
    case LandlockMode::off: return -1;
    case LandlockMode::best_effort: return 0;
    case LandlockMode::required: return setting.minimum_abi;
  }
  return 0;
}

namespace {

LandlockSetting setting_from_text(JsonObjectReader& layer, const std::string& text) {
  if (text == "off") return {LandlockMode::off, 0};
  if (text == "best_effort") return {LandlockMode::best_effort, 0};
  if (text == "required") return {LandlockMode::required, kLandlockFullAbi};
  layer.fail("landlock", "expected \"required\", \"best_effort\", \"off\" or {\"minimum_abi\": N}, got " +
                             nlohmann::json(text).dump());
}

}  // namespace

void apply_landlock(JsonObjectReader& layer, LandlockSetting& setting) {
  const auto* value = layer.raw("landlock");
  if (!value) return;
  if (value->is_string()) {
    setting = setting_from_text(layer, value->get<std::string>());
    return;
  }
  if (!value->is_object())
    layer.fail("landlock", "expected \"required\", \"best_effort\", \"off\" or {\"minimum_abi\": N}, got " + value->dump());
  auto object = layer.object("landlock");
  const auto minimum = object->unsigned_integer("minimum_abi", kLandlockFullAbi);
  object->finish();
  if (!minimum || *minimum < 1)
    object->fail("minimum_abi", "expected the lowest Landlock ABI the tier accepts, 1 to " +
                                    std::to_string(kLandlockFullAbi) + " (fix: e.g. {\"minimum_abi\": 1}, or \"best_effort\")");
  setting = {LandlockMode::required, static_cast<int>(*minimum)};
}

namespace {

void apply_landlock_layer(ProfileLayer& layer, Profile& profile) { apply_landlock(layer.reader, profile.landlock); }

}  // namespace

const ProfileSection& landlock_section() {
  static const ProfileSection kSection{
      "landlock",
      "kernel",
      {
          {"landlock",
           R"({"oneOf": [{"enum": ["required", "best_effort", "off"]},
                         {"type": "object", "properties": {"minimum_abi": {"type": "integer", "minimum": 1, "maximum": 6}},
                          "required": ["minimum_abi"], "additionalProperties": false}]})",
           R"("best_effort")", "Landlock on top of the mount namespace, and the lowest ABI the tier accepts", "Landlock",
           true},
      },
      apply_landlock_layer,
      nullptr,
  };
  return kSection;
}

}  // namespace tierbox::policy
