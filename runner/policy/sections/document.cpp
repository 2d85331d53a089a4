// The keys of a tier file about the file itself: `$schema` (for editors),
// `extends` (resolved by the loader before any section is applied),
// `comment`, `description` and `final`.
#include <algorithm>

#include "common/errors.h"
#include "policy/json_reader.h"
#include "policy/profile.h"
#include "policy/review/review.h"
#include "policy/sections/registry.h"

namespace tierbox::policy {
namespace {

using nlohmann::json;

// `final`: fields a tier extending this file may only tighten. Returns the
// names this file adds; profile.final_fields keeps every file's.
std::vector<std::string> apply_final(JsonObjectReader& reader, Profile& profile) {
  auto names = reader.string_array("final");
  if (!names) return {};
  for (std::size_t i = 0; i < names->size(); ++i) {
    const auto& name = (*names)[i];
    if (!is_final_field_name(name)) {
      std::string known;
      for (const auto& field : final_field_names()) known += (known.empty() ? "" : ", ") + field;
      throw ConfigError(reader.file(), json_pointer_append("/final", i),
                        "unknown field " + json(name).dump() + " (expected one of: " + known + ")");
    }
    profile.final_fields.emplace(name, reader.file());
  }
  return *names;
}

void apply_document(ProfileLayer& layer, Profile& profile) {
  layer.reader.string("$schema");
  layer.reader.string("extends");  // resolved by the loader; registered as known here
  layer.reader.string("comment");
  if (auto description = layer.reader.string("description")) profile.description = *description;
  layer.marked_final = apply_final(layer.reader, profile);
}

}  // namespace

const ProfileSection& document_section() {
  static const ProfileSection kSection{
      "document",
      "governance",
      {
          {"$schema", R"({"type": "string"})", nullptr,
           "the JSON Schema editors validate the file against (ignored by tierbox)", "Fields"},
          {"extends", R"({"type": "string", "pattern": "^[a-z0-9][a-z0-9._-]{0,63}$"})", nullptr,
           "the base tier this file is applied over", "`extends` and merging"},
          {"comment", R"({"type": "string"})", nullptr, "free text, ignored", "Fields"},
          {"description", R"({"type": "string"})", R"("")", "what the tier is for", "Fields"},
          {"final", R"({"type": "array", "items": {"type": "string"}})", "[]",
           "fields a tier extending this file may only tighten", "`final`"},
      },
      apply_document,
      nullptr,
  };
  return kSection;
}

}  // namespace tierbox::policy
