// `hostname`, `pass_fds`, `user`, and who may use the tier: `allowed_users`,
// `allowed_groups` (sections/identity.h, policy/tier_access.h).
#include <algorithm>

#include "policy/json_reader.h"
#include "policy/profile.h"
#include "policy/sections/registry.h"

namespace tierbox::policy {
namespace {

using nlohmann::json;

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

void apply_identity(ProfileLayer& layer, Profile& profile) {
  auto& reader = layer.reader;
  if (auto hostname = reader.string("hostname")) {
    if (!is_valid_hostname(*hostname))
      reader.fail("hostname", "expected a host name of 1-63 letters, digits or '-', got " + json(*hostname).dump());
    profile.hostname = *hostname;
  }
  if (auto pass_fds = reader.unsigned_integer("pass_fds", 64)) profile.pass_fds = static_cast<std::uint32_t>(*pass_fds);
  if (auto user = reader.object("user")) apply_user(std::move(*user), profile.user);
  if (auto users = reader.string_array("allowed_users")) {
    for (const auto& name : *users)
      if (!is_valid_user_name(name))
        reader.fail("allowed_users", "expected user names matching [a-z_][a-z0-9_-]*, got " + json(name).dump());
    profile.allowed_users = *users;
  }
  if (auto groups = reader.string_array("allowed_groups")) {
    for (const auto& name : *groups)
      if (!is_valid_user_name(name))
        reader.fail("allowed_groups", "expected group names matching [a-z_][a-z0-9_-]*, got " + json(name).dump());
    profile.allowed_groups = *groups;
  }
}

}  // namespace

const ProfileSection& identity_section() {
  static const ProfileSection kSection{
      "identity",
      "process",
      {
          {"hostname", R"({"type": "string", "pattern": "^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$"})", R"("sandbox")",
           "the sandbox's host name", "Fields", true},
          {"pass_fds", R"({"type": "integer", "minimum": 0, "maximum": 64})", "0",
           "how many fds `run --pass-fd N` may pass to the task", "Passed fds"},
          {"user", nullptr, nullptr, "who the task runs as inside the sandbox", "Fields", true},
          {"user.uid", R"({"type": "integer", "minimum": 1, "maximum": 65533})", "1000",
           "the uid the task runs as inside (never 0)", "Fields"},
          {"user.gid", R"({"type": "integer", "minimum": 1, "maximum": 65533})", "1000",
           "the gid the task runs as inside (never 0)", "Fields"},
          {"user.name", R"({"type": "string", "pattern": "^[a-z_][a-z0-9_-]{0,31}$"})", R"("agent")",
           "the name in the generated /etc/passwd", "Fields"},
          {"user.home", R"({"$ref": "#/$defs/absolute_path"})", R"("/tmp")", "the home in /etc/passwd", "Fields"},
          {"allowed_users", R"({"type": "array", "items": {"type": "string", "pattern": "^[a-z_][a-z0-9_-]{0,31}$"}})", "[]",
           "users who may run the tier through the daemon (with allowed_groups; both empty: everyone)", "Who may use a tier"},
          {"allowed_groups", R"({"type": "array", "items": {"type": "string", "pattern": "^[a-z_][a-z0-9_-]{0,31}$"}})", "[]",
           "groups whose members may run the tier through the daemon (with allowed_users)", "Who may use a tier"},
      },
      apply_identity,
      nullptr,
  };
  return kSection;
}

}  // namespace tierbox::policy
