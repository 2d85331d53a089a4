#include "policy/profile_loader.h"

#include <sodium.h>
#include <sys/stat.h>

#include <algorithm>
#include <set>

#include "common/digest.h"
#include "common/errors.h"
#include "common/files.h"
#include "policy/json_reader.h"
#include "policy/review/review.h"
#include "policy/sections/registry.h"

namespace tierbox::policy {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr std::size_t kMaxExtendsDepth = 8;

// A key no section declares is refused before any is applied, naming what
// the registry knows; nested objects are checked by their section's reader.
void refuse_unregistered_keys(const json& document, const std::string& file) {
  const auto known = top_level_keys();
  for (const auto& [key, unused] : document.items()) {
    if (std::binary_search(known.begin(), known.end(), key)) continue;
    std::string expected;
    for (const auto& name : known) expected += (expected.empty() ? "" : ", ") + name;
    throw ConfigError(file, json_pointer_append("", key), "unknown key (expected one of: " + expected + ")");
  }
}

// Applies one file's settings over profile, section by section (the
// registry's order); returns the fields it marks final.
std::vector<std::string> apply_layer(const json& document, const std::string& file, Profile& profile) {
  JsonObjectReader reader(document, file, "");
  refuse_unregistered_keys(document, file);
  ProfileLayer layer{reader};
  for (const auto& section : profile_sections()) section.apply(layer, profile);
  reader.finish();
  return std::move(layer.marked_final);
}

// A file's `final` fields, with the profile as that file left it.
struct FinalMark {
  std::string file;
  std::vector<std::string> fields;
  Profile snapshot;
};

// A tier extending a file may only tighten the fields it marks final: the
// same comparison as `profile diff`, where anything but narrowing is refused.
// Only the sections that hold a final field are compared: every launch loads
// its tier, and comparing the rest (the syscall filter's rules, say) would
// cost time for nothing.
Changes compare_final_sections(const Profile& before, const Profile& after, const std::vector<std::string>& fields) {
  Changes changes;
  for (const auto& section : section_reviews()) {
    const auto names = final_field_names(section.name);
    const bool holds_one = std::any_of(names.begin(), names.end(), [&](const std::string& name) {
      return std::any_of(fields.begin(), fields.end(), [&](const std::string& field) {
        return final_covers(field, name) || final_covers(name, field);
      });
    });
    if (holds_one) section.compare(before, after, changes);
  }
  return changes;
}

void check_final_fields(const std::vector<FinalMark>& marks, const Profile& profile) {
  for (const auto& mark : marks) {
    for (const auto& change : compare_final_sections(mark.snapshot, profile, mark.fields)) {
      if (change.effect == Effect::narrows) continue;
      for (const auto& field : mark.fields) {
        if (!final_covers(field, change.field)) continue;
        std::string pointer = "/" + change.field;
        std::replace(pointer.begin(), pointer.end(), '.', '/');
        throw ConfigError(profile.file.string(), pointer,
                          std::string(to_string(change.effect)) + " " + change.field + " (" + change.text + "), which " +
                              mark.file + " marks final: a tier extending it may only tighten it (fix: remove the change, or change the base)");
      }
    }
  }
}

struct LoadedFile {
  fs::path path;
  json document;
  std::string bytes;
};

// Reads file and its `extends` chain; returns base first.
std::vector<LoadedFile> read_chain(const fs::path& leaf, const std::vector<fs::path>& dirs) {
  std::vector<LoadedFile> chain;
  std::set<fs::path> seen;
  fs::path current = leaf;
  while (true) {
    if (chain.size() >= kMaxExtendsDepth)
      throw ConfigError(leaf.string() + ": /extends: chain longer than " + std::to_string(kMaxExtendsDepth) + " files");
    // Lexical, without syscalls: a cycle is a file named twice.
    auto canonical = fs::absolute(current).lexically_normal();
    if (!seen.insert(canonical).second)
      throw ConfigError(current.string() + ": /extends: cycle (the file extends itself through its bases)");
    LoadedFile loaded{current, {}, {}};
    loaded.document = read_json_file(current.string(), &loaded.bytes);
    std::optional<std::string> base;
    if (loaded.document.is_object()) {
      if (auto it = loaded.document.find("extends"); it != loaded.document.end()) {
        if (!it->is_string()) throw ConfigError(current.string(), "/extends", "expected a tier name string");
        base = it->get<std::string>();
      }
    }
    chain.push_back(std::move(loaded));
    if (!base) break;
    if (!is_valid_tier_name(*base))
      throw ConfigError(current.string(), "/extends", "expected a tier name ([a-z0-9][a-z0-9._-]*), got " + json(*base).dump());
    // Look next to the extending file first, so a profile directory is
    // self-contained; then the normal search path.
    auto sibling = current.parent_path() / (*base + ".json");
    if (config_file_exists(sibling)) {
      current = sibling;
      continue;
    }
    auto found = find_tier_file(*base, dirs);
    if (!found)
      throw ConfigError(current.string(), "/extends", "base tier " + json(*base).dump() + " not found next to the file or in the config directories");
    current = *found;
  }
  std::reverse(chain.begin(), chain.end());
  return chain;
}

}  // namespace

