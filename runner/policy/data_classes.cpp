#include "policy/data_classes.h"

#include <sodium.h>

#include <algorithm>

#include "common/digest.h"
#include "common/errors.h"
#include "policy/json_reader.h"
#include "policy/profile_loader.h"

namespace tierbox::policy {
namespace {

using nlohmann::json;

DataClassRule parse_rule(const json& value, const std::string& file, const std::string& pointer) {
  JsonObjectReader reader(value, file, pointer);
  DataClassRule rule;
  rule.origin = file + ":" + pointer;
  auto path = reader.string("path");
  if (!path) reader.fail("path", "missing (expected a path or pattern such as \"~/.ssh\" or \"**/.env*\")");
  std::string error;
  auto pattern = parse_path_pattern(*path, {PatternAnchor::absolute, PatternAnchor::home, PatternAnchor::anywhere}, &error);
  if (!pattern) reader.fail("path", error);
  rule.pattern = std::move(*pattern);
  auto data_class = reader.string("class");
  if (!data_class) reader.fail("class", "missing (expected \"public\", \"internal\" or \"secret\")");
  auto parsed = parse_data_class(*data_class);
  if (!parsed) reader.fail("class", "expected \"public\", \"internal\" or \"secret\", got " + json(*data_class).dump());
  rule.data_class = *parsed;
  rule.scan = reader.boolean("scan").value_or(true);
  reader.string("comment");
  reader.finish();
  return rule;
}

}  // namespace

const char* to_string(DataClass data_class) {
  switch (data_class) {
    case DataClass::public_data: return "public";
    case DataClass::internal: return "internal";
    case DataClass::secret: return "secret";
  }
  return "?";
}

std::optional<DataClass> parse_data_class(std::string_view text) {
  if (text == "public") return DataClass::public_data;
  if (text == "internal") return DataClass::internal;
  if (text == "secret") return DataClass::secret;
  return std::nullopt;
}

json data_classes_schema() {
  return json::parse(R"json({
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://tierbox.example/schema/data-classes.schema.json",
    "title": "tierbox data-class inventory (profiles/data-classes.json; docs/profiles.md, Data classes)",
    "type": "object", "additionalProperties": false, "required": ["paths"],
    "properties": {
      "$schema": {"type": "string"}, "comment": {"type": "string"}, "owner": {"type": "string"},
      "description": {"type": "string"},
      "default_class": {"enum": ["public", "internal", "secret"]},
      "scan_limit": {"type": "integer", "minimum": 1, "maximum": 100000000},
      "paths": {"type": "array", "items": {"type": "object", "additionalProperties": false, "required": ["path", "class"],
        "properties": {"path": {"type": "string", "minLength": 1}, "class": {"enum": ["public", "internal", "secret"]},
                       "scan": {"type": "boolean"}, "comment": {"type": "string"}}}}
    }
  })json");
}

DataClassInventory parse_data_classes(const json& document, const std::string& file) {
  JsonObjectReader reader(document, file, "");
  DataClassInventory inventory;
  inventory.file = file;
  reader.string("$schema");
  reader.string("comment");
  reader.string("owner");
  reader.string("description");
  if (auto default_class = reader.string("default_class")) {
    auto parsed = parse_data_class(*default_class);
    if (!parsed) reader.fail("default_class", "expected \"public\", \"internal\" or \"secret\", got " + json(*default_class).dump());
    inventory.default_class = *parsed;
  }
  if (auto limit = reader.unsigned_integer("scan_limit", 100'000'000)) {
    if (*limit == 0) reader.fail("scan_limit", "must be at least 1");
    inventory.scan_limit = *limit;
  }
  const auto* paths = reader.array("paths");
  if (!paths) reader.fail("paths", "missing (expected an array of {\"path\": ..., \"class\": ...})");
  for (std::size_t i = 0; i < paths->size(); ++i)
    inventory.rules.push_back(parse_rule((*paths)[i], file, json_pointer_append("/paths", i)));
  reader.finish();
  return inventory;
}

