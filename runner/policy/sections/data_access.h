// What data a tier may see and change: `max_data_class` (checked against the
// data-class inventory, policy/data_classes.h) and `protected_paths`, paths
// inside the workspace and writable binds that the task may not change (or
// not even see), whether or not they exist at launch.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "policy/data_classes.h"
#include "policy/path_pattern.h"

namespace tierbox::policy {

class JsonObjectReader;

enum class ProtectionMode {
  read_only,  // visible, not writable; cannot be created, removed or renamed
  hidden,     // replaced by an empty read-only file or directory
};

const char* to_string(ProtectionMode mode);

struct ProtectedPath {
  PathPattern pattern;  // relative to the tree's root (".git/hooks/"), or "**/name"
  ProtectionMode mode = ProtectionMode::read_only;
  std::string origin;   // "file.json:/protected_paths/2"
  // What the placeholder file holds when the path is missing at launch ("" by
  // default). For files whose mere existence changes what a program does:
  // git refuses to run with an empty `.git/commondir`, and reads "." as
  // "this directory".
  std::string placeholder;
};

struct DataAccessSpec {
  std::optional<DataClass> max_data_class;  // required (after extends)
  std::vector<ProtectedPath> protected_paths;
};

// Top-level `max_data_class` and `protected_paths` of one file. The array
// replaces the base's, like other arrays (a base can make it `final`).
void apply_data_access(JsonObjectReader& reader, DataAccessSpec& spec);
void validate_data_access(const DataAccessSpec& spec, const std::string& leaf_file);

}  // namespace tierbox::policy
