#include "staged/changes.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <climits>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>

#include "common/digest.h"
#include "common/errors.h"
#include "common/files.h"

extern char** environ;

namespace tierbox::staged {
namespace {

using json = nlohmann::json;

// Files above this are never shown as a diff (their size and hash are).
constexpr std::uint64_t kDiffLimit = 1 << 20;

std::string join(const std::string& dir, const std::string& name) { return dir.empty() ? name : dir + "/" + name; }

UniqueFd open_entry(int dir, const std::string& name, int flags) {
  UniqueFd fd(::openat(dir, name.c_str(), flags | O_NOFOLLOW | O_CLOEXEC));
  return fd;
}

bool looks_like_text(int fd, std::uint64_t size) {
  if (size > kDiffLimit) return false;
  char buffer[8192];
  const ssize_t n = ::pread(fd, buffer, sizeof buffer, 0);
  if (n < 0) return false;
  return std::find(buffer, buffer + n, '\0') == buffer + n;
}

bool is_whiteout(int dir, const std::string& name) {
  struct stat st {};
  return ::fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0);
}

bool is_opaque(int dir_fd) {
  char value[4] = {};
  const ssize_t n = ::fgetxattr(dir_fd, "trusted.overlay.opaque", value, sizeof value);
  return n == 1 && value[0] == 'y';
}

std::vector<std::string> names_of(int dir_fd, const std::string& where) {
  std::vector<std::string> names;
  const int copy = ::fcntl(dir_fd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) throw_sys_error("fcntl(" + quote(where) + ", F_DUPFD_CLOEXEC)");
  DIR* dir = ::fdopendir(copy);
  if (!dir) {
    ::close(copy);
    throw_sys_error("fdopendir(" + quote(where) + ")");
  }
  while (const dirent* entry = ::readdir(dir)) {
    const std::string name = entry->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  ::closedir(dir);
  std::sort(names.begin(), names.end());
  return names;
}

class Collector {
 public:
  Collector(std::string upper, std::string workspace) : upper_(std::move(upper)), workspace_(std::move(workspace)) {}

  std::vector<Change> run() {
    UniqueFd upper(::open(upper_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!upper) throw_sys_error("open(" + quote(upper_) + ", O_DIRECTORY)");
    auto lower = open_workspace_root(workspace_);
    walk(upper.get(), lower.get(), "", is_opaque(upper.get()));
    std::sort(changes_.begin(), changes_.end(), [](const Change& a, const Change& b) { return a.path < b.path; });
    return std::move(changes_);
  }

 private:
  void add(Change change) { changes_.push_back(std::move(change)); }

  // Every entry below (and then) the lower directory at path: deleted.
  // text: whether the entry (a file) looks like text, for --diff.
  void delete_tree(int lower_parent, const std::string& name, const std::string& path, const EntryState& state,
                   bool text) {
    if (state.type == EntryType::directory) {
      auto dir = open_entry(lower_parent, name, O_RDONLY | O_DIRECTORY);
      if (!dir) throw_sys_error("open(" + quote(workspace_ + "/" + path) + ", O_DIRECTORY|O_NOFOLLOW)");
      for (const auto& child : names_of(dir.get(), path)) {
        bool child_text = false;
        const auto child_state = read_entry(dir.get(), child, workspace_ + "/" + join(path, child), &child_text);
        delete_tree(dir.get(), child, join(path, child), child_state, child_text);
      }
    }
    Change change;
    change.path = path;
    change.kind = ChangeKind::deleted;
    change.before = state;
    change.text = text;
    add(std::move(change));
  }

  void walk(int upper_dir, int lower_dir, const std::string& path, bool opaque) {
    const auto names = names_of(upper_dir, upper_ + "/" + path);
    for (const auto& name : names) entry(upper_dir, lower_dir, name, join(path, name));
    if (!opaque || lower_dir < 0) return;
    // An opaque directory hides every lower entry it does not hold itself.
    for (const auto& name : names_of(lower_dir, workspace_ + "/" + path)) {
      if (std::binary_search(names.begin(), names.end(), name)) continue;
      const auto child = join(path, name);
      bool text = false;
      const auto state = read_entry(lower_dir, name, workspace_ + "/" + child, &text);
      delete_tree(lower_dir, name, child, state, text);
    }
  }

  void entry(int upper_dir, int lower_dir, const std::string& name, const std::string& path) {
    bool before_text = false;
    const auto before = read_entry(lower_dir, name, workspace_ + "/" + path, &before_text);
    if (is_whiteout(upper_dir, name)) {
      if (before.type != EntryType::none) delete_tree(lower_dir, name, path, before, before_text);
      return;
    }
    bool text = false;
    const auto after = read_entry(upper_dir, name, upper_ + "/" + path, &text);
    if (after.type == EntryType::directory) {
      directory(upper_dir, lower_dir, name, path, before, after);
      return;
    }
    Change change;
    change.path = path;
    change.before = before;
    change.after = after;
    change.text = text;
    if (after.type == EntryType::other) {
      change.kind = ChangeKind::refused;
      change.reason = after.other + " never lands in the workspace";
      add(std::move(change));
      return;
    }
    if (after.type == EntryType::symlink && !link_stays_inside(path, after.link)) {
      change.kind = ChangeKind::refused;
      change.reason = "a symlink pointing outside the workspace never lands";
      add(std::move(change));
      return;
    }
    if (before.type == EntryType::directory) {
      delete_tree(lower_dir, name, path, before, false);
      change.before = {};
    }
    if (change.before.type == EntryType::none) {
      change.kind = ChangeKind::added;
    } else if (before.type == after.type && before.sha256 == after.sha256 && before.link == after.link) {
      if (before.mode == after.mode || after.type == EntryType::symlink) return;  // copied up, unchanged
      change.kind = ChangeKind::mode_changed;
    } else {
      change.kind = ChangeKind::modified;
    }
    add(std::move(change));
  }

  void directory(int upper_dir, int lower_dir, const std::string& name, const std::string& path,
                 const EntryState& before, const EntryState& after) {
    auto upper_child = open_entry(upper_dir, name, O_RDONLY | O_DIRECTORY);
    if (!upper_child) throw_sys_error("open(" + quote(upper_ + "/" + path) + ", O_DIRECTORY|O_NOFOLLOW)");
    UniqueFd lower_child;
    if (before.type == EntryType::directory) {
      lower_child = open_entry(lower_dir, name, O_RDONLY | O_DIRECTORY);
      if (!lower_child) throw_sys_error("open(" + quote(workspace_ + "/" + path) + ", O_DIRECTORY|O_NOFOLLOW)");
      if (before.mode != after.mode) add(Change{path, ChangeKind::mode_changed, before, after, "", false});
    } else {
      if (before.type != EntryType::none) delete_tree(lower_dir, name, path, before, false);
      add(Change{path, ChangeKind::added, {}, after, "", false});
    }
    walk(upper_child.get(), lower_child.get(), path, is_opaque(upper_child.get()));
  }

  std::string upper_;
  std::string workspace_;
  std::vector<Change> changes_;
};

json state_json(const EntryState& state, bool with_size) {
  if (state.type == EntryType::none) return nullptr;
  json out = {{"type", to_string(state.type)}, {"mode", state.mode}};
  if (state.type == EntryType::file) {
    out["sha256"] = state.sha256;
    if (with_size) out["size"] = state.size;
  }
  if (state.type == EntryType::symlink) out["link"] = state.link;
  if (state.type == EntryType::other) out["what"] = state.other;
  return out;
}

std::string octal(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode));
  return text;
}

}  // namespace

