#include "common/mount_points.h"

namespace tierbox {
namespace {

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape(std::string_view field) {
  std::string out;
  for (std::size_t i = 0; i < field.size(); ++i) {
    const auto octal = [&](std::size_t at) { return at < field.size() && field[at] >= '0' && field[at] <= '7'; };
    if (field[i] == '\\' && octal(i + 1) && octal(i + 2) && octal(i + 3)) {
      out += static_cast<char>((field[i + 1] - '0') * 64 + (field[i + 2] - '0') * 8 + (field[i + 3] - '0'));
      i += 3;
    } else {
      out += field[i];
    }
  }
  return out;
}

bool strictly_below(const std::string& path, const std::string& directory) {
  if (directory == "/") return path.size() > 1 && path.front() == '/';
  return path.size() > directory.size() && path.compare(0, directory.size(), directory) == 0 &&
         path[directory.size()] == '/';
}

}  // namespace

std::vector<std::string> mount_points_below(std::string_view mountinfo, const std::string& directory) {
  std::vector<std::string> points;
  while (!mountinfo.empty()) {
    const auto end = mountinfo.find('\n');
    auto line = mountinfo.substr(0, end);
    mountinfo.remove_prefix(end == std::string_view::npos ? mountinfo.size() : end + 1);
    // "36 35 98:0 /mnt1 /mnt/parent rw,noatime master:1 - ext3 /dev/root rw": the fifth field.
    for (int field = 0; field < 4 && !line.empty(); ++field) {
      const auto space = line.find(' ');
      line.remove_prefix(space == std::string_view::npos ? line.size() : space + 1);
    }
    auto point = unescape(line.substr(0, line.find(' ')));
    if (strictly_below(point, directory)) points.push_back(std::move(point));
  }
  return points;
}

}  // namespace tierbox
