#include "policy/profile_loader.h"

#include <sodium.h>
#include <sys/stat.h>

#include <algorithm>
#include <set>

#include "common/errors.h"
#include "common/files.h"
#include "policy/environment.h"
#include "policy/json_reader.h"
#include "policy/review/review.h"

namespace tierbox::policy {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr std::size_t kMaxExtendsDepth = 8;

// Paths tierbox builds itself; a profile may not mount over or under them.
constexpr const char* kReservedTargets[] = {"/", "/proc", "/dev"};

bool is_under(const std::string& path, const std::string& dir) {
  if (dir == "/") return true;
  return path == dir || (path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 && path[dir.size()] == '/');
}

bool is_valid_hostname(const std::string& name) {
  if (name.empty() || name.size() > 63 || name.front() == '-' || name.back() == '-') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
  });
}

bool is_valid_user_name(const std::string& name) {
  if (name.empty() || name.size() > 32) return false;
  if (!((name[0] >= 'a' && name[0] <= 'z') || name[0] == '_')) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

void apply_user(JsonObjectReader reader, TaskUserSpec& user) {
  // The task never runs as uid 0 inside, and 65534 is the overflow id that
  // unmapped host files show as; both are refused.
  if (auto uid = reader.unsigned_integer("uid", 65533)) {
    if (*uid == 0) reader.fail("uid", "the task may not run as uid 0 inside the sandbox (fix: use e.g. 1000)");
    user.uid = static_cast<std::uint32_t>(*uid);
  }
  if (auto gid = reader.unsigned_integer("gid", 65533)) {
    if (*gid == 0) reader.fail("gid", "the task may not run as gid 0 inside the sandbox (fix: use e.g. 1000)");
    user.gid = static_cast<std::uint32_t>(*gid);
  }
  if (auto name = reader.string("name")) {
    if (!is_valid_user_name(*name)) reader.fail("name", "expected a user name matching [a-z_][a-z0-9_-]*, got " + json(*name).dump());
    user.name = *name;
  }
  if (auto home = reader.absolute_path("home")) user.home = *home;
  reader.finish();
}

MountSpec parse_mount(const json& value, const std::string& file, const std::string& pointer) {
  JsonObjectReader reader(value, file, pointer);
  MountSpec mount;
  mount.origin = file + ":" + pointer;
  auto type = reader.string("type");
  if (!type) reader.fail("type", "missing (expected \"bind\", \"tmpfs\" or \"symlink\")");
  auto target = reader.absolute_path("target");
  if (!target) reader.fail("target", "missing (expected the absolute path inside the sandbox)");
  mount.target = *target;
  if (*type == "bind") {
    mount.type = MountType::bind;
    auto source = reader.absolute_path("source");
    if (!source) reader.fail("source", "missing (expected the absolute host path to bind)");
    mount.source = *source;
    mount.writable = reader.boolean("writable").value_or(false);
    mount.optional = reader.boolean("optional").value_or(false);
  } else if (*type == "tmpfs") {
    mount.type = MountType::tmpfs;
    auto size = reader.size("size");
    // An unbounded tmpfs lets a task fill the host's memory.
    if (!size || *size == 0) reader.fail("size", "missing (a tmpfs needs a size limit, e.g. \"64M\")");
    mount.size_bytes = *size;
    mount.mode = reader.mode("mode").value_or(0755);
    mount.writable = reader.boolean("writable").value_or(true);
  } else if (*type == "symlink") {
    mount.type = MountType::symlink;
    auto link = reader.string("link");
    if (!link || link->empty()) reader.fail("link", "missing (expected what the symlink points to, e.g. \"usr/bin\")");
    mount.link = *link;
  } else {
    reader.fail("type", "expected \"bind\", \"tmpfs\" or \"symlink\", got " + json(*type).dump());
  }
  reader.finish();
  return mount;
}

void apply_mounts(const json& mounts, const std::string& file, const std::string& pointer,
                  std::vector<MountSpec>& out) {
  for (std::size_t i = 0; i < mounts.size(); ++i)
    out.push_back(parse_mount(mounts[i], file, json_pointer_append(pointer, i)));
}

void apply_workspace(JsonObjectReader reader, WorkspaceSpec& workspace) {
  if (auto target = reader.absolute_path("target")) workspace.target = *target;
  if (auto writable = reader.boolean("writable")) workspace.writable = *writable;
  reader.finish();
}

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

// Applies one file's settings over profile; returns the fields it marks final.
std::vector<std::string> apply_layer(const json& document, const std::string& file, Profile& profile) {
  JsonObjectReader reader(document, file, "");
  reader.string("extends");  // resolved by the caller; registered as known here
  reader.string("comment");
  ReviewEntry review;
  apply_metadata(reader, review, profile.metadata);
  apply_data_access(reader, profile.data_access);
  apply_commands(reader, profile.commands);
  auto finals = apply_final(reader, profile);
  if (auto description = reader.string("description")) profile.description = *description;
  if (auto hostname = reader.string("hostname")) {
    if (!is_valid_hostname(*hostname))
      reader.fail("hostname", "expected a host name of 1-63 letters, digits or '-', got " + json(*hostname).dump());
    profile.hostname = *hostname;
  }
  if (auto shm_size = reader.size("shm_size")) profile.shm_size_bytes = *shm_size;
  if (auto pass_fds = reader.unsigned_integer("pass_fds", 64)) profile.pass_fds = static_cast<std::uint32_t>(*pass_fds);
  if (auto user = reader.object("user")) apply_user(std::move(*user), profile.user);
  if (const auto* mounts = reader.array("mounts")) apply_mounts(*mounts, file, "/mounts", profile.mounts);
  if (auto workspace = reader.object("workspace")) apply_workspace(std::move(*workspace), profile.workspace);
  if (auto environment = reader.object("environment")) apply_environment(std::move(*environment), profile.environment);
  if (auto limits = reader.object("limits")) apply_limits(std::move(*limits), profile.limits);
  if (auto network = reader.object("network")) apply_network(std::move(*network), profile.network);
  if (auto seccomp = reader.object("seccomp")) apply_seccomp(std::move(*seccomp), profile.seccomp);
  apply_landlock(reader, profile.landlock);
  if (auto secrets = reader.object("secrets")) apply_secrets(std::move(*secrets), profile.secrets);
  if (auto widening = reader.object("widening")) apply_widening(std::move(*widening), profile.widening);
  reader.finish();
  return finals;
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
    const bool holds_one = std::any_of(section.final_fields.begin(), section.final_fields.end(), [&](const char* name) {
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

void validate_mounts(const Profile& profile) {
  std::map<std::string, const MountSpec*> by_target;
  for (const auto& mount : profile.mounts) {
    for (const char* reserved : kReservedTargets) {
      if (std::string(reserved) == "/" ? mount.target == "/" : is_under(mount.target, reserved))
        throw ConfigError(mount.origin + "/target: " + json(mount.target).dump() +
                          " is built by tierbox itself (/, /proc and /dev are not configurable; fix: choose another target)");
    }
    auto [it, inserted] = by_target.emplace(mount.target, &mount);
    if (!inserted)
      throw ConfigError(mount.origin + "/target: duplicate mount target " + json(mount.target).dump() +
                        " (already mounted by " + it->second->origin + "; fix: remove one of them)");
  }
  for (const auto& mount : profile.mounts) {
    for (const auto& other : profile.mounts) {
      if (other.type != MountType::symlink || &other == &mount) continue;
      if (is_under(mount.target, other.target))
        throw ConfigError(mount.origin + "/target: " + json(mount.target).dump() + " lies below the symlink " +
                          json(other.target).dump() + " of " + other.origin + " (fix: use the symlink's destination path)");
    }
  }
  const auto& workspace = profile.workspace.target;
  const std::string workspace_origin = profile.file.string() + ":/workspace/target";
  if (workspace == "/" || is_under(workspace, "/proc") || is_under(workspace, "/dev"))
    throw ConfigError(workspace_origin + ": " + json(workspace).dump() + " is built by tierbox itself (fix: use e.g. /workspace)");
  for (const auto& mount : profile.mounts) {
    if (mount.target == workspace)
      throw ConfigError(workspace_origin + ": " + json(workspace).dump() + " is also the target of " + mount.origin +
                        " (fix: choose another workspace target)");
    if (mount.type != MountType::tmpfs && is_under(workspace, mount.target))
      throw ConfigError(workspace_origin + ": " + json(workspace).dump() + " lies inside the " + to_string(mount.type) +
                        " mount " + json(mount.target).dump() + " of " + mount.origin + " (fix: use a path outside it)");
  }
}

std::string sha256_hex(const std::string& bytes) {
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
  char hex[crypto_hash_sha256_BYTES * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
  return hex;
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
  validate_mounts(profile);
  validate_network(profile.network, file.string());
  validate_limits(profile.limits, file.string());
  validate_metadata(profile.metadata, file.string());
  validate_data_access(profile.data_access, file.string());
  check_final_fields(finals, profile);
  validate_secrets(profile);
  validate_widening(profile);
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
