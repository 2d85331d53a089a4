// Reading git's index file (.git/index) for its gitlinks: the entries of mode
// 160000 that register a nested repository as a submodule. Pure: takes the
// file's bytes, makes no system call. Versions 2, 3 and 4 (path prefix
// compression), SHA-1 and SHA-256 repositories (told apart by which hash size
// makes the file parse to its end).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace tierbox::policy {

struct GitIndexLinks {
  std::vector<std::string> gitlinks;  // paths relative to the worktree, as git stores them
  std::string error;                  // "" when the file parsed; else what is wrong with it
};

GitIndexLinks read_gitlinks(std::string_view index);

}  // namespace tierbox::policy
