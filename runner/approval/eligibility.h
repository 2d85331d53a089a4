// Who may approve a request: pure rules over identities the kernel gave
// (the approver's uid from SO_PEERCRED or a key's recorded owner) and the
// group database.
//
//   - never the requester: not their uid, and not the user their SUDO_USER
//     names (SUDO_USER is only ever used to exclude more people, never to
//     admit anyone, so a forged one cannot help);
//   - never uid 0: root is not a person (anyone with sudo is root), so an
//     approver approves as their own user;
//   - a member of the rule's approver group (/etc/group, or their primary
//     group).
#pragma once

#include <string>
#include <vector>

#include "audit/audit_log.h"

namespace tierbox::approval {

// "" when approver may approve requester's request, else why not (one line).
std::string why_not_eligible(const audit::Identity& approver, const audit::Identity& requester,
                             const std::string& group, const std::vector<std::string>& group_members);

}  // namespace tierbox::approval