bool link_stays_inside(const std::string& path, const std::string& target) {
  if (target.empty() || target.front() == '/') return false;
  // Depth of the link's directory below the workspace root, then each
  // component of the target, lexically (what the link would resolve to if
  // no component below were a symlink itself: those are checked as links).
  long depth = static_cast<long>(std::count(path.begin(), path.end(), '/'));
  std::size_t start = 0;
  while (start <= target.size()) {
    auto end = target.find('/', start);
    if (end == std::string::npos) end = target.size();
    const auto part = target.substr(start, end - start);
    if (part == "..") {
      if (--depth < 0) return false;
    } else if (!part.empty() && part != ".") {
      ++depth;
    }
    start = end + 1;
  }
  return true;
}

const char* to_string(ChangeKind kind) {
  switch (kind) {
    case ChangeKind::added: return "added";
    case ChangeKind::modified: return "modified";
    case ChangeKind::deleted: return "deleted";
    case ChangeKind::mode_changed: return "mode_changed";
    case ChangeKind::refused: return "refused";
  }
  return "?";
}

const char* to_string(EntryType type) {
  switch (type) {
    case EntryType::none: return "none";
    case EntryType::file: return "file";
    case EntryType::directory: return "directory";
    case EntryType::symlink: return "symlink";
    case EntryType::other: return "other";
  }
  return "none";
}

EntryType parse_entry_type(const std::string& text) {
  for (auto type : {EntryType::file, EntryType::directory, EntryType::symlink, EntryType::other})
    if (text == to_string(type)) return type;
  return EntryType::none;
}

