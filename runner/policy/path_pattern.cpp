#include "policy/path_pattern.h"

#include <algorithm>

namespace tierbox::policy {
namespace {

// Bounds that no real pattern comes near; they keep matching cheap on
// hostile input (the fuzzer feeds the loader anything).
constexpr std::size_t kMaxPatternLength = 4096;
constexpr std::size_t kMaxComponents = 128;

bool is_user_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
}

bool anchor_allowed(PatternAnchor anchor, const std::vector<PatternAnchor>& allowed) {
  return std::find(allowed.begin(), allowed.end(), anchor) != allowed.end();
}

const char* describe(PatternAnchor anchor) {
  switch (anchor) {
    case PatternAnchor::absolute: return "an absolute path (/...)";
    case PatternAnchor::home: return "a path in home directories (~/...)";
    case PatternAnchor::anywhere: return "a pattern matching anywhere (**/...)";
    case PatternAnchor::relative: return "a path relative to the mount (e.g. .git/hooks)";
  }
  return "?";
}

std::string allowed_forms(const std::vector<PatternAnchor>& allowed) {
  std::string text;
  for (auto anchor : allowed) text += (text.empty() ? "" : " or ") + std::string(describe(anchor));
  return text;
}

}  // namespace

bool PathPattern::has_wildcards() const {
  if (anchor == PatternAnchor::anywhere || anchor == PatternAnchor::home) return true;
  return std::any_of(components.begin(), components.end(),
                     [](const auto& part) { return part.find_first_of("*?") != std::string::npos; });
}

std::vector<std::string> path_components(std::string_view path) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (start <= path.size()) {
    auto end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    if (end > start) parts.emplace_back(path.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

std::string join_components(const std::vector<std::string>& components, std::size_t count, bool absolute) {
  std::string path;
  for (std::size_t i = 0; i < count && i < components.size(); ++i)
    path += (i == 0 && !absolute ? "" : "/") + components[i];
  return path.empty() && absolute ? "/" : path;
}

std::optional<PathPattern> parse_path_pattern(std::string_view text, std::vector<PatternAnchor> allowed,
                                              std::string* error) {
  const auto fail = [&](const std::string& why) -> std::optional<PathPattern> {
    if (error) *error = why;
    return std::nullopt;
  };
  if (text.empty()) return fail("empty pattern");
  if (text.size() > kMaxPatternLength) return fail("pattern longer than 4096 characters");
  if (text.find('\0') != std::string_view::npos) return fail("pattern contains a NUL byte");
  PathPattern pattern;
  pattern.text = std::string(text);
  std::string_view rest = text;
  if (rest.size() > 1 && rest.back() == '/') {
    pattern.directory = true;
    rest.remove_suffix(1);
  }
  if (rest.front() == '/') {
    pattern.anchor = PatternAnchor::absolute;
  } else if (rest.front() == '~') {
    pattern.anchor = PatternAnchor::home;
    auto slash = rest.find('/');
    pattern.home_user = std::string(rest.substr(1, slash == std::string_view::npos ? rest.size() - 1 : slash - 1));
    if (!std::all_of(pattern.home_user.begin(), pattern.home_user.end(), is_user_name_char))
      return fail("expected ~/ or ~USER/ at the start, got " + std::string(text));
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
  } else if (rest == "**" || rest.substr(0, 3) == "**/") {
    pattern.anchor = PatternAnchor::anywhere;
    rest = rest.size() > 2 ? rest.substr(2) : std::string_view();
    if (rest.empty()) return fail("\"**\" alone matches everything (fix: name what it should match, e.g. **/.env)");
  } else {
    pattern.anchor = PatternAnchor::relative;
  }
  if (!anchor_allowed(pattern.anchor, allowed))
    return fail("expected " + allowed_forms(allowed) + ", got \"" + std::string(text) + "\"");
  if (rest.find("//") != std::string_view::npos) return fail("empty path component (//) in \"" + std::string(text) + "\"");
  pattern.components = path_components(rest);
  if (pattern.components.size() > kMaxComponents) return fail("pattern has more than 128 components");
  for (const auto& part : pattern.components) {
    if (part == "." || part == "..") return fail("\".\" and \"..\" are not allowed in \"" + std::string(text) + "\"");
    if (part.find("**") != std::string::npos)
      return fail("\"**\" is only allowed as the first component (**/name), in \"" + std::string(text) + "\"");
  }
  if (pattern.anchor == PatternAnchor::relative && pattern.components.empty())
    return fail("empty relative path");
  return pattern;
}

bool component_matches(std::string_view pattern, std::string_view name) {
  // Iterative glob with one backtrack point: linear-ish, no recursion.
  std::size_t p = 0, n = 0, star = std::string_view::npos, resume = 0;
  while (n < name.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = n;
    } else if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == name[n])) {
      ++p;
      ++n;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      n = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool components_match(const std::vector<std::string>& pattern, const std::vector<std::string>& path) {
  if (pattern.size() != path.size()) return false;
  for (std::size_t i = 0; i < pattern.size(); ++i)
    if (!component_matches(pattern[i], path[i])) return false;
  return true;
}

bool suffix_matches(const std::vector<std::string>& pattern, const std::vector<std::string>& path) {
  if (pattern.size() > path.size()) return false;
  const std::size_t offset = path.size() - pattern.size();
  for (std::size_t i = 0; i < pattern.size(); ++i)
    if (!component_matches(pattern[i], path[offset + i])) return false;
  return true;
}

bool is_same_or_under(std::string_view path, std::string_view dir) {
  if (dir == "/") return !path.empty() && path.front() == '/';
  return path == dir || (path.size() > dir.size() && path.substr(0, dir.size()) == dir && path[dir.size()] == '/');
}

bool is_strictly_under(std::string_view path, std::string_view dir) {
  return path != dir && is_same_or_under(path, dir);
}

}  // namespace tierbox::policy
