// Loads tier profiles: finds the file, follows `extends`, applies each layer
// over the one below it, and validates the result. Every error is a
// ConfigError naming the file, the JSON path of the field and what is expected.
//
// Merge rule for `extends` (docs/profiles.md): a key present in the extending
// file replaces the base's value; objects are merged key by key; arrays are
// replaced, except `mounts`, which is the base's list followed by the
// extending file's (a duplicate target is an error).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "policy/profile.h"

namespace tierbox::policy {

// The directories searched for tiers/NAME.json, in order: --config-dir, then
// $TIERBOX_CONFIG_DIR, then /etc/tierbox, then the profiles/ shipped with the
// build. Empty or missing entries are left out.
std::vector<std::filesystem::path> config_search_dirs(const std::optional<std::filesystem::path>& config_dir_flag,
                                                      const char* config_dir_env,
                                                      const std::filesystem::path& system_dir,
                                                      const std::filesystem::path& shipped_dir);

// Refuses a config directory the caller named (--config-dir, or
// $TIERBOX_CONFIG_DIR; origin says which) that is missing or not a
// directory: a typo there must not quietly fall back to the shipped policy.
void check_named_config_dir(const std::filesystem::path& dir, const std::string& origin);

// The first dirs[i]/relative that exists. An entry that exists but is not a
// regular file (a dangling symbolic link, a directory, a FIFO) is a
// ConfigError naming it, never skipped in favour of a later directory: a
// security team's policy must not be replaced by the defaults without a word.
std::optional<std::filesystem::path> find_config_file(const std::vector<std::filesystem::path>& dirs,
                                                      const std::filesystem::path& relative);
// Whether file is there: false when it does not exist, true when it is a
// regular file (or a link to one), a ConfigError for anything else.
bool config_file_exists(const std::filesystem::path& file);

// The first dirs[i]/tiers/NAME.json that exists (find_config_file).
std::optional<std::filesystem::path> find_tier_file(const std::string& name,
                                                    const std::vector<std::filesystem::path>& dirs);

// Loads tier NAME from the search dirs. Throws ConfigError when it is missing
// or invalid.
Profile load_tier(const std::string& name, const std::vector<std::filesystem::path>& dirs);

// Loads one profile file (`run --profile FILE`, `profile check FILE`). Its
// `extends` is looked up next to the file first, then in dirs.
Profile load_profile_file(const std::filesystem::path& file, const std::vector<std::filesystem::path>& dirs);

// Whether name can be a tier name: [a-z0-9][a-z0-9._-]*, at most 64 characters.
bool is_valid_tier_name(const std::string& name);

}  // namespace tierbox::policy
