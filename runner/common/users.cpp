#include "common/users.h"

#include <charconv>
#include <fstream>
#include <sstream>

namespace tierbox {
namespace {

std::vector<std::string> split(const std::string& line, char separator) {
  std::vector<std::string> fields;
  std::string field;
  std::istringstream in(line);
  while (std::getline(in, field, separator)) fields.push_back(field);
  if (!line.empty() && line.back() == separator) fields.emplace_back();
  return fields;
}

template <typename Fn>
void for_each_entry(const std::string& file, Fn&& fn) {
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    if (fn(split(line, ':'))) return;
  }
}

std::optional<unsigned> number(const std::string& text) {
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace

std::string user_name(uid_t uid, const std::string& passwd_file) {
  std::string name;
  for_each_entry(passwd_file, [&](const std::vector<std::string>& fields) {
    if (fields.size() < 3 || number(fields[2]) != uid) return false;
    name = fields[0];
    return true;
  });
  return name;
}

std::vector<UserHome> user_homes(const std::string& passwd_file) {
  std::vector<UserHome> homes;
  for_each_entry(passwd_file, [&](const std::vector<std::string>& fields) {
    auto uid = fields.size() >= 6 ? number(fields[2]) : std::nullopt;
    if (uid && !fields[5].empty() && fields[5][0] == '/') homes.push_back({fields[0], *uid, fields[5]});
    return false;
  });
  return homes;
}

std::optional<uid_t> user_id(const std::string& name, const std::string& passwd_file) {
  std::optional<uid_t> id;
  for_each_entry(passwd_file, [&](const std::vector<std::string>& fields) {
    if (fields.size() < 3 || fields[0] != name) return false;
    id = number(fields[2]);
    return true;
  });
  return id;
}

std::optional<gid_t> group_id(const std::string& name, const std::string& group_file) {
  std::optional<gid_t> id;
  for_each_entry(group_file, [&](const std::vector<std::string>& fields) {
    if (fields.size() < 3 || fields[0] != name) return false;
    id = number(fields[2]);
    return true;
  });
  return id;
}

std::optional<gid_t> primary_group(uid_t uid, const std::string& passwd_file) {
  std::optional<gid_t> gid;
  for_each_entry(passwd_file, [&](const std::vector<std::string>& fields) {
    if (fields.size() < 4 || number(fields[2]) != uid) return false;
    gid = number(fields[3]);
    return true;
  });
  return gid;
}

std::vector<std::string> group_members(const std::string& name, const std::string& group_file,
                                       const std::string& passwd_file) {
  std::vector<std::string> members;
  std::optional<gid_t> gid;
  for_each_entry(group_file, [&](const std::vector<std::string>& fields) {
    if (fields.size() < 3 || fields[0] != name) return false;
    gid = number(fields[2]);
    if (fields.size() >= 4)
      for (auto& member : split(fields[3], ','))
        if (!member.empty()) members.push_back(member);
    return true;
  });
  if (!gid) return members;
  for_each_entry(passwd_file, [&](const std::vector<std::string>& fields) {
    if (fields.size() >= 4 && number(fields[3]) == *gid) members.push_back(fields[0]);
    return false;
  });
  return members;
}

bool is_group_member(uid_t uid, const std::string& group, const std::string& group_file,
                     const std::string& passwd_file) {
  if (group.empty()) return false;
  const auto name = user_name(uid, passwd_file);
  if (name.empty()) return false;
  for (const auto& member : group_members(group, group_file, passwd_file))
    if (member == name) return true;
  return false;
}

}  // namespace tierbox
