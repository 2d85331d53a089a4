// Path patterns of the data-class inventory and of protected paths:
//
//   /etc/shadow        one absolute path (and everything below it)
//   /home/*/.ssh       `*` and `?` match within one component; `*` also
//                      matches a leading dot (unlike the shell)
//   ~/.ssh, ~bob/.aws  below every home directory in /etc/passwd, or bob's
//   **/.env*           anywhere: the last components of a path match
//
// `**` is only allowed as the first component. Patterns are pure data; what
// `~` stands for is supplied by the caller (the home directories it found).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tierbox::policy {

enum class PatternAnchor {
  absolute,   // "/etc/shadow"
  home,       // "~/.ssh" (every home) or "~bob/.ssh" (home_user)
  anywhere,   // "**/.env*"
  relative,   // ".git/hooks": relative to the root of a tree (protected paths)
};

struct PathPattern {
  std::string text;                     // as written
  PatternAnchor anchor = PatternAnchor::absolute;
  std::string home_user;                // "~bob/...": "bob"; "~/...": ""
  std::vector<std::string> components;  // after the anchor ("**" and "~x" removed)
  bool directory = false;               // written with a trailing '/'

  [[nodiscard]] bool has_wildcards() const;
};

// Parses a pattern; returns the reason it is invalid in *error. Accepted
// anchors are given by the caller (inventory: absolute, home, anywhere;
// protected paths: relative, anywhere).
std::optional<PathPattern> parse_path_pattern(std::string_view text, std::vector<PatternAnchor> allowed,
                                              std::string* error);

// `*` and `?` within one component.
bool component_matches(std::string_view pattern, std::string_view name);

// Splits "/a/b" or "a/b" into {"a", "b"}.
std::vector<std::string> path_components(std::string_view path);
std::string join_components(const std::vector<std::string>& components, std::size_t count, bool absolute = true);

// Whether the path's components are matched by an absolute list of pattern
// components exactly (same length).
bool components_match(const std::vector<std::string>& pattern, const std::vector<std::string>& path);
// Anywhere patterns: the last pattern.size() components of path match.
bool suffix_matches(const std::vector<std::string>& pattern, const std::vector<std::string>& path);

// Whether path == dir or path lies below dir (lexically; both normalized).
bool is_same_or_under(std::string_view path, std::string_view dir);
bool is_strictly_under(std::string_view path, std::string_view dir);

}  // namespace tierbox::policy
