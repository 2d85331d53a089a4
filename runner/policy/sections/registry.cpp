#include "policy/sections/registry.h"

#include <algorithm>
#include <set>

namespace tierbox::policy {

// Each section declares its fields in its own file.
const ProfileSection& document_section();
const ProfileSection& metadata_section();
const ProfileSection& data_access_section();
const ProfileSection& commands_section();
const ProfileSection& identity_section();
const ProfileSection& filesystem_section();
const ProfileSection& environment_section();
const ProfileSection& limits_section();
const ProfileSection& network_section();
const ProfileSection& seccomp_section();
const ProfileSection& landlock_section();
const ProfileSection& secrets_section();
const ProfileSection& widening_section();

namespace {

using json = nlohmann::json;

// The object at the dotted key's parent inside schema, made on the way.
json& parent_object(json& schema, const std::string& key, std::string& leaf) {
  json* object = &schema;
  std::size_t start = 0;
  for (std::size_t dot = key.find('.'); dot != std::string::npos; dot = key.find('.', start)) {
    json& child = (*object)["properties"][key.substr(start, dot - start)];
    if (!child.contains("type")) child = {{"type", "object"}, {"additionalProperties", false}, {"properties", json::object()}};
    object = &child;
    start = dot + 1;
  }
  leaf = key.substr(start);
  return *object;
}

json field_schema(const FieldSpec& field) {
  json schema = field.schema ? json::parse(field.schema)
                             : json{{"type", "object"}, {"additionalProperties", false}, {"properties", json::object()}};
  schema["description"] = field.summary;
  if (field.default_value) schema["default"] = json::parse(field.default_value);
  return schema;
}

}  // namespace

const std::vector<ProfileSection>& profile_sections() {
  // The order errors are found in: a file's keys section by section, then
  // the whole chain's checks in the same order (mounts first, as before the
  // registry, so a profile with several faults still reports the same one).
  static const std::vector<ProfileSection> kSections = {
      document_section(), filesystem_section(), network_section(),  limits_section(),
      metadata_section(), data_access_section(), commands_section(), identity_section(),
      environment_section(), seccomp_section(), landlock_section(),  secrets_section(),
      widening_section(),
  };
  return kSections;
}

std::vector<std::string> registered_keys() {
  std::set<std::string> keys;
  for (const auto& section : profile_sections())
    for (const auto& field : section.fields) keys.insert(field.key);
  return {keys.begin(), keys.end()};
}

std::vector<std::string> top_level_keys() {
  std::set<std::string> keys;
  for (const auto& key : registered_keys()) keys.insert(key.substr(0, key.find('.')));
  return {keys.begin(), keys.end()};
}

std::vector<std::string> final_field_names(const std::string& review) {
  std::vector<std::string> names;
  for (const auto& section : profile_sections()) {
    if (!review.empty() && section.review != review) continue;
    for (const auto& field : section.fields)
      if (field.final_allowed) names.emplace_back(field.key);
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<std::string> final_field_names() { return final_field_names(""); }

json profile_schema_definitions() {
  return json::parse(R"json({
    "size": {"description": "bytes, or a number with K, M, G or T (powers of 1024)",
             "anyOf": [{"type": "integer", "minimum": 0},
                       {"type": "string", "pattern": "^[0-9]+(\\.[0-9]+)? ?([kKmMgGtT](i|iB|B)?|[bB])?$"}]},
    "duration": {"description": "seconds, or a number with ms, s, m, h or d",
                 "anyOf": [{"type": "integer", "minimum": 0},
                           {"type": "string", "pattern": "^[0-9]+(\\.[0-9]+)? ?(ms|s|m|h|d)?$"}]},
    "absolute_path": {"type": "string", "pattern": "^/"},
    "names": {"type": "array", "items": {"type": "string"}},
    "cgroup_limit": {"description": "{\"value\": ..., \"required\": false}, or null to remove the base's limit",
                     "anyOf": [{"type": "null"},
                               {"type": "object", "required": ["value"], "additionalProperties": false,
                                "properties": {"value": true, "required": {"type": "boolean"}}}]},
    "rlimit_value": {"anyOf": [{"type": "integer", "minimum": 0}, {"const": "unlimited"}, {"$ref": "#/$defs/size"}]},
    "rlimit": {"description": "one value for soft and hard, {\"soft\": ..., \"hard\": ...}, or null to inherit the caller's",
               "anyOf": [{"type": "null"}, {"$ref": "#/$defs/rlimit_value"},
                         {"type": "object", "required": ["soft", "hard"], "additionalProperties": false,
                          "properties": {"soft": {"$ref": "#/$defs/rlimit_value"}, "hard": {"$ref": "#/$defs/rlimit_value"}}}]},
    "protected_path": {"anyOf": [{"type": "string"},
                                 {"type": "object", "required": ["path"], "additionalProperties": false,
                                  "properties": {"path": {"type": "string"}, "mode": {"enum": ["read-only", "hidden"]},
                                                 "placeholder": {"type": "string", "maxLength": 4096},
                                                 "comment": {"type": "string"}}}]},
    "date": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}
  })json");
}

json tier_profile_schema() {
  json schema = {{"$schema", "https://json-schema.org/draft/2020-12/schema"},
                 {"$id", "https://tierbox.example/schema/tier.schema.json"},
                 {"title", "tierbox tier profile (profiles/tiers/NAME.json; docs/profiles.md)"},
                 {"type", "object"},
                 {"additionalProperties", false},
                 {"properties", json::object()},
                 {"$defs", profile_schema_definitions()}};
  for (const auto& section : profile_sections()) {
    for (const auto& field : section.fields) {
      std::string leaf;
      json& parent = parent_object(schema, field.key, leaf);
      json& slot = parent["properties"][leaf];
      // A container declared after its fields keeps them.
      json properties = slot.contains("properties") ? slot["properties"] : json::object();
      slot = field_schema(field);
      if (!field.schema) slot["properties"] = properties;
    }
  }
  schema["properties"]["final"]["items"]["enum"] = final_field_names();
  return schema;
}

}  // namespace tierbox::policy
