#include "policy/sections/seccomp.h"

#include <algorithm>

#include "common/errors.h"
#include "policy/json_reader.h"
#include "policy/profile.h"
#include "policy/sections/registry.h"
#include "policy/seccomp_groups.h"

namespace tierbox::policy {
namespace {

using nlohmann::json;

SeccompAction parse_action(JsonObjectReader& reader, const std::string& key, bool allow_log) {
  const auto text = *reader.string(key);
  if (text == "errno:EPERM") return {SeccompAction::Kind::error, EPERM};
  if (text == "errno:ENOSYS") return {SeccompAction::Kind::error, ENOSYS};
  if (text == "kill_process") return {SeccompAction::Kind::kill_process, 0};
  if (allow_log && text == "log") return {SeccompAction::Kind::log, 0};
  reader.fail(key, std::string("expected \"errno:EPERM\", \"errno:ENOSYS\", \"kill_process\"") +
                       (allow_log ? " or \"log\"" : "") + ", got " + json(text).dump());
}

std::string known_groups() {
  std::string names;
  for (const auto& group : syscall_groups()) names += (names.empty() ? "" : ", ") + std::string(group.name);
  return names;
}

std::string known_items() {
  std::string names;
  for (const auto& item : always_blocked_items()) names += (names.empty() ? "" : ", ") + std::string(item.id);
  return names;
}

// Each entry: a known "@group" or a syscall libseccomp knows.
void check_names(JsonObjectReader& reader, const std::string& key, const std::vector<std::string>& names) {
  for (std::size_t i = 0; i < names.size(); ++i) {
    const auto& name = names[i];
    const auto where = json_pointer_append(reader.pointer_of(key), i);
    if (!name.empty() && name.front() == '@') {
      if (!find_syscall_group(name))
        throw ConfigError(reader.file(), where, "unknown syscall group " + json(name).dump() + " (known: " + known_groups() + ")");
    } else if (!is_known_syscall(name)) {
      throw ConfigError(reader.file(), where,
                        "unknown syscall " + json(name).dump() + " (fix: check the spelling; groups start with @)");
    }
  }
}

// Naming an always-blocked syscall in `allow` would look like it works and
// silently not: the opt-in must be explicit, in allow_dangerous.
void check_allow(JsonObjectReader& reader, const std::vector<std::string>& names,
                 const std::vector<std::string>& opted_in) {
  for (std::size_t i = 0; i < names.size(); ++i) {
    const auto* item = blocked_item_of_syscall(names[i]);
    if (item && std::find(opted_in.begin(), opted_in.end(), item->id) == opted_in.end())
      throw ConfigError(reader.file(), json_pointer_append(reader.pointer_of("allow"), i),
                        json(names[i]).dump() + " is always blocked (" + std::string(item->description) +
                            "; fix: remove it, or opt in with \"allow_dangerous\": [\"" + std::string(item->id) + "\"])");
  }
}

// tierbox's own init and the start of the task need these once the filter is
// in place; denying one would break every launch of the tier.
void check_deny(JsonObjectReader& reader, const char* key, const std::vector<std::string>& names) {
  const auto runtime = runtime_syscalls();
  for (std::size_t i = 0; i < names.size(); ++i) {
    for (const auto& syscall : expand_syscall_names(names[i])) {
      if (std::find(runtime.begin(), runtime.end(), syscall) == runtime.end()) continue;
      throw ConfigError(reader.file(), json_pointer_append(reader.pointer_of(key), i),
                        json(names[i]).dump() + " denies " + syscall +
                            ", which tierbox's init needs to start and supervise the task (fix: deny the other syscalls by name)");
    }
  }
}

void check_items(JsonObjectReader& reader, const std::vector<std::string>& ids) {
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (!find_blocked_item(ids[i]))
      throw ConfigError(reader.file(), json_pointer_append(reader.pointer_of("allow_dangerous"), i),
                        "unknown always-blocked item " + json(ids[i]).dump() + " (known: " + known_items() + ")");
  }
}

}  // namespace

