#include "launch/workspace_review.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/errors.h"
#include "common/unique_fd.h"
#include "policy/git_index.h"
#include "policy/path_pattern.h"

namespace tierbox::launch {
namespace {

// A larger index (a monorepo's) is not read at the end of every run.
constexpr off_t kMaxIndexBytes = 64 << 20;
constexpr std::size_t kMaxGitfileBytes = 4096;
constexpr off_t kMaxTodoBytes = 1 << 20;
constexpr const char* kIndex = ".git/index";
constexpr const char* kRebaseTodo = ".git/rebase-merge/git-rebase-todo";
constexpr const char* kSequencerTodo = ".git/sequencer/todo";

// Below the workspace only, following no symlink: the task controls every
// name there, and the runner is root.
int open_beneath(int root, const std::string& path, int flags) {
  struct open_how how {};
  how.flags = static_cast<std::uint64_t>(flags | O_CLOEXEC | O_NOFOLLOW);
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
  return static_cast<int>(::syscall(SYS_openat2, root, path.c_str(), &how, sizeof how));
}

std::int64_t nanoseconds(const struct timespec& time) {
  return static_cast<std::int64_t>(time.tv_sec) * 1'000'000'000 + time.tv_nsec;
}

// Reads a regular file of at most limit bytes through fd; false when it is
// something else (a FIFO would block the runner) or larger.
bool read_regular(int fd, off_t limit, std::string& out) {
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > limit) return false;
  out.resize(static_cast<std::size_t>(st.st_size));
  std::size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = ::pread(fd, out.data() + done, out.size() - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<std::size_t>(n);
  }
  out.resize(done);
  return true;
}

FileStamp stamp_file(const std::string& path) {
  FileStamp stamp;
  struct stat st {};
  if (::fstatat(AT_FDCWD, path.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return stamp;
  stamp.present = true;
  stamp.device = st.st_dev;
  stamp.inode = st.st_ino;
  stamp.size = st.st_size;
  stamp.mtime_ns = nanoseconds(st.st_mtim);
  stamp.ctime_ns = nanoseconds(st.st_ctim);
  return stamp;
}

std::vector<std::string> nested_repositories(int root, const std::string& workspace) {
  std::vector<std::string> found;
  UniqueFd index_fd(open_beneath(root, kIndex, O_RDONLY | O_NONBLOCK));
  std::string index;
  if (!index_fd || !read_regular(index_fd.get(), kMaxIndexBytes, index))
    return {".git/index changed but could not be read (not a regular file of at most 64 MiB); check `git diff --cached` for new submodules before running git here"};
  const auto links = policy::read_gitlinks(index);
  if (!links.error.empty())
    return {".git/index changed but could not be read (" + links.error + "); check `git diff --cached` for new submodules before running git here"};
  for (const auto& link : links.gitlinks) {
    UniqueFd dot_git(open_beneath(root, link + "/.git", O_PATH));
    if (!dot_git) {
      // Not populated: git does not go in. Anything else (a symlink on the
      // way) is reported.
      if (errno == ENOENT || errno == ENOTDIR) continue;
      found.push_back(link + ": its .git cannot be checked safely (" + std::string(std::strerror(errno)) + ")");
      continue;
    }
    struct stat st {};
    if (::fstat(dot_git.get(), &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      found.push_back(link + ": a git repository of its own (" + link + "/.git), registered as a submodule");
      continue;
    }
    UniqueFd file(open_beneath(root, link + "/.git", O_RDONLY | O_NONBLOCK));
    std::string text;
    if (!file || !read_regular(file.get(), kMaxGitfileBytes, text) || text.compare(0, 8, "gitdir: ") != 0) {
      found.push_back(link + ": " + link + "/.git is not a directory or a gitdir file git would accept as safe");
      continue;
    }
    std::string gitdir = text.substr(8);
    while (!gitdir.empty() && (gitdir.back() == '\n' || gitdir.back() == '\r')) gitdir.pop_back();
    if (!gitdir_is_absorbed(workspace, link, gitdir))
      found.push_back(link + ": its .git points to " + gitdir + ", outside this repository's .git/modules/");
  }
  return found;
}

std::vector<std::string> pending_commands(int root, const char* todo_path, const char* how) {
  UniqueFd fd(open_beneath(root, todo_path, O_RDONLY | O_NONBLOCK));
  std::string todo;
  if (!fd) return {};  // gone again: nothing in progress
  if (!read_regular(fd.get(), kMaxTodoBytes, todo))
    return {std::string(todo_path) + ": changed but could not be read (not a regular file of at most 1 MiB); check it before " + how};
  const auto commands = todo_commands(todo);
  if (commands.empty()) return {};
  std::string listed;
  for (std::size_t i = 0; i < commands.size() && i < 3; ++i) listed += (i ? "; " : "") + commands[i];
  if (commands.size() > 3) listed += "; and " + std::to_string(commands.size() - 3) + " more";
  return {std::string(todo_path) + ": left in progress with " + std::to_string(commands.size()) + " exec line" +
          (commands.size() == 1 ? "" : "s") + " (" + listed + "): " + how + " on this host would run them"};
}

}  // namespace

GitStateStamp stamp_git_state(const std::string& workspace) {
  return {stamp_file(workspace + "/" + kIndex), stamp_file(workspace + "/" + kRebaseTodo),
          stamp_file(workspace + "/" + kSequencerTodo)};
}

std::vector<std::string> todo_commands(const std::string& todo) {
  std::vector<std::string> commands;
  std::size_t start = 0;
  while (start < todo.size()) {
    auto end = todo.find('\n', start);
    if (end == std::string::npos) end = todo.size();
    std::string line = todo.substr(start, end - start);
    start = end + 1;
    const auto first = line.find_first_not_of(" \t");
    if (first == std::string::npos) continue;
    line = line.substr(first);
    const auto word_end = line.find_first_of(" \t");
    const std::string word = line.substr(0, word_end);
    if ((word != "exec" && word != "x") || word_end == std::string::npos) continue;
    const auto command = line.find_first_not_of(" \t", word_end);
    if (command == std::string::npos) continue;
    std::string text = line.substr(command);
    while (!text.empty() && (text.back() == '\r' || text.back() == ' ')) text.pop_back();
    commands.push_back(text);
  }
  return commands;
}

bool gitdir_is_absorbed(const std::string& workspace, const std::string& link_path, const std::string& gitdir) {
  std::string relative;
  if (!gitdir.empty() && gitdir[0] == '/') {
    if (gitdir.compare(0, workspace.size() + 1, workspace + "/") != 0) return false;
    relative = gitdir.substr(workspace.size() + 1);
  } else {
    relative = link_path + "/" + gitdir;
  }
  // Lexically, ".." taking a component off; climbing above the worktree is
  // no absorbed gitdir.
  std::vector<std::string> resolved;
  for (auto& part : policy::path_components(relative)) {
    if (part == ".") continue;
    if (part != "..") {
      resolved.push_back(std::move(part));
    } else if (resolved.empty()) {
      return false;
    } else {
      resolved.pop_back();
    }
  }
  return resolved.size() > 2 && resolved[0] == ".git" && resolved[1] == "modules";
}

// Every text names paths and commands the task chose: spelled out with
// printable(), so no escape sequence reaches the developer's terminal.
std::vector<WorkspaceWarning> review_workspace(const std::string& workspace, const GitStateStamp& before) {
  std::vector<WorkspaceWarning> warnings;
  const auto after = stamp_git_state(workspace);
  const bool index_changed = after.index.present && !(after.index == before.index);
  const bool rebase_changed = after.rebase_todo.present && !(after.rebase_todo == before.rebase_todo);
  const bool sequencer_changed = after.sequencer_todo.present && !(after.sequencer_todo == before.sequencer_todo);
  if (!index_changed && !rebase_changed && !sequencer_changed) return warnings;
  UniqueFd root(::open(workspace.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) {
    warnings.push_back({WorkspaceWarning::Kind::nested_repository,
                        "the workspace could not be opened to review its git state: " + std::string(std::strerror(errno))});
    return warnings;
  }
  if (index_changed)
    for (auto& text : nested_repositories(root.get(), workspace))
      warnings.push_back({WorkspaceWarning::Kind::nested_repository, printable(text)});
  if (rebase_changed)
    for (auto& text : pending_commands(root.get(), kRebaseTodo, "`git rebase --continue`"))
      warnings.push_back({WorkspaceWarning::Kind::pending_commands, printable(text)});
  if (sequencer_changed)
    for (auto& text : pending_commands(root.get(), kSequencerTodo, "`git cherry-pick --continue` or `git revert --continue`"))
      warnings.push_back({WorkspaceWarning::Kind::pending_commands, printable(text)});
  return warnings;
}

}  // namespace tierbox::launch