EntryState read_entry(int dir, const std::string& name, const std::string& where, bool* text) {
  EntryState state;
  if (dir < 0) return state;
  struct stat st {};
  if (::fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return state;
    throw_sys_error("fstatat(" + quote(where) + ", AT_SYMLINK_NOFOLLOW)");
  }
  state.mode = st.st_mode & 07777;
  state.size = static_cast<std::uint64_t>(st.st_size);
  state.ctime_ns = static_cast<std::int64_t>(st.st_ctim.tv_sec) * 1000000000 + st.st_ctim.tv_nsec;
  if (S_ISDIR(st.st_mode)) {
    state.type = EntryType::directory;
  } else if (S_ISREG(st.st_mode)) {
    state.type = EntryType::file;
    auto fd = open_entry(dir, name, O_RDONLY | O_NOCTTY | O_NONBLOCK);
    if (!fd) throw_sys_error("open(" + quote(where) + ", O_NOFOLLOW)");
    state.sha256 = sha256_hex_of_fd(fd.get(), where);
    if (text) *text = looks_like_text(fd.get(), state.size);
  } else if (S_ISLNK(st.st_mode)) {
    state.type = EntryType::symlink;
    std::string target(PATH_MAX, '\0');
    const ssize_t n = ::readlinkat(dir, name.c_str(), target.data(), target.size());
    if (n < 0) throw_sys_error("readlinkat(" + quote(where) + ")");
    target.resize(static_cast<std::size_t>(n));
    state.link = target;
  } else {
    state.type = EntryType::other;
    state.other = file_type_name(st.st_mode);
  }
  return state;
}

std::size_t ChangeSet::count(ChangeKind kind) const {
  return static_cast<std::size_t>(
      std::count_if(changes.begin(), changes.end(), [kind](const Change& change) { return change.kind == kind; }));
}

std::uint64_t ChangeSet::bytes_written() const {
  std::uint64_t bytes = 0;
  for (const auto& change : changes)
    if ((change.kind == ChangeKind::added || change.kind == ChangeKind::modified) && change.after.type == EntryType::file)
      bytes += change.after.size;
  return bytes;
}

bool path_selected(const std::string& path, const std::vector<std::string>& filters) {
  if (filters.empty()) return true;
  for (auto filter : filters) {
    while (filter.size() > 1 && filter.back() == '/') filter.pop_back();
    if (filter == "." || filter.empty()) return true;
    if (path == filter || (path.size() > filter.size() && path.compare(0, filter.size(), filter) == 0 &&
                           path[filter.size()] == '/'))
      return true;
  }
  return false;
}

std::string change_set_digest(const std::vector<Change>& changes) {
  json list = json::array();
  for (const auto& change : changes)
    list.push_back({change.path, to_string(change.kind), state_json(change.before, false), state_json(change.after, false)});
  // Plain hex, like a plan digest: `tierbox grant --plan-digest` takes it as is.
  return sha256_hex("tierbox-change-set-v1\n" + list.dump());
}

ChangeSet collect_changes(const std::string& upper, const std::string& workspace, const std::vector<std::string>& paths) {
  ChangeSet set;
  for (auto& change : Collector(upper, workspace).run())
    if (path_selected(change.path, paths)) set.changes.push_back(std::move(change));
  set.digest = change_set_digest(set.changes);
  return set;
}

json to_json(const ChangeSet& set) {
  json changes = json::array();
  for (const auto& change : set.changes) {
    json entry = {{"path", change.path},
                  {"kind", to_string(change.kind)},
                  {"before", state_json(change.before, true)},
                  {"after", state_json(change.after, true)}};
    if (!change.reason.empty()) entry["reason"] = change.reason;
    changes.push_back(std::move(entry));
  }
  return {{"digest", set.digest},
          {"changes", changes},
          {"summary",
           {{"added", set.count(ChangeKind::added)},
            {"modified", set.count(ChangeKind::modified)},
            {"deleted", set.count(ChangeKind::deleted)},
            {"mode_changed", set.count(ChangeKind::mode_changed)},
            {"refused", set.count(ChangeKind::refused)},
            {"bytes_written", set.bytes_written()}}}};
}

