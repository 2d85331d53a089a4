// The data-class inventory (profiles/data-classes.json): which host paths hold
// public, internal or secret data. Security teams own it; each tier states the
// highest class it may see (`max_data_class`). docs/profiles.md documents the
// file; docs/threat-model.md why it exists.
//
// A path's class is that of the most specific rule matching the path or one of
// its directories: the rule whose match is deepest wins, and between rules
// matching at the same depth the higher class. A path no rule matches has the
// inventory's default class.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "policy/path_pattern.h"

namespace tierbox::policy {

enum class DataClass { public_data = 0, internal = 1, secret = 2 };

const char* to_string(DataClass data_class);
std::optional<DataClass> parse_data_class(std::string_view text);

struct DataClassRule {
  PathPattern pattern;
  DataClass data_class = DataClass::internal;
  // false: `**/...` rules are not looked for below this path (a tree whose
  // content the team vouches for, such as /usr, would be slow to scan).
  bool scan = true;
  std::string origin;  // "data-classes.json:/paths/3", for messages
};

struct DataClassInventory {
  std::filesystem::path file;
  std::string sha256;
  DataClass default_class = DataClass::internal;
  // At most this many directory entries are read when mounted trees are
  // scanned for `**/...` rules at launch; beyond it the launch is refused.
  std::uint64_t scan_limit = 100000;
  std::vector<DataClassRule> rules;
};

inline constexpr const char* kDataClassesFile = "data-classes.json";

// Parses an inventory document; errors name the file and JSON pointer.
DataClassInventory parse_data_classes(const nlohmann::json& document, const std::string& file);
// The JSON Schema (draft 2020-12) of data-classes.json, for editors and CI
// (`tierbox profile schema data-classes`, profiles/schema/).
nlohmann::json data_classes_schema();
// The first DIR/data-classes.json of the search dirs.
std::optional<std::filesystem::path> find_data_classes_file(const std::vector<std::filesystem::path>& dirs);
// Loads it; throws ConfigError when none exists (fail closed: without an
// inventory nothing could be checked).
DataClassInventory load_data_classes(const std::vector<std::filesystem::path>& dirs);
DataClassInventory load_data_classes_file(const std::filesystem::path& file);

// Home directories, for `~` in rules: user name -> home.
using HomeDirectories = std::map<std::string, std::string>;

struct Classification {
  DataClass data_class = DataClass::internal;
  const DataClassRule* rule = nullptr;  // nullptr: the default class
  std::size_t depth = 0;                // components of the matched path
};

// Classifies host paths with an inventory; pure (the homes are given).
class DataClassifier {
 public:
  DataClassifier(const DataClassInventory& inventory, const HomeDirectories& homes);

  [[nodiscard]] Classification classify(std::string_view absolute_path) const;
  // The rules matching exactly these components (none: nullopt), for a walk
  // that carries the class of the directory it is in.
  [[nodiscard]] std::optional<Classification> exact(const std::vector<std::string>& components) const;
  // Whether a rule with `scan: false` matches the path or a directory of it.
  [[nodiscard]] bool scan_disabled(const std::vector<std::string>& components) const;
  // Absolute rules (with `~` expanded): component lists, with their rule.
  struct Expanded {
    std::vector<std::string> components;
    const DataClassRule* rule;
  };
  [[nodiscard]] const std::vector<Expanded>& anchored() const { return anchored_; }
  [[nodiscard]] const std::vector<const DataClassRule*>& anywhere() const { return anywhere_; }
  // Whether any `**/...` rule has a class above max.
  [[nodiscard]] bool has_anywhere_rule_above(DataClass max) const;
  [[nodiscard]] const DataClassInventory& inventory() const { return inventory_; }

 private:
  const DataClassInventory& inventory_;
  std::vector<Expanded> anchored_;
  std::vector<const DataClassRule*> anywhere_;
};

// "secret (rule ~/.ssh of data-classes.json:/paths/4)" or "internal (default class)".
std::string describe(const Classification& classification);

}  // namespace tierbox::policy
