// Who may use a tier: its `allowed_users` and `allowed_groups`. Pure: the
// caller's identity comes with the request (from the kernel, for the
// daemon's callers), and group names are resolved by the caller of this.
#pragma once

#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>

#include "policy/profile.h"
#include "policy/request.h"

namespace tierbox::policy {

// "" when caller may use the tier, else the refusal's text naming the
// fields. Root may always (it can edit the tier anyway); both lists empty
// lets everyone. group_id resolves a group name (nullopt: no such group).
std::string tier_access_refusal(const Profile& profile, const CallerIdentity& caller,
                                const std::function<std::optional<gid_t>(const std::string&)>& group_id);

}  // namespace tierbox::policy
