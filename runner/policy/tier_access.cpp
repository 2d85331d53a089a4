#include "policy/tier_access.h"

#include <algorithm>

namespace tierbox::policy {

std::string tier_access_refusal(const Profile& profile, const CallerIdentity& caller,
                                const std::function<std::optional<gid_t>(const std::string&)>& group_id) {
  if (caller.uid == 0) return "";
  if (profile.allowed_users.empty() && profile.allowed_groups.empty()) return "";
  const auto& users = profile.allowed_users;
  if (!caller.user_name.empty() && std::find(users.begin(), users.end(), caller.user_name) != users.end()) return "";
  for (const auto& group : profile.allowed_groups) {
    const auto gid = group_id(group);
    if (!gid) continue;
    if (caller.gid == *gid || std::find(caller.groups.begin(), caller.groups.end(), *gid) != caller.groups.end())
      return "";
  }
  const std::string who = caller.user_name.empty() ? "uid " + std::to_string(caller.uid) : caller.user_name;
  return "tier '" + profile.name + "' may not be used by " + who +
         " (allowed_users, allowed_groups of " + profile.file.string() + "; fix: ask its owner to add you, or use another tier)";
}

}  // namespace tierbox::policy
