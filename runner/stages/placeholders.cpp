#include "stages/placeholders.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <optional>
#include <thread>
#include <nlohmann/json.hpp>

#include "common/errors.h"

namespace tierbox::stages {
namespace {

constexpr const char* kMark = "trusted.tierbox.placeholder";
// How long taking a placeholder may keep meeting concurrent runs that make
// and remove it. A count of tries can run out within a few milliseconds
// (a try that finds the entry just removed does not wait), or while a run
// holding the exclusive lock to remove one is descheduled on a loaded host,
// and the launch would fail closed for nothing; time is what callers notice.
constexpr auto kPatience = std::chrono::seconds(2);

UniqueFd open_root(const std::string& tree) {
  UniqueFd root(::open(tree.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!root) throw_sys_error("open(" + quote(tree) + ", O_PATH|O_DIRECTORY|O_NOFOLLOW)");
  return root;
}

// The directory part of relative, beneath root, never through a symlink.
UniqueFd open_parent(int root, const std::string& tree, const std::string& directory) {
  if (directory.empty()) return UniqueFd(::fcntl(root, F_DUPFD_CLOEXEC, 0));
  struct open_how how {};
  how.flags = O_PATH | O_DIRECTORY | O_CLOEXEC;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  UniqueFd parent(static_cast<int>(::syscall(SYS_openat2, root, directory.c_str(), &how, sizeof how)));
  if (!parent)
    throw_sys_error("openat2(" + quote(tree) + " / " + quote(directory) + ", O_PATH|O_DIRECTORY, RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS)");
  return parent;
}

bool is_marked(int fd) { return ::fgetxattr(fd, kMark, nullptr, 0) >= 0; }

// Owned like the directory it is in, so the tree's owner can remove it if a
// crash leaves it behind.
void own_and_mark(int fd, int parent, const std::string& path) {
  struct stat owner {};
  if (::fstat(parent, &owner) != 0) throw_sys_error("fstat(parent of " + quote(path) + ")");
  if (::fchown(fd, owner.st_uid, owner.st_gid) != 0) throw_sys_error("fchown(" + quote(path) + ")");
  // Filesystems without trusted xattrs: the placeholder is still removed by
  // its own run, only not adopted by others.
  if (::fsetxattr(fd, kMark, "1", 1, 0) != 0 && errno != ENOTSUP && errno != EOPNOTSUPP)
    throw_sys_error("fsetxattr(" + quote(path) + ", " + kMark + ")");
}

// Writes a file placeholder's content (short: a few bytes).
void write_content(int fd, const std::string& content, const std::string& path) {
  std::size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw_sys_error("write(" + quote(path) + " (temporary), " + std::to_string(content.size()) + " bytes)");
    done += static_cast<std::size_t>(n);
  }
}

// A new placeholder, marked and filled before anyone can see it: made under
// a temporary name and renamed into place (RENAME_NOREPLACE), so a concurrent
// run never finds it unmarked and mistakes it for the owner's own file, and
// no reader ever sees it empty when it has content. Invalid when something
// already exists at name.
UniqueFd create_marked(int parent, const std::string& name, bool directory, const std::string& content,
                       const std::string& path) {
  static unsigned counter = 0;
  const std::string temporary = ".tierbox-placeholder." + std::to_string(::getpid()) + "." + std::to_string(counter++);
  UniqueFd fd;
  if (directory) {
    if (::mkdirat(parent, temporary.c_str(), 0755) != 0) throw_sys_error("mkdirat(" + quote(path) + " (temporary), 0755)");
    fd = UniqueFd(::openat(parent, temporary.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  } else {
    fd = UniqueFd(::openat(parent, temporary.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
  }
  if (!fd) throw_sys_error("openat(" + quote(path) + " (temporary), O_CREAT|O_EXCL|O_NOFOLLOW)");
  const auto discard = [&] { ::unlinkat(parent, temporary.c_str(), directory ? AT_REMOVEDIR : 0); };
  try {
    if (!directory) write_content(fd.get(), content, path);
    own_and_mark(fd.get(), parent, path);
  } catch (...) {
    discard();
    throw;
  }
  if (::renameat2(parent, temporary.c_str(), parent, name.c_str(), RENAME_NOREPLACE) == 0) return fd;
  const int err = errno;
  discard();
  if (err != EEXIST) {
    errno = err;
    throw_sys_error("renameat2(" + quote(path) + ", RENAME_NOREPLACE)");
  }
  return UniqueFd();
}

// Opens the entry at name, creating it when missing. created: whether we did.
UniqueFd open_or_create(int parent, const std::string& name, bool directory, const std::string& content,
                        const std::string& path, bool& created) {
  created = false;
  struct stat st {};
  if (::fstatat(parent, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno != ENOENT) throw_sys_error("fstatat(" + quote(path) + ")");
    if (auto fd = create_marked(parent, name, directory, content, path)) {
      created = true;
      return fd;
    }
    if (::fstatat(parent, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return UniqueFd();  // errno: try again
  }
  if (directory && S_ISDIR(st.st_mode))
    return UniqueFd(::openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!directory && S_ISREG(st.st_mode))
    return UniqueFd(::openat(parent, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
  errno = EEXIST;  // something else is there: not a placeholder
  return UniqueFd();
}

// nullopt: an entry that is not a placeholder now exists there (made by its
// owner meanwhile); the sandbox protects it like any existing path.
std::optional<HeldPlaceholder> hold(const policy::Placeholder& planned) {
  const std::string path = planned.tree + "/" + planned.relative;
  auto root = open_root(planned.tree);
  const auto slash = planned.relative.rfind('/');
  const std::string directory = slash == std::string::npos ? "" : planned.relative.substr(0, slash);
  const std::string name = slash == std::string::npos ? planned.relative : planned.relative.substr(slash + 1);
  auto parent = open_parent(root.get(), planned.tree, directory);
  const auto deadline = std::chrono::steady_clock::now() + kPatience;
  while (std::chrono::steady_clock::now() < deadline) {
    bool created = false;
    auto fd = open_or_create(parent.get(), name, planned.directory, planned.content, path, created);
    if (!fd) {
      if (errno == ENOENT) continue;  // removed between the two calls
      return std::nullopt;
    }
    if (!created && !is_marked(fd.get())) return std::nullopt;
    if (::flock(fd.get(), LOCK_SH | LOCK_NB) != 0) {
      if (errno != EWOULDBLOCK) throw_sys_error("flock(" + quote(path) + ", LOCK_SH)");
      // Its last user is removing it: try again, and make a new one.
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      continue;
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) throw_sys_error("fstat(" + quote(path) + ")");
    if (st.st_nlink == 0) continue;  // removed after we opened it
    return HeldPlaceholder{path,         std::move(parent), name,     std::move(fd), planned.directory,
                           planned.content, st.st_dev,     st.st_ino};
  }
  throw Error("could not create the placeholder " + quote(path) + " for a protected path (it kept changing for " +
                  std::to_string(kPatience.count()) + " s)",
              exit_code::runner_failed);
}

// Whether the file holds exactly content: what the host's user wrote into a
// placeholder meanwhile is theirs, and stays.
bool holds_exactly(int fd, const std::string& content, off_t size) {
  if (size != static_cast<off_t>(content.size())) return false;
  if (content.empty()) return true;
  std::string read(content.size(), '\0');
  return ::pread(fd, read.data(), read.size(), 0) == static_cast<ssize_t>(read.size()) && read == content;
}

// Removes it if no other run holds it and it is still our entry, as made.
bool remove_if_unused(const HeldPlaceholder& item) {
  if (::flock(item.fd.get(), LOCK_EX | LOCK_NB) != 0) return false;
  struct stat now {}, held {};
  if (::fstatat(item.parent.get(), item.name.c_str(), &now, AT_SYMLINK_NOFOLLOW) != 0) return false;
  if (::fstat(item.fd.get(), &held) != 0 || now.st_dev != held.st_dev || now.st_ino != held.st_ino) return false;
  if (!item.directory && !holds_exactly(item.fd.get(), item.content, held.st_size)) return false;
  // A directory that is not empty fails with ENOTEMPTY and is kept.
  return ::unlinkat(item.parent.get(), item.name.c_str(), item.directory ? AT_REMOVEDIR : 0) == 0;
}

}  // namespace

Placeholders::~Placeholders() {
  // Children before parents (they were made parents first).
  for (auto it = held.rbegin(); it != held.rend(); ++it) remove_if_unused(*it);
}

nlohmann::json Placeholders::to_record() const {
  auto list = nlohmann::json::array();
  for (const auto& item : held)
    list.push_back({{"path", item.path},
                    {"device", static_cast<std::uint64_t>(item.device)},
                    {"inode", static_cast<std::uint64_t>(item.inode)},
                    {"directory", item.directory},
                    {"content", item.content}});
  return list;
}

Placeholders create_placeholders(const std::vector<policy::Placeholder>& planned) {
  Placeholders placeholders;
  for (const auto& item : planned) {
    if (auto held = hold(item)) placeholders.held.push_back(std::move(*held));
  }
  return placeholders;
}

std::vector<std::string> remove_recorded_placeholders(const nlohmann::json& record) {
  std::vector<std::string> removed;
  if (!record.is_array()) return removed;
  for (const auto& item : record) {
    const std::string path = item.value("path", "");
    const auto slash = path.rfind('/');
    if (path.empty() || path.front() != '/' || slash == std::string::npos) continue;
    HeldPlaceholder held;
    held.path = path;
    held.name = path.substr(slash + 1);
    held.directory = item.value("directory", false);
    held.content = item.value("content", "");
    // The recorded path was built from a canonical tree; a symlink there now
    // means it is not ours any more.
    held.parent = UniqueFd(::open(slash == 0 ? "/" : path.substr(0, slash).c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!held.parent) continue;
    held.fd = UniqueFd(::openat(held.parent.get(), held.name.c_str(),
                                O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC | (held.directory ? O_DIRECTORY : 0)));
    if (!held.fd) continue;  // already gone
    struct stat st {};
    if (::fstat(held.fd.get(), &st) != 0 || st.st_dev != item.value("device", std::uint64_t{0}) ||
        st.st_ino != item.value("inode", std::uint64_t{0}))
      continue;  // something else now lives at the path
    if (remove_if_unused(held)) removed.push_back("placeholder " + path);
  }
  return removed;
}

}  // namespace tierbox::stages
