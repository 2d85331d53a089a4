#include "common/process_info.h"

#include <fcntl.h>
#include <unistd.h>

#include <charconv>
#include <string>

#include "common/unique_fd.h"

extern char** environ;

namespace tierbox {

std::optional<std::uint64_t> parse_process_start_time(std::string_view stat_text) {
  const auto paren = stat_text.rfind(')');
  if (paren == std::string_view::npos) return std::nullopt;
  // After ")": field 3 (state) is the first; starttime is field 22.
  std::string_view rest = stat_text.substr(paren + 1);
  for (int field = 3; field <= 22; ++field) {
    const auto start = rest.find_first_not_of(' ');
    if (start == std::string_view::npos) return std::nullopt;
    rest = rest.substr(start);
    const auto end = rest.find_first_of(" \n");
    const auto word = rest.substr(0, end);
    if (field == 22) {
      std::uint64_t value = 0;
      auto [next, ec] = std::from_chars(word.data(), word.data() + word.size(), value);
      if (ec != std::errc() || next != word.data() + word.size()) return std::nullopt;
      return value;
    }
    if (end == std::string_view::npos) return std::nullopt;
    rest = rest.substr(end);
  }
  return std::nullopt;
}

std::optional<std::uint64_t> process_start_time(pid_t pid) {
  const auto path = "/proc/" + std::to_string(pid) + "/stat";
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return std::nullopt;
  char buffer[1024];
  ssize_t n;
  do {
    n = ::read(fd.get(), buffer, sizeof buffer);
  } while (n < 0 && errno == EINTR);
  if (n <= 0) return std::nullopt;
  return parse_process_start_time(std::string_view(buffer, static_cast<std::size_t>(n)));
}

std::map<std::string, std::string> environment_of_this_process() {
  std::map<std::string, std::string> env;
  for (char** entry = environ; entry && *entry; ++entry) {
    const std::string_view text(*entry);
    const auto equals = text.find('=');
    if (equals != std::string_view::npos) env.emplace(std::string(text.substr(0, equals)), std::string(text.substr(equals + 1)));
  }
  return env;
}

}  // namespace tierbox
