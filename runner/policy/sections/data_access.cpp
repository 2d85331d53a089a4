#include "policy/sections/data_access.h"

#include <algorithm>

#include "common/errors.h"
#include "policy/json_reader.h"
#include "policy/profile.h"
#include "policy/sections/registry.h"

namespace tierbox::policy {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxPlaceholderBytes = 4096;

ProtectedPath parse_protected_path(const json& value, const std::string& file, const std::string& pointer) {
  ProtectedPath entry;
  entry.origin = file + ":" + pointer;
  std::string text;
  if (value.is_string()) {
    text = value.get<std::string>();
  } else {
    JsonObjectReader reader(value, file, pointer);
    auto path = reader.string("path");
    if (!path) reader.fail("path", "missing (expected a path relative to the mount, e.g. \".git/hooks/\")");
    text = *path;
    if (auto mode = reader.string("mode")) {
      if (*mode == "read-only") entry.mode = ProtectionMode::read_only;
      else if (*mode == "hidden") entry.mode = ProtectionMode::hidden;
      else reader.fail("mode", "expected \"read-only\" or \"hidden\", got " + json(*mode).dump());
    }
    if (auto placeholder = reader.string("placeholder")) {
      if (placeholder->size() > kMaxPlaceholderBytes)
        reader.fail("placeholder", "longer than " + std::to_string(kMaxPlaceholderBytes) + " bytes (fix: shorten it)");
      entry.placeholder = *placeholder;
    }
    reader.string("comment");
    reader.finish();
  }
  std::string error;
  auto pattern = parse_path_pattern(text, {PatternAnchor::relative, PatternAnchor::anywhere}, &error);
  if (!pattern) throw ConfigError(file, pointer, error);
  entry.pattern = std::move(*pattern);
  if (!entry.placeholder.empty()) {
    // Only a literal file path gets a placeholder file of its own.
    const char* why = entry.pattern.has_wildcards() || entry.pattern.anchor == PatternAnchor::anywhere
                          ? "a pattern protects only what exists at launch, so it has no placeholder"
                      : entry.pattern.directory          ? "a directory's placeholder is an empty directory"
                      : entry.mode == ProtectionMode::hidden ? "a hidden path's stand-in is always empty"
                                                             : nullptr;
    if (why) throw ConfigError(file, pointer + "/placeholder", std::string(why) + " (fix: remove \"placeholder\")");
  }
  return entry;
}

}  // namespace

const char* to_string(ProtectionMode mode) {
  switch (mode) {
    case ProtectionMode::read_only: return "read-only";
    case ProtectionMode::hidden: return "hidden";
  }
  return "?";
}

void apply_data_access(JsonObjectReader& reader, DataAccessSpec& spec) {
  if (auto max = reader.string("max_data_class")) {
    auto parsed = parse_data_class(*max);
    if (!parsed) reader.fail("max_data_class", "expected \"public\", \"internal\" or \"secret\", got " + json(*max).dump());
    spec.max_data_class = *parsed;
  }
  if (const auto* entries = reader.array("protected_paths")) {
    spec.protected_paths.clear();
    for (std::size_t i = 0; i < entries->size(); ++i)
      spec.protected_paths.push_back(
          parse_protected_path((*entries)[i], reader.file(), json_pointer_append("/protected_paths", i)));
  }
  // `protected_paths+`: added to the list in effect (the base's), so a tier
  // protects more (`.husky/`, `.vscode/`) without repeating the base's list.
  // An entry for a path already listed replaces it (`hidden` over `read-only`).
  if (const auto* entries = reader.array("protected_paths+")) {
    for (std::size_t i = 0; i < entries->size(); ++i) {
      auto entry = parse_protected_path((*entries)[i], reader.file(), json_pointer_append("/protected_paths+", i));
      auto same = std::find_if(spec.protected_paths.begin(), spec.protected_paths.end(),
                               [&](const ProtectedPath& listed) { return listed.pattern.text == entry.pattern.text; });
      if (same != spec.protected_paths.end()) *same = std::move(entry);
      else spec.protected_paths.push_back(std::move(entry));
    }
  }
}

void validate_data_access(const DataAccessSpec& spec, const std::string& leaf_file) {
  if (!spec.max_data_class)
    throw ConfigError(leaf_file, "/max_data_class",
                      "missing: every tier states the highest data class it may see (\"public\", \"internal\" or \"secret\")");
}

namespace {

void apply_data_access_layer(ProfileLayer& layer, Profile& profile) { apply_data_access(layer.reader, profile.data_access); }

void validate_data_access_of(const Profile& profile) {
  validate_data_access(profile.data_access, profile.file.string());
}

}  // namespace

const ProfileSection& data_access_section() {
  static const ProfileSection kSection{
      "data_access",
      "data_access",
      {
          {"max_data_class", R"({"enum": ["public", "internal", "secret"]})", nullptr,
           "the highest data class the task may see; required, may come from the base", "Data classes", true},
          {"protected_paths", R"({"type": "array", "items": {"$ref": "#/$defs/protected_path"}})", "[]",
           "paths inside the workspace and writable binds the task may not change", "Protected paths", true},
          {"protected_paths+", R"({"type": "array", "items": {"$ref": "#/$defs/protected_path"}})", nullptr,
           "entries added to the base's protected_paths", "Protected paths"},
      },
      apply_data_access_layer,
      validate_data_access_of,
  };
  return kSection;
}

}  // namespace tierbox::policy
