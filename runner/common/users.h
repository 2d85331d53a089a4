// User and group names from /etc/passwd and /etc/group, read directly: the
// runner is a static binary, and glibc's NSS in a static binary would have to
// load the shared modules of a matching glibc at run time. Users that only a
// directory service knows (LDAP, sssd) show as their numeric id.
#pragma once

#include <sys/types.h>

#include <optional>
#include <utility>
#include <string>
#include <vector>

namespace tierbox {

std::string user_name(uid_t uid, const std::string& passwd_file = "/etc/passwd");
std::optional<uid_t> user_id(const std::string& name, const std::string& passwd_file = "/etc/passwd");
struct UserHome {
  std::string name;
  uid_t uid = 0;
  std::string home;
};
// Every passwd entry with an absolute home directory.
std::vector<UserHome> user_homes(const std::string& passwd_file = "/etc/passwd");
std::optional<gid_t> group_id(const std::string& name, const std::string& group_file = "/etc/group");
std::optional<gid_t> primary_group(uid_t uid, const std::string& passwd_file = "/etc/passwd");
// Names of the members of group `name` listed in /etc/group, plus users whose
// primary group it is.
std::vector<std::string> group_members(const std::string& name, const std::string& group_file = "/etc/group",
                                        const std::string& passwd_file = "/etc/passwd");
// Whether the user of uid is one of group_members(group); false for an empty
// group name or a uid without a passwd entry.
bool is_group_member(uid_t uid, const std::string& group, const std::string& group_file = "/etc/group",
                     const std::string& passwd_file = "/etc/passwd");

}  // namespace tierbox
