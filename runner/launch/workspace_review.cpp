#include "launch/workspace_review.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/unique_fd.h"
#include "policy/git_index.h"

namespace tierbox::launch {
namespace {

// A larger index (a monorepo's) is not read at the end of every run.
constexpr off_t kMaxIndexBytes = 64 << 20;
constexpr std::size_t kMaxGitfileBytes = 4096;

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

// Reads a regular file of at most limit bytes through fd; nullopt-like "" and
// false when it is something else (a FIFO would block the runner) or larger.
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

// "a/b/../c" -> "a/c"; false if it climbs above its start.
bool normalize(const std::string& path, std::string& out) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (start <= path.size()) {
    auto end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    const std::string part = path.substr(start, end - start);
    if (part == "..") {
      if (parts.empty()) return false;
      parts.pop_back();
    } else if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    start = end + 1;
  }
  out.clear();
  for (const auto& part : parts) out += (out.empty() ? "" : "/") + part;
  return true;
}

}  // namespace

GitIndexStamp stamp_git_index(const std::string& workspace) {
  GitIndexStamp stamp;
  struct stat st {};
  // The workspace's own repository only: a .git file (a linked worktree)
  // keeps its index outside the workspace, where the task cannot write.
  if (::fstatat(AT_FDCWD, (workspace + "/.git/index").c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return stamp;
  stamp.present = true;
  stamp.device = st.st_dev;
  stamp.inode = st.st_ino;
  stamp.size = st.st_size;
  stamp.mtime_ns = nanoseconds(st.st_mtim);
  stamp.ctime_ns = nanoseconds(st.st_ctim);
  return stamp;
}

bool gitdir_is_absorbed(const std::string& workspace, const std::string& link_path, const std::string& gitdir) {
  std::string relative;
  if (!gitdir.empty() && gitdir[0] == '/') {
    if (gitdir.compare(0, workspace.size() + 1, workspace + "/") != 0) return false;
    relative = gitdir.substr(workspace.size() + 1);
  } else {
    relative = link_path + "/" + gitdir;
  }
  std::string normal;
  if (!normalize(relative, normal)) return false;
  return normal.compare(0, 13, ".git/modules/") == 0 && normal.size() > 13;
}

std::vector<std::string> nested_repositories(const std::string& workspace, const GitIndexStamp& before) {
  std::vector<std::string> found;
  const auto after = stamp_git_index(workspace);
  if (!after.present || after == before) return found;
  UniqueFd root(::open(workspace.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) return {"the workspace could not be opened to read its git index: " + std::string(std::strerror(errno))};
  UniqueFd index_fd(open_beneath(root.get(), ".git/index", O_RDONLY | O_NONBLOCK));
  std::string index;
  if (!index_fd || !read_regular(index_fd.get(), kMaxIndexBytes, index))
    return {".git/index changed but could not be read (not a regular file of at most 64 MiB); check `git diff --cached` for new submodules before running git here"};
  const auto links = policy::read_gitlinks(index);
  if (!links.error.empty())
    return {".git/index changed but could not be read (" + links.error + "); check `git diff --cached` for new submodules before running git here"};
  for (const auto& link : links.gitlinks) {
    UniqueFd dot_git(open_beneath(root.get(), link + "/.git", O_PATH));
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
    UniqueFd file(open_beneath(root.get(), link + "/.git", O_RDONLY | O_NONBLOCK));
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

}  // namespace tierbox::launch
