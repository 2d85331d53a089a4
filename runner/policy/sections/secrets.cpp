#include "policy/sections/secrets.h"

#include <algorithm>

#include "common/errors.h"
#include "policy/json_reader.h"
#include "policy/profile.h"
#include "policy/sections/registry.h"
#include "policy/profile.h"

namespace tierbox::policy {
namespace {

using nlohmann::json;

bool is_under(const std::string& path, const std::string& dir) {
  if (dir == "/") return true;
  return path == dir || (path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 && path[dir.size()] == '/');
}

void check_names(JsonObjectReader& reader, const std::string& key, const std::vector<std::string>& names) {
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (!is_valid_secret_name(names[i]))
      throw ConfigError(reader.file(), json_pointer_append(reader.pointer_of(key), i),
                        "expected a secret name ([A-Za-z0-9][A-Za-z0-9._-]*, at most 64), got " + json(names[i]).dump());
  }
}

}  // namespace

bool is_valid_secret_name(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  const auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); };
  if (!alnum(name[0])) return false;
  return std::all_of(name.begin(), name.end(), [&](char c) { return alnum(c) || c == '.' || c == '_' || c == '-'; });
}

void apply_secrets(JsonObjectReader reader, SecretsSpec& spec) {
  if (auto target = reader.absolute_path("target")) spec.target = *target;
  if (auto names = reader.string_array("names")) {
    check_names(reader, "names", *names);
    spec.names = *names;
  }
  if (auto required = reader.string_array("required")) {
    check_names(reader, "required", *required);
    for (std::size_t i = 0; i < required->size(); ++i) {
      if (std::find(spec.names.begin(), spec.names.end(), (*required)[i]) == spec.names.end())
        throw ConfigError(reader.file(), json_pointer_append(reader.pointer_of("required"), i),
                          json((*required)[i]).dump() + " is not in secrets.names (fix: add it there)");
    }
    spec.required = *required;
  }
  reader.finish();
}

void validate_secrets(const Profile& profile) {
  const auto& secrets = profile.secrets;
  if (secrets.names.empty()) return;
  const std::string where = profile.file.string() + ":/secrets/target";
  const auto& target = secrets.target;
  for (const char* reserved : {"/proc", "/dev"}) {
    if (target == "/" || is_under(target, reserved))
      throw ConfigError(where + ": " + json(target).dump() + " is built by tierbox itself (fix: use e.g. /run/secrets)");
  }
  if (is_under(target, profile.workspace.target) || is_under(profile.workspace.target, target))
    throw ConfigError(where + ": " + json(target).dump() + " overlaps the workspace " + json(profile.workspace.target).dump() +
                      " (fix: use e.g. /run/secrets)");
  for (const auto& mount : profile.mounts) {
    // Inside a tmpfs is fine (the directory is made on it); a bind is the
    // host's content, a symlink leads elsewhere.
    const bool inside = is_under(target, mount.target) && (mount.type != MountType::tmpfs || target == mount.target);
    if (inside || is_under(mount.target, target))
      throw ConfigError(where + ": " + json(target).dump() + " collides with the " + to_string(mount.type) + " mount " +
                        json(mount.target).dump() + " of " + mount.origin + " (fix: use a path of its own, e.g. /run/secrets)");
  }
}

namespace {

void apply_secrets_layer(ProfileLayer& layer, Profile& profile) {
  if (auto secrets = layer.reader.object("secrets")) apply_secrets(std::move(*secrets), profile.secrets);
}

}  // namespace

// Reviewed by the filesystem section (review/filesystem.cpp: a new name
// widens).
const ProfileSection& secrets_section() {
  static const ProfileSection kSection{
      "secrets",
      "filesystem",
      {
          {"secrets", nullptr, nullptr, "which secrets a caller may hand to the task, and where it finds them", "Secrets"},
          {"secrets.target", R"({"$ref": "#/$defs/absolute_path"})", R"("/run/secrets")",
           "the directory the secret files appear in", "Secrets"},
          {"secrets.names", R"({"type": "array", "items": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"}})",
           "[]", "secrets a caller may give; none: no secrets directory", "Secrets"},
          {"secrets.required", R"({"type": "array", "items": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"}})",
           "[]", "secrets every launch must be given (from secrets.names)", "Secrets"},
      },
      apply_secrets_layer,
      validate_secrets,
  };
  return kSection;
}

}  // namespace tierbox::policy
