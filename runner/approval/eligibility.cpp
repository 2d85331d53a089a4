#include "approval/eligibility.h"

#include <algorithm>

namespace tierbox::approval {

std::string why_not_eligible(const audit::Identity& approver, const audit::Identity& requester,
                             const std::string& group, const std::vector<std::string>& group_members) {
  const std::string who = approver.name.empty() ? "uid " + std::to_string(approver.uid) : approver.name;
  if (approver.uid == requester.uid)
    return who + " filed this request: a requester cannot approve their own request";
  if (!requester.sudo_user.empty() && approver.name == requester.sudo_user)
    return who + " filed this request (through sudo, as " + (requester.name.empty() ? "root" : requester.name) +
           "): a requester cannot approve their own request";
  if (approver.uid == 0)
    return "uid 0 is not a person (anyone with sudo is root): approve as your own user, without sudo";
  if (approver.name.empty() || std::find(group_members.begin(), group_members.end(), approver.name) == group_members.end())
    return who + " is not in the approver group '" + group + "'";
  return "";
}

}  // namespace tierbox::approval