bool is_valid_tier_name(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  if (!((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= '0' && name[0] <= '9'))) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
  });
}

std::vector<fs::path> config_search_dirs(const std::optional<fs::path>& config_dir_flag, const char* config_dir_env,
                                         const fs::path& system_dir, const fs::path& shipped_dir) {
  std::vector<fs::path> dirs;
  if (config_dir_flag && !config_dir_flag->empty()) dirs.push_back(*config_dir_flag);
  if (config_dir_env && *config_dir_env) dirs.emplace_back(config_dir_env);
  if (!system_dir.empty()) dirs.push_back(system_dir);
  if (!shipped_dir.empty()) dirs.push_back(shipped_dir);
  return dirs;
}

void check_named_config_dir(const fs::path& dir, const std::string& origin) {
  struct stat status {};
  if (::stat(dir.c_str(), &status) != 0)
    throw ConfigError(origin + " " + quote(dir.string()) + ": " + errno_text(errno) + " (fix: name an existing directory)");
  if (!S_ISDIR(status.st_mode))
    throw ConfigError(origin + " " + quote(dir.string()) + ": is " + file_type_name(status.st_mode) +
                      ", not a directory (fix: name the directory that holds tiers/)");
}

bool config_file_exists(const fs::path& file) {
  struct stat status {};
  if (::lstat(file.c_str(), &status) != 0) {
    if (errno == ENOENT) return false;
    throw ConfigError(file.string() + ": cannot be looked at: " + errno_text(errno) +
                      " (fix: make it readable, or remove it to use the next config directory)");
  }
  const bool link = S_ISLNK(status.st_mode);
  if (link && ::stat(file.c_str(), &status) != 0)
    throw ConfigError(file.string() + ": a symbolic link whose target cannot be reached (" + errno_text(errno) +
                      "); it is not skipped (fix: repair or remove the link)");
  if (!S_ISREG(status.st_mode))
    throw ConfigError(file.string() + ": is " + file_type_name(status.st_mode) + (link ? " (through a link)" : "") +
                      ", not a regular file; it is not skipped (fix: replace it with a JSON file, or remove it)");
  return true;
}

std::optional<fs::path> find_config_file(const std::vector<fs::path>& dirs, const fs::path& relative) {
  for (const auto& dir : dirs) {
    auto candidate = dir / relative;
    if (config_file_exists(candidate)) return candidate;
  }
  return std::nullopt;
}

std::optional<fs::path> find_tier_file(const std::string& name, const std::vector<fs::path>& dirs) {
  if (!is_valid_tier_name(name)) return std::nullopt;
  return find_config_file(dirs, fs::path("tiers") / (name + ".json"));
}

Profile load_profile_file(const fs::path& file, const std::vector<fs::path>& dirs) {
  if (sodium_init() < 0) throw ConfigError("libsodium failed to initialise");
  auto chain = read_chain(file, dirs);
  Profile profile;
  std::string all_bytes;
  std::vector<FinalMark> finals;
  for (const auto& layer : chain) {
    auto fields = apply_layer(layer.document, layer.path.string(), profile);
    profile.chain.push_back(layer.path);
    all_bytes += layer.bytes;
    if (!fields.empty()) finals.push_back({layer.path.string(), std::move(fields), profile});
  }
  profile.file = file;
  profile.name = file.stem().string();
  profile.sha256 = sha256_hex(all_bytes);
  for (const auto& section : profile_sections())
    if (section.validate) section.validate(profile);
  check_final_fields(finals, profile);
  return profile;
}

Profile load_tier(const std::string& name, const std::vector<fs::path>& dirs) {
  if (!is_valid_tier_name(name))
    throw ConfigError("invalid tier name " + quote(name) + " (expected [a-z0-9][a-z0-9._-]*)");
  auto file = find_tier_file(name, dirs);
  if (!file) {
    std::string searched;
    for (const auto& dir : dirs) searched += (searched.empty() ? "" : ", ") + (dir / "tiers").string();
    throw ConfigError("tier " + quote(name) + " not found (searched " + searched +
                      "; fix: check the name, or pass --config-dir)");
  }
  return load_profile_file(*file, dirs);
}

}  // namespace tierbox::policy
