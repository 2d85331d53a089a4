// What policy code may ask about the host, behind an interface so the pure
// resolvers (data classes, protected paths, commands) are testable against a
// temp tree or a fake. The real implementation (LinuxHostView, host_facts.cpp)
// is the only one that makes system calls; it runs in the parent before the
// plan is made, as root, on paths that callers and earlier tasks control:
// every walk is fd-based and never follows a symlink it was not asked to.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace tierbox::policy {

// endpoint: a unix socket or a named pipe, through which whatever process
// holds its other end can be reached.
enum class EntryType { missing, file, directory, symlink, endpoint, other };

// What lies at a relative path below a tree's root, looked up without
// following any symlink.
struct BeneathState {
  EntryType type = EntryType::missing;  // of the full path, when every component was found
  std::size_t found = 0;                // components that exist (== all: the path exists)
  bool symlink_on_path = false;         // component `found` - 1 is a symlink (and not the last)
  bool not_directory_on_path = false;   // component `found` - 1 is a file where a directory would be
  // Component `found` exists but is a placeholder another run made (marked
  // trusted.tierbox.placeholder): reported as missing from there, so this
  // run adopts it and shares it instead of building on it.
  bool placeholder = false;
  std::string error;                    // an unexpected error (EACCES, ...), "" when none
};

struct WalkLimits {
  std::uint64_t max_entries = 100000;
  bool cross_mounts = true;  // false: stay on the tree's mount (the workspace is bound without submounts)
};

// Called for each entry below the root: its components relative to the root
// and its type (symlinks are reported, never followed). Return true to descend
// into a directory.
using WalkVisitor = std::function<bool(const std::vector<std::string>& relative, EntryType type)>;

struct WalkResult {
  std::uint64_t entries = 0;
  bool limit_reached = false;
  std::string error;  // "" when the walk completed
};

class HostView {
 public:
  virtual ~HostView() = default;
  // realpath(3); nullopt when the path (or a component) does not exist.
  [[nodiscard]] virtual std::optional<std::string> real_path(const std::string& path) const = 0;
  // The type of path itself (lstat).
  [[nodiscard]] virtual EntryType entry_type(const std::string& path) const = 0;
  [[nodiscard]] virtual std::optional<std::string> read_link(const std::string& path) const = 0;
  // Whether some execute bit is set on the regular file path (following symlinks).
  [[nodiscard]] virtual bool is_executable_file(const std::string& path) const = 0;
  // Names in a directory, following symlinks to reach it; nullopt if it is none.
  [[nodiscard]] virtual std::optional<std::vector<std::pair<std::string, EntryType>>> list_directory(
      const std::string& path) const = 0;
  // sha256 of a file's content (following symlinks), lowercase hex; throws on error.
  [[nodiscard]] virtual std::string sha256_of_file(const std::string& path) const = 0;
  [[nodiscard]] virtual BeneathState inspect_beneath(const std::string& root,
                                                     const std::vector<std::string>& relative) const = 0;
  [[nodiscard]] virtual WalkResult walk(const std::string& root, const WalkLimits& limits,
                                        const WalkVisitor& visitor) const = 0;
  // statfs(2) f_type of the filesystem path is on (following symlinks);
  // nullopt when it cannot be reached.
  [[nodiscard]] virtual std::optional<std::uint64_t> filesystem_of(const std::string& path) const = 0;
  // A kernel filesystem (common/filesystems.h) mounted below path (its
  // real path), which a recursive bind of path would take with it: its
  // mount point and statfs f_type; nullopt when there is none.
  struct MountBelow {
    std::string mount_point;
    std::uint64_t filesystem = 0;
  };
  [[nodiscard]] virtual std::optional<MountBelow> kernel_filesystem_below(const std::string& path) const {
    (void)path;
    return std::nullopt;
  }
  // user name -> home directory, from /etc/passwd.
  [[nodiscard]] virtual std::map<std::string, std::string> home_directories() const = 0;
};

}  // namespace tierbox::policy
