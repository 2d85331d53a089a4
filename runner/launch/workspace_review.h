// After the task: what it left in a writable workspace that git on the host
// would act on. Two things git runs from files the task may write (the
// index, the rest of .git/ but its protected entries):
// - a nested repository registered as a submodule: a directory with a .git
//   of its own whose config runs a command (core.fsmonitor and the like),
//   added to the index as a gitlink; the developer's next `git status` runs
//   that command on the host;
// - a rebase or cherry-pick left "in progress" whose todo list has exec
//   lines: `git rebase --continue` runs them.
// The index must stay writable (the task commits) and the task may rebase,
// so neither can be refused in the sandbox; both are found here and reported
// (stderr, the run's result, the audit trail's end record).
//
// Cheap when nothing changed: one fstatat per file at launch and at the end;
// a file is read only when it changed.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace tierbox::launch {

// A file of the workspace's own repository as it was before the task.
struct FileStamp {
  bool present = false;
  dev_t device = 0;
  ino_t inode = 0;
  off_t size = 0;
  std::int64_t mtime_ns = 0;
  std::int64_t ctime_ns = 0;
  bool operator==(const FileStamp&) const = default;
};

struct GitStateStamp {
  FileStamp index;         // .git/index
  FileStamp rebase_todo;   // .git/rebase-merge/git-rebase-todo
  FileStamp sequencer_todo;  // .git/sequencer/todo (cherry-pick, revert)
};

// The workspace's own repository only: a .git file (a linked worktree) keeps
// its state outside the workspace, where the task cannot write.
GitStateStamp stamp_git_state(const std::string& workspace);

struct WorkspaceWarning {
  enum class Kind { nested_repository, pending_commands };
  Kind kind;
  std::string text;  // one line, naming the path
};

// What changed since before and git would run: gitlinks whose directory
// holds a repository of its own (a .git directory, or a .git file pointing
// anywhere but the superproject's .git/modules/, which tierbox protects),
// and todo lists with exec lines. Never throws: a file that changed but
// cannot be read safely is reported too.
std::vector<WorkspaceWarning> review_workspace(const std::string& workspace, const GitStateStamp& before);

// Pure: the commands of a rebase or sequencer todo list ("exec CMD" or
// "x CMD" lines; comments and other commands skipped).
std::vector<std::string> todo_commands(const std::string& todo);

// Pure: whether a gitfile's "gitdir: X" (X as written), for the gitlink at
// link_path (relative to the worktree), points into the worktree's
// .git/modules/. workspace is the worktree's canonical host path (git also
// accepts an absolute X).
bool gitdir_is_absorbed(const std::string& workspace, const std::string& link_path, const std::string& gitdir);

}  // namespace tierbox::launch