std::optional<std::filesystem::path> find_data_classes_file(const std::vector<std::filesystem::path>& dirs) {
  return find_config_file(dirs, kDataClassesFile);
}

DataClassInventory load_data_classes_file(const std::filesystem::path& file) {
  if (sodium_init() < 0) throw ConfigError("libsodium failed to initialise");
  std::string bytes;
  auto document = read_json_file(file.string(), &bytes);
  auto inventory = parse_data_classes(document, file.string());
  inventory.sha256 = sha256_hex(bytes);
  return inventory;
}

DataClassInventory load_data_classes(const std::vector<std::filesystem::path>& dirs) {
  auto file = find_data_classes_file(dirs);
  if (!file) {
    std::string searched;
    for (const auto& dir : dirs) searched += (searched.empty() ? "" : ", ") + (dir / kDataClassesFile).string();
    throw ConfigError("no data-class inventory found (searched " + searched +
                      "; fix: install data-classes.json next to tiers/, see docs/profiles.md)");
  }
  return load_data_classes_file(*file);
}

DataClassifier::DataClassifier(const DataClassInventory& inventory, const HomeDirectories& homes)
    : inventory_(inventory) {
  for (const auto& rule : inventory.rules) {
    const auto& pattern = rule.pattern;
    switch (pattern.anchor) {
      case PatternAnchor::absolute:
        anchored_.push_back({pattern.components, &rule});
        break;
      case PatternAnchor::home:
        for (const auto& [user, home] : homes) {
          if (!pattern.home_user.empty() && pattern.home_user != user) continue;
          auto components = path_components(home);
          components.insert(components.end(), pattern.components.begin(), pattern.components.end());
          anchored_.push_back({std::move(components), &rule});
        }
        break;
      case PatternAnchor::anywhere:
        anywhere_.push_back(&rule);
        break;
      case PatternAnchor::relative:
        break;  // not accepted in an inventory
    }
  }
}

std::optional<Classification> DataClassifier::exact(const std::vector<std::string>& components) const {
  std::optional<Classification> best;
  const auto consider = [&](const DataClassRule* rule) {
    if (!best || rule->data_class > best->data_class) best = Classification{rule->data_class, rule, components.size()};
  };
  for (const auto& expanded : anchored_)
    if (components_match(expanded.components, components)) consider(expanded.rule);
  for (const auto* rule : anywhere_)
    if (suffix_matches(rule->pattern.components, components)) consider(rule);
  return best;
}

Classification DataClassifier::classify(std::string_view absolute_path) const {
  auto components = path_components(absolute_path);
  // Deepest first: the first depth with a match decides.
  for (std::size_t depth = components.size() + 1; depth-- > 0;) {
    std::vector<std::string> prefix(components.begin(), components.begin() + static_cast<std::ptrdiff_t>(depth));
    if (auto match = exact(prefix)) return *match;
  }
  return Classification{inventory_.default_class, nullptr, 0};
}

bool DataClassifier::scan_disabled(const std::vector<std::string>& components) const {
  for (std::size_t depth = 0; depth <= components.size(); ++depth) {
    std::vector<std::string> prefix(components.begin(), components.begin() + static_cast<std::ptrdiff_t>(depth));
    for (const auto& expanded : anchored_)
      if (!expanded.rule->scan && components_match(expanded.components, prefix)) return true;
    for (const auto* rule : anywhere_)
      if (!rule->scan && suffix_matches(rule->pattern.components, prefix)) return true;
  }
  return false;
}

bool DataClassifier::has_anywhere_rule_above(DataClass max) const {
  return std::any_of(anywhere_.begin(), anywhere_.end(), [&](const auto* rule) { return rule->data_class > max; });
}

std::string describe(const Classification& classification) {
  std::string text = to_string(classification.data_class);
  if (!classification.rule) return text + " (the inventory's default class)";
  return text + " (rule " + json(classification.rule->pattern.text).dump() + " of " + classification.rule->origin + ")";
}

}  // namespace tierbox::policy
