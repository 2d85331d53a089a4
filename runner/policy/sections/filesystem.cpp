// `mounts`, `workspace` and `shm_size` (sections/filesystem.h).
#include <map>

#include "common/errors.h"
#include "policy/json_reader.h"
#include "policy/profile.h"
#include "policy/sections/registry.h"

namespace tierbox::policy {
namespace {

using nlohmann::json;

// Paths tierbox builds itself; a profile may not mount over or under them.
constexpr const char* kReservedTargets[] = {"/", "/proc", "/dev"};

bool is_under(const std::string& path, const std::string& dir) {
  if (dir == "/") return true;
  return path == dir || (path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 && path[dir.size()] == '/');
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
  if (auto staged = reader.boolean("staged")) workspace.staged = *staged;
  reader.finish();
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
  if (profile.workspace.staged && !profile.workspace.writable)
    throw ConfigError(profile.file.string() + ":/workspace/staged: true needs \"writable\": true (a staged workspace is "
                      "one the task writes into a layer of its own; fix: add \"writable\": true, or drop \"staged\")");
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

// An image tier's root holds the image and what tierbox makes, nothing of
// the host's: a tier bind (base.json's /usr) would put the host's tools back,
// so an image tier does not extend the host-bound base.
void validate_image_tier(const Profile& profile) {
  if (!profile.rootfs.is_image()) return;
  for (const auto& mount : profile.mounts)
    if (mount.type == MountType::bind)
      throw ConfigError(mount.origin + ": binds the host's " + mount.source + " into an image tier (rootfs " +
                        json(profile.rootfs.text()).dump() +
                        "); an image tier sees none of the host's trees (fix: do not extend base.json; see profiles/tiers/sealed.json)");
}

// The layer of a writable container root is a tmpfs (memory) whose size
// limits.disk gives: without it the tmpfs would take the kernel's default,
// half of RAM, which no reviewer chose.
void validate_container(const Profile& profile) {
  if (profile.container.writable_root && !profile.limits.disk.value)
    throw ConfigError(profile.file.string(), "/container/writable_root",
                      "true needs limits.disk, the size of the container's writable layer (a tmpfs: memory) "
                      "(fix: add \"limits\": {\"disk\": \"256M\"}, or drop writable_root)");
}

void validate_filesystem(const Profile& profile) {
  validate_mounts(profile);
  validate_image_tier(profile);
  validate_container(profile);
}

void apply_container(JsonObjectReader reader, ContainerSpec& container) {
  if (auto writable_root = reader.boolean("writable_root")) container.writable_root = *writable_root;
  reader.finish();
}

void apply_filesystem(ProfileLayer& layer, Profile& profile) {
  auto& reader = layer.reader;
  if (auto rootfs = reader.string("rootfs")) {
    auto parsed = parse_rootfs(*rootfs);
    if (!parsed)
      reader.fail("rootfs", "expected \"host\", \"image:NAME\" or \"image:NAME@sha256:<64 hex digits>\", got " +
                                json(*rootfs).dump() + " (fix: e.g. \"image:minimal\"; see docs/rootfs.md)");
    profile.rootfs = *parsed;
  }
  if (auto shm_size = reader.size("shm_size")) profile.shm_size_bytes = *shm_size;
  if (const auto* mounts = reader.array("mounts")) apply_mounts(*mounts, reader.file(), "/mounts", profile.mounts);
  if (auto workspace = reader.object("workspace")) apply_workspace(std::move(*workspace), profile.workspace);
  if (auto container = reader.object("container")) apply_container(std::move(*container), profile.container);
}

}  // namespace

std::optional<RootfsSpec> parse_rootfs(const std::string& text) {
  if (text == "host") return RootfsSpec{};
  constexpr std::string_view prefix = "image:";
  if (text.compare(0, prefix.size(), prefix) != 0) return std::nullopt;
  RootfsSpec spec;
  auto rest = text.substr(prefix.size());
  if (auto at = rest.find('@'); at != std::string::npos) {
    spec.pinned_digest = rest.substr(at + 1);
    rest = rest.substr(0, at);
    const auto hex = spec.pinned_digest.substr(std::min<std::size_t>(7, spec.pinned_digest.size()));
    if (spec.pinned_digest.rfind("sha256:", 0) != 0 || hex.size() != 64 ||
        hex.find_first_not_of("0123456789abcdef") != std::string::npos)
      return std::nullopt;
  }
  const bool valid_name = !rest.empty() && rest.size() <= 64 && rest.front() != '.' && rest.front() != '-' &&
                          rest.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") ==
                              std::string::npos;
  if (!valid_name) return std::nullopt;
  spec.image = rest;
  return spec;
}

const ProfileSection& filesystem_section() {
  static const ProfileSection kSection{
      "filesystem",
      "filesystem",
      {
          {"rootfs", R"({"type": "string", "pattern": "^(host|image:[A-Za-z0-9_][A-Za-z0-9._-]{0,63}(@sha256:[0-9a-f]{64})?)$"})",
           R"("host")", "what the root is built from: the tier's host mounts, or a store image, optionally pinned by digest",
           "Root filesystem", false},
          {"shm_size", R"({"$ref": "#/$defs/size"})", R"("16M")", "the size of the tmpfs at /dev/shm", "Fields", true},
          {"mounts", R"({"type": "array", "items": {"type": "object", "required": ["type", "target"],
              "properties": {"type": {"enum": ["bind", "tmpfs", "symlink"]}, "target": {"$ref": "#/$defs/absolute_path"},
                             "source": {"$ref": "#/$defs/absolute_path"}, "writable": {"type": "boolean"},
                             "optional": {"type": "boolean"}, "size": {"$ref": "#/$defs/size"},
                             "mode": {"anyOf": [{"type": "integer", "minimum": 0}, {"type": "string", "pattern": "^0*[0-7]{1,4}$"}]},
                             "link": {"type": "string", "minLength": 1}},
              "additionalProperties": false,
              "allOf": [{"if": {"properties": {"type": {"const": "bind"}}}, "then": {"required": ["source"]}},
                        {"if": {"properties": {"type": {"const": "tmpfs"}}}, "then": {"required": ["size"]}},
                        {"if": {"properties": {"type": {"const": "symlink"}}}, "then": {"required": ["link"]}}]}})",
           "[]", "what the new root holds, after the base's mounts", "Mounts", true},
          {"workspace", nullptr, nullptr, "where and how `run --workspace DIR` is bound", "Fields", true},
          {"workspace.target", R"({"$ref": "#/$defs/absolute_path"})", R"("/workspace")",
           "where the workspace is bound; the task starts there", "Fields", true},
          {"workspace.writable", R"({"type": "boolean"})", "false", "whether the task may write the workspace", "Fields", true},
          {"workspace.staged", R"({"type": "boolean"})", "false",
           "with writable: the task's writes land in a per-run layer a person reviews and applies", "Staged workspace", true},
          {"container", nullptr, nullptr, "what a container of `tierbox oci` may have beyond a plain run's root", "Containers", true},
          {"container.writable_root", R"({"type": "boolean"})", "false",
           "a container whose config.json has root.readonly false gets a writable root: an overlay on a per-container "
           "layer of limits.disk (required), discarded with the container",
           "Containers", true},
      },
      apply_filesystem,
      validate_filesystem,
  };
  return kSection;
}

}  // namespace tierbox::policy