std::string to_string(const SeccompAction& action) {
  switch (action.kind) {
    case SeccompAction::Kind::allow: return "allow";
    case SeccompAction::Kind::kill_process: return "kill_process";
    case SeccompAction::Kind::log: return "log";
    case SeccompAction::Kind::error: return "errno:" + errno_name(action.error_number);
  }
  return "?";
}

void apply_seccomp(JsonObjectReader reader, SeccompSpec& spec) {
  if (reader.has("default_action")) spec.default_action = parse_action(reader, "default_action", true);
  if (reader.has("deny_action")) spec.deny_action = parse_action(reader, "deny_action", false);
  // allow_dangerous first: `allow` may name what it opts in to.
  if (auto items = reader.string_array("allow_dangerous")) {
    check_items(reader, *items);
    spec.allow_dangerous = *items;
  }
  if (auto allow = reader.string_array("allow")) {
    check_names(reader, "allow", *allow);
    check_allow(reader, *allow, spec.allow_dangerous);
    spec.allow = *allow;
  }
  if (auto deny = reader.string_array("deny")) {
    check_names(reader, "deny", *deny);
    check_deny(reader, "deny", *deny);
    spec.deny = *deny;
  }
  // `deny+`: added to the list in effect (the base's, or this file's `deny`),
  // so a tier denies more without repeating its base's list and falling
  // behind when the base's grows.
  if (auto more = reader.string_array("deny+")) {
    check_names(reader, "deny+", *more);
    check_deny(reader, "deny+", *more);
    for (const auto& name : *more)
      if (std::find(spec.deny.begin(), spec.deny.end(), name) == spec.deny.end()) spec.deny.push_back(name);
  }
  if (auto log = reader.boolean("log_denials")) spec.log_denials = *log;
  if (auto count = reader.boolean("count_denials")) spec.count_denials = *count;
  reader.finish();
  // The counter answers for the x86_64 table only.
  if (spec.count_denials && std::find(spec.allow_dangerous.begin(), spec.allow_dangerous.end(), "foreign_abi") !=
                                spec.allow_dangerous.end())
    reader.fail("count_denials", "cannot be combined with allow_dangerous \"foreign_abi\" (fix: drop one of them)");
}

namespace {

void apply_seccomp_layer(ProfileLayer& layer, Profile& profile) {
  if (auto seccomp = layer.reader.object("seccomp")) apply_seccomp(std::move(*seccomp), profile.seccomp);
}

}  // namespace

const ProfileSection& seccomp_section() {
  static const ProfileSection kSection{
      "seccomp",
      "kernel",
      {
          {"seccomp", nullptr, nullptr, "which system calls the task may make (docs/seccomp.md)", "Fields", true},
          {"seccomp.default_action", R"({"enum": ["errno:ENOSYS", "errno:EPERM", "kill_process", "log"]})",
           R"("errno:ENOSYS")", "what a syscall outside seccomp.allow gets", "Fields"},
          {"seccomp.deny_action", R"({"enum": ["errno:EPERM", "errno:ENOSYS", "kill_process"]})", R"("errno:EPERM")",
           "what seccomp.deny and the always-blocked syscalls get", "Fields"},
          {"seccomp.allow", R"({"$ref": "#/$defs/names"})", R"(["@system-service"])",
           "syscall names and @groups the task may make", "Fields"},
          {"seccomp.deny", R"({"$ref": "#/$defs/names"})", nullptr,
           "syscalls and @groups taken out of allow (default: the privileged groups, as base.json)", "Fields"},
          {"seccomp.deny+", R"({"$ref": "#/$defs/names"})", nullptr, "added to seccomp.deny as the base left it", "Fields"},
          {"seccomp.allow_dangerous", R"({"$ref": "#/$defs/names"})", "[]", "always-blocked item ids the tier opts in to",
           "Fields"},
          {"seccomp.log_denials", R"({"type": "boolean"})", "false", "the kernel logs every denial", "Fields"},
          {"seccomp.count_denials", R"({"type": "boolean"})", "false", "tierbox counts denials per syscall", "Fields"},
      },
      apply_seccomp_layer,
      nullptr,
  };
  return kSection;
}

}  // namespace tierbox::policy
