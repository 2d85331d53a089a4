// `tierbox profile check`: every validation a tier gets before it runs, as
// errors (the tier must not be merged) and warnings (a reviewer should look).
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "policy/data_classes.h"
#include "policy/host_view.h"
#include "policy/review/review.h"
#include "policy/sections/metadata.h"

namespace tierbox::policy {

struct CheckReport {
  std::string file;
  std::string tier;
  bool loaded = false;
  std::string sha256;
  std::vector<std::string> errors;
  std::vector<std::string> warnings;
};

// inventory: nullptr when none could be loaded (data classes are then an error).
// image_tree: the store tree of an image tier's image ("" when the store
// has none, or for a host tier): its allowed_commands resolve there.
CheckReport check_profile(const std::filesystem::path& file, const std::vector<std::filesystem::path>& dirs,
                          const DataClassInventory* inventory, const HostView& view, Date today,
                          const std::function<std::string(const Profile&)>& image_tree_of = {});

// Every tiers/NAME.json in the search dirs, the first of each name.
std::vector<std::filesystem::path> list_tier_files(const std::vector<std::filesystem::path>& dirs);

// `profile diff` of two data-class inventories.
Changes compare_inventories(const DataClassInventory& before, const DataClassInventory& after);

}  // namespace tierbox::policy
