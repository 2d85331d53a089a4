// The registry of tier profile fields. Every key a tier file may hold is
// declared once, next to the code that parses it (sections/*.cpp), with its
// JSON shape, its default, whether `final` may name it and the heading of
// docs/profiles.md that describes it. Everything else reads the registry:
// the loader applies the sections in its order and refuses keys it does not
// list; `final` accepts only the names it marks; `profile diff` and `profile
// explain` run the review (review/review.h) each section names; `tierbox
// profile schema` builds the JSON Schema from it; and the unit tests check
// docs/profiles.md against it. docs/hacking.md: how to add a field.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace tierbox::policy {

class JsonObjectReader;
struct Profile;

// One key of a tier file, or an object holding keys ("limits").
struct FieldSpec {
  const char* key;           // "limits.wall_time": each dot steps into an object
  // The JSON Schema of the value, as JSON text ("#/$defs/size" and the other
  // shapes of profile_schema_definitions() may be referenced). nullptr: an
  // object whose keys are the fields declared below this one.
  const char* schema;
  const char* default_value;  // JSON text of the default; nullptr: none (absent means something else)
  const char* summary;        // one line, the schema's description
  const char* docs;           // the docs/profiles.md heading that describes it ("Fields", "Limits", ...)
  bool final_allowed = false;  // whether `final` may name it (a child tier may then only tighten it)
};

// One file of an `extends` chain, while its sections are applied.
struct ProfileLayer {
  JsonObjectReader& reader;                    // the file's top-level object
  std::vector<std::string> marked_final = {};  // what this file's `final` lists
};

struct ProfileSection {
  const char* name;    // "limits": sections/limits.cpp
  const char* review;  // the SectionReview whose compare and explain cover these fields
  std::vector<FieldSpec> fields;
  // Reads this section's keys of one file over what the files below it left.
  void (*apply)(ProfileLayer& layer, Profile& profile);
  // Checks across fields once the whole chain is applied; nullptr: nothing to check.
  void (*validate)(const Profile& profile);
};

// Every section, in the order the loader applies and validates them.
const std::vector<ProfileSection>& profile_sections();

// The top-level keys a tier file may hold, sorted.
std::vector<std::string> top_level_keys();
// Every key of every section ("limits", "limits.wall_time", ...), sorted.
std::vector<std::string> registered_keys();
// The names `final` accepts: of every field, or of the fields of one review section.
std::vector<std::string> final_field_names();
std::vector<std::string> final_field_names(const std::string& review);

// Shapes several fields share (size, duration, absolute path, ...), as a
// JSON Schema "$defs" object.
nlohmann::json profile_schema_definitions();
// The JSON Schema (draft 2020-12) of a tier file, built from the registry.
nlohmann::json tier_profile_schema();

}  // namespace tierbox::policy