std::string change_line(const Change& change) {
  const auto& shown = change.kind == ChangeKind::deleted ? change.before : change.after;
  std::string detail;
  if (shown.type == EntryType::directory) detail = "/";
  if (shown.type == EntryType::symlink) detail = " -> " + printable(shown.link);
  if (shown.type == EntryType::file && !change.text && change.kind != ChangeKind::mode_changed)
    detail = " (" + std::to_string(shown.size) + " bytes, sha256 " + shown.sha256.substr(0, 16) + "...)";
  if (change.kind == ChangeKind::mode_changed || (change.kind == ChangeKind::modified && change.before.mode != change.after.mode))
    detail += " (mode " + octal(change.before.mode) + " -> " + octal(change.after.mode) + ")";
  if ((change.after.mode & (S_ISUID | S_ISGID)) && change.after.type == EntryType::file)
    detail += " (setuid/setgid: lands without the bits)";
  switch (change.kind) {
    case ChangeKind::added: return "A  " + printable(change.path) + detail;
    case ChangeKind::modified: return "M  " + printable(change.path) + detail;
    case ChangeKind::deleted: return "D  " + printable(change.path) + detail;
    case ChangeKind::mode_changed: return "m  " + printable(change.path) + detail;
    case ChangeKind::refused: return "!  " + printable(change.path) + " (" + change.reason + ")";
  }
  return "?";
}

std::string unified_diff(const Change& change, const std::string& upper, const std::string& workspace) {
  const bool file_change = (change.kind == ChangeKind::added || change.kind == ChangeKind::modified ||
                            change.kind == ChangeKind::deleted);
  const auto& shown = change.kind == ChangeKind::deleted ? change.before : change.after;
  if (!file_change || shown.type != EntryType::file || shown.size > kDiffLimit) return "";
  // Both sides are opened here, beneath their roots, without following a
  // symlink (openat2 RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS), and handed to
  // diff(1) as fds: diff never resolves a path of either tree itself.
  auto open_side = [&](const std::string& root, bool present) -> UniqueFd {
    if (!present) return UniqueFd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    struct open_how how {};
    how.flags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    UniqueFd dir(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dir) throw_sys_error("open(" + quote(root) + ", O_DIRECTORY)");
    UniqueFd fd(static_cast<int>(::syscall(SYS_openat2, dir.get(), change.path.c_str(), &how, sizeof how)));
    if (!fd) throw_sys_error("openat2(" + quote(root + "/" + change.path) + ", RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS)");
    return fd;
  };
  // The workspace side from its root opened without symlinks (the upper
  // layer is under root's state directory).
  const auto beneath_workspace = [&](bool present) -> UniqueFd {
    if (!present) return UniqueFd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    auto dir = open_workspace_root(workspace);
    struct open_how how {};
    how.flags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    UniqueFd fd(static_cast<int>(::syscall(SYS_openat2, dir.get(), change.path.c_str(), &how, sizeof how)));
    if (!fd) throw_sys_error("openat2(" + quote(workspace + "/" + change.path) + ", RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS)");
    return fd;
  };
  auto before = beneath_workspace(change.before.type == EntryType::file);
  auto after = open_side(upper, change.after.type == EntryType::file);
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) throw_sys_error("pipe2(O_CLOEXEC)");
  UniqueFd read_end(out[0]);
  UniqueFd write_end(out[1]);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, before.get(), 3);
  posix_spawn_file_actions_adddup2(&actions, after.get(), 4);
  posix_spawn_file_actions_adddup2(&actions, write_end.get(), 1);
  const std::string label_a = "a/" + change.path;
  const std::string label_b = "b/" + change.path;
  std::vector<std::string> args = {"diff", "-u", "--label", label_a, "--label", label_b, "/dev/fd/3", "/dev/fd/4"};
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int spawned = ::posix_spawn(&pid, "/usr/bin/diff", &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) throw SysError(spawned, "posix_spawn(/usr/bin/diff)");
  write_end.reset();
  std::string text;
  char buffer[65536];
  ssize_t n;
  while ((n = ::read(read_end.get(), buffer, sizeof buffer)) > 0 || (n < 0 && errno == EINTR))
    if (n > 0) text.append(buffer, static_cast<std::size_t>(n));
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return text;
}

UniqueFd open_workspace_root(const std::string& workspace) {
  struct open_how how {};
  how.flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
  how.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  UniqueFd root(static_cast<int>(::syscall(SYS_openat2, AT_FDCWD, workspace.c_str(), &how, sizeof how)));
  if (!root) {
    const int error = errno;
    if (error == ELOOP)
      throw Refusal("the workspace " + quote(workspace) +
                    " is no longer the directory the run used: its path now leads through a symlink (fix: restore it)");
    errno = error;
    throw_sys_error("openat2(" + quote(workspace) + ", O_DIRECTORY, RESOLVE_NO_SYMLINKS) (the run's workspace)");
  }
  return root;
}

}  // namespace tierbox::staged
