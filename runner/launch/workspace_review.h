// After the task: what it left in a writable workspace that git on the host
// would act on. A task can make a directory with a .git of its own, give it
// a config that runs a command (core.fsmonitor and the like), and register it
// in the index as a submodule (a gitlink): the developer's next `git status`
// then runs that command on the host. The index must stay writable (the task
// commits), so this cannot be refused in the sandbox; it is found here and
// reported (stderr, the audit trail's end record).
//
// Cheap when nothing changed: one fstatat of .git/index at launch and one at
// the end; the index is read only when it changed.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace tierbox::launch {

// .git/index of the workspace's own repository as it was before the task.
struct GitIndexStamp {
  bool present = false;
  dev_t device = 0;
  ino_t inode = 0;
  off_t size = 0;
  std::int64_t mtime_ns = 0;
  std::int64_t ctime_ns = 0;
  bool operator==(const GitIndexStamp&) const = default;
};

GitIndexStamp stamp_git_index(const std::string& workspace);

// Gitlinks of the workspace's index whose directory holds a repository of
// its own (a .git directory, or a .git file pointing anywhere but the
// superproject's .git/modules/, which tierbox protects): one line each,
// naming the path. Empty when the index is as before or has none. Never
// throws: a problem reading the index is reported as one line too.
std::vector<std::string> nested_repositories(const std::string& workspace, const GitIndexStamp& before);

// Pure: whether a gitfile's "gitdir: X" (X as written), for the gitlink at
// link_path (relative to the worktree), points into the worktree's
// .git/modules/. workspace is the worktree's canonical host path (git also
// accepts an absolute X).
bool gitdir_is_absorbed(const std::string& workspace, const std::string& link_path, const std::string& gitdir);

}  // namespace tierbox::launch
