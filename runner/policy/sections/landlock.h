// The `landlock` setting of a tier: whether the task is confined with Landlock
// on top of its mount namespace (docs/profiles.md, "Landlock").
#pragma once

namespace tierbox::policy {

class JsonObjectReader;

enum class LandlockMode {
  off,          // never applied
  best_effort,  // applied with what the kernel supports; a warning names what is not
  required,     // the launch is refused unless the kernel supports every restriction
};

const char* to_string(LandlockMode mode);

// Reads the "landlock" key of a tier file's top-level object, if present.
void apply_landlock(JsonObjectReader& layer, LandlockMode& mode);

}  // namespace tierbox::policy
