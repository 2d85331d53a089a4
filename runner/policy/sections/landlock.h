// The `landlock` setting of a tier: whether the task is confined with Landlock
// on top of its mount namespace, and which Landlock ABI the tier cannot do
// without (docs/profiles.md, "Landlock").
#pragma once

#include <string>

namespace tierbox::policy {

class JsonObjectReader;

// The newest Landlock ABI tierbox knows: scoping (6) and device ioctls (5)
// included. "required" refuses a kernel below it.
inline constexpr int kLandlockFullAbi = 6;

enum class LandlockMode {
  off,          // never applied
  best_effort,  // applied with what the kernel supports; a warning names what is not
  required,     // refused below minimum_abi; above it, everything the kernel supports, a warning naming the rest
};

struct LandlockSetting {
  LandlockMode mode = LandlockMode::best_effort;
  // required: the lowest ABI the launch accepts. "required" alone is
  // kLandlockFullAbi (every restriction); {"minimum_abi": N} is N. 0 otherwise.
  int minimum_abi = 0;

  bool operator==(const LandlockSetting&) const = default;
};

const char* to_string(LandlockMode mode);
// As a tier writes it: off, best_effort, required, {"minimum_abi": 2}.
std::string to_string(const LandlockSetting& setting);
// How strict a setting is, for `profile diff`: off < best_effort < minimum 1
// < ... < required (minimum 6). The refusal floor is what the tier promises.
int strictness(const LandlockSetting& setting);

// Reads the "landlock" key of a tier file's top-level object, if present:
// "off", "best_effort", "required", or {"minimum_abi": N} (1 <= N <= 6).
void apply_landlock(JsonObjectReader& layer, LandlockSetting& setting);

}  // namespace tierbox::policy
