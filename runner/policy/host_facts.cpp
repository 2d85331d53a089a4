#include "policy/host_facts.h"
#include "policy/widening.h"
#include "rootfs/store.h"
#include "rootfs/tree_scan.h"

#include <dirent.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/xattr.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iterator>
#include <memory>

#include "common/digest.h"
#include "common/errors.h"
#include "common/filesystems.h"
#include "common/mount_points.h"
#include "common/unique_fd.h"
#include "common/users.h"
#include "policy/command_resolution.h"
#include "policy/data_access.h"
#include "policy/environment.h"
#include "policy/path_pattern.h"

namespace tierbox::policy {
namespace {

// Deeper trees are reported as an error rather than walked (each level holds
// an fd and a stack frame).
constexpr std::size_t kMaxWalkDepth = 256;

EntryType type_of_mode(mode_t mode) {
  if (S_ISREG(mode)) return EntryType::file;
  if (S_ISDIR(mode)) return EntryType::directory;
  if (S_ISLNK(mode)) return EntryType::symlink;
  if (S_ISSOCK(mode) || S_ISFIFO(mode)) return EntryType::endpoint;
  return EntryType::other;
}

EntryType type_of_dirent(int dir_fd, const struct dirent* entry) {
  switch (entry->d_type) {
    case DT_REG: return EntryType::file;
    case DT_DIR: return EntryType::directory;
    case DT_LNK: return EntryType::symlink;
    case DT_SOCK:
    case DT_FIFO: return EntryType::endpoint;
    case DT_UNKNOWN: {
      struct stat st {};
      if (::fstatat(dir_fd, entry->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) return EntryType::missing;
      return type_of_mode(st.st_mode);
    }
    default: return EntryType::other;
  }
}

// Whether dir/name carries the mark stages/placeholders.cpp sets. O_PATH fds
// have no xattr calls; the fd's /proc link reaches the directory without
// following anything in name.
enum class Mark { placeholder, none, gone };
Mark placeholder_mark(int dir, const std::string& name) {
  const std::string path = "/proc/self/fd/" + std::to_string(dir) + "/" + name;
  if (::lgetxattr(path.c_str(), "trusted.tierbox.placeholder", nullptr, 0) >= 0) return Mark::placeholder;
  // Removed since the fstatat: another run's placeholder going away. Taken
  // for a real entry, it would be planned as existing, and this run would
  // hold nothing there and find it gone when the sandbox mounts over it.
  return errno == ENOENT ? Mark::gone : Mark::none;
}

std::uint64_t mount_id(int fd) {
  struct statx info {};
  if (::statx(fd, "", AT_EMPTY_PATH, STATX_MNT_ID, &info) != 0 || !(info.stx_mask & STATX_MNT_ID)) return 0;
  return info.stx_mnt_id;
}

// A readdir over an fd we own; closes it when done.
class DirectoryReader {
 public:
  explicit DirectoryReader(int fd) : dir_(::fdopendir(fd)) {
    if (!dir_) ::close(fd);
  }
  ~DirectoryReader() {
    if (dir_) ::closedir(dir_);
  }
  DirectoryReader(const DirectoryReader&) = delete;
  DirectoryReader& operator=(const DirectoryReader&) = delete;
  [[nodiscard]] bool valid() const { return dir_ != nullptr; }
  [[nodiscard]] int fd() const { return ::dirfd(dir_); }
  // The next entry other than . and .., or nullptr.
  const struct dirent* next() {
    while (const struct dirent* entry = ::readdir(dir_)) {
      const std::string_view name(entry->d_name);
      if (name != "." && name != "..") return entry;
    }
    return nullptr;
  }

 private:
  DIR* dir_;
};

struct Walk {
  const WalkLimits& limits;
  const WalkVisitor& visitor;
  std::uint64_t root_mount = 0;
  WalkResult result;
  std::vector<std::string> relative;

  // False to stop the whole walk.
  bool directory(int fd) {
    if (relative.size() >= kMaxWalkDepth) {
      result.error = "deeper than " + std::to_string(kMaxWalkDepth) + " levels at " + join_components(relative, relative.size(), false);
      return false;
    }
    DirectoryReader reader(fd);
    if (!reader.valid()) {
      result.error = "fdopendir: " + errno_text(errno);
      return false;
    }
    while (const struct dirent* entry = reader.next()) {
      if (++result.entries > limits.max_entries) {
        result.limit_reached = true;
        return false;
      }
      const auto type = type_of_dirent(reader.fd(), entry);
      relative.emplace_back(entry->d_name);
      const bool descend = visitor(relative, type) && type == EntryType::directory;
      if (descend && !child(reader.fd(), entry->d_name)) return false;
      relative.pop_back();
    }
    return true;
  }

  bool child(int parent, const char* name) {
    // O_NOFOLLOW: a directory swapped for a symlink since readdir is not entered.
    int fd = ::openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return true;  // gone, or no longer a directory: nothing below it to see
    if (!limits.cross_mounts && mount_id(fd) != root_mount) {
      ::close(fd);  // another mount: the sandbox does not see what is below it
      return true;
    }
    return directory(fd);
  }
};

}  // namespace

std::optional<std::string> LinuxHostView::real_path(const std::string& path) const {
  std::unique_ptr<char, decltype(&std::free)> resolved(::realpath(path.c_str(), nullptr), &std::free);
  if (!resolved) return std::nullopt;
  return std::string(resolved.get());
}

EntryType LinuxHostView::entry_type(const std::string& path) const {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return EntryType::missing;
  return type_of_mode(st.st_mode);
}

std::optional<std::string> LinuxHostView::read_link(const std::string& path) const {
  char target[4096];
  ssize_t length = ::readlink(path.c_str(), target, sizeof target);
  if (length < 0 || static_cast<std::size_t>(length) >= sizeof target) return std::nullopt;
  return std::string(target, static_cast<std::size_t>(length));
}

bool LinuxHostView::is_executable_file(const std::string& path) const {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111) != 0;
}

std::optional<std::vector<std::pair<std::string, EntryType>>> LinuxHostView::list_directory(const std::string& path) const {
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  DirectoryReader reader(fd);
  if (!reader.valid()) return std::nullopt;
  std::vector<std::pair<std::string, EntryType>> entries;
  while (const struct dirent* entry = reader.next()) entries.emplace_back(entry->d_name, type_of_dirent(reader.fd(), entry));
  return entries;
}

std::string LinuxHostView::sha256_of_file(const std::string& path) const {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (!fd) throw_sys_error("open(" + quote(path) + ", O_RDONLY)");
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) throw_sys_error("fstat(" + quote(path) + ")");
  if (!S_ISREG(st.st_mode)) throw Error(quote(path) + " is not a regular file", exit_code::refused);
  return sha256_hex_of_fd(fd.get(), path);
}

BeneathState LinuxHostView::inspect_beneath(const std::string& root, const std::vector<std::string>& relative) const {
  BeneathState state;
  UniqueFd dir(::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!dir) {
    state.error = "open(" + quote(root) + "): " + errno_text(errno);
    return state;
  }
  for (std::size_t i = 0; i < relative.size(); ++i) {
    struct stat st {};
    if (::fstatat(dir.get(), relative[i].c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno != ENOENT) state.error = "fstatat(" + quote(relative[i]) + "): " + errno_text(errno);
      return state;
    }
    if (S_ISDIR(st.st_mode) || S_ISREG(st.st_mode)) {
      const auto mark = placeholder_mark(dir.get(), relative[i]);
      if (mark == Mark::placeholder) state.placeholder = true;
      if (mark != Mark::none) return state;  // found == i: missing from here on
    }
    state.found = i + 1;
    state.type = type_of_mode(st.st_mode);
    const bool last = i + 1 == relative.size();
    if (last) return state;
    if (state.type == EntryType::symlink) {
      state.symlink_on_path = true;
      return state;
    }
    if (state.type != EntryType::directory) {
      state.not_directory_on_path = true;
      return state;
    }
    UniqueFd next(::openat(dir.get(), relative[i].c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!next && errno == ENOENT) {
      // Removed since the fstatat (another run's placeholder going away):
      // missing from here on.
      state.found = i;
      state.type = EntryType::missing;
      return state;
    }
    if (!next) {
      state.error = "openat(" + quote(relative[i]) + ", O_PATH|O_DIRECTORY|O_NOFOLLOW): " + errno_text(errno);
      return state;
    }
    dir = std::move(next);
  }
  return state;
}

WalkResult LinuxHostView::walk(const std::string& root, const WalkLimits& limits, const WalkVisitor& visitor) const {
  Walk walk{limits, visitor, 0, {}, {}};
  int fd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    walk.result.error = "open(" + quote(root) + "): " + errno_text(errno);
    return walk.result;
  }
  walk.root_mount = mount_id(fd);
  walk.directory(fd);
  return walk.result;
}

std::optional<std::uint64_t> LinuxHostView::filesystem_of(const std::string& path) const {
  struct statfs fs {};
  if (::statfs(path.c_str(), &fs) != 0) return std::nullopt;
  return static_cast<std::uint64_t>(fs.f_type);
}

std::optional<HostView::MountBelow> LinuxHostView::kernel_filesystem_below(const std::string& path) const {
  const auto real = real_path(path);
  if (!real) return std::nullopt;
  if (!mountinfo_) {
    std::ifstream in("/proc/self/mountinfo");
    if (!in) throw_sys_error("open(\"/proc/self/mountinfo\")");
    mountinfo_.emplace(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  for (const auto& point : mount_points_below(*mountinfo_, *real)) {
    const auto magic = filesystem_of(point);
    if (magic && is_kernel_filesystem(*magic)) return MountBelow{point, *magic};
  }
  return std::nullopt;
}

std::map<std::string, std::string> LinuxHostView::home_directories() const {
  // A home is a directory its user owns: system accounts whose "home" is
  // /bin, /usr/sbin or /var/www (owned by root) have none, and a rule below a
  // missing home matches nothing. Every home skipped is a dozen lookups fewer
  // per launch.
  std::map<std::string, std::string> homes;
  for (const auto& user : user_homes()) {
    struct stat st {};
    if (::stat(user.home.c_str(), &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == user.uid)
      homes.emplace(user.name, user.home);
  }
  if (const char* home = std::getenv("HOME"); home && *home == '/') homes.emplace("$HOME", home);
  return homes;
}

Date today_utc() {
  const auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm utc{};
  ::gmtime_r(&now, &utc);
  return Date{utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday};
}

std::vector<net::Ipv4Address> resolve_ipv4(const std::string& name) {
  struct addrinfo hints {};
  hints.ai_family = AF_INET;  // sandboxes have no IPv6
  hints.ai_socktype = SOCK_STREAM;
  struct addrinfo* results = nullptr;
  const int rc = ::getaddrinfo(name.c_str(), nullptr, &hints, &results);
  if (rc != 0)
    throw Error("network.allow: cannot resolve " + name + ": " + ::gai_strerror(rc) +
                    " (fix: check the name and the host's resolver, or allow its address instead)",
                exit_code::runner_failed);
  std::vector<net::Ipv4Address> addresses;
  for (auto* result = results; result; result = result->ai_next) {
    const auto* address = reinterpret_cast<const sockaddr_in*>(result->ai_addr);
    const net::Ipv4Address found{ntohl(address->sin_addr.s_addr)};
    if (std::find(addresses.begin(), addresses.end(), found) == addresses.end()) addresses.push_back(found);
  }
  ::freeaddrinfo(results);
  return addresses;
}

int kernel_landlock_abi() {
  // landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION)
  const long abi = ::syscall(444 /* SYS_landlock_create_ruleset */, nullptr, 0, 1U);
  return abi > 0 ? static_cast<int>(abi) : 0;
}

std::optional<RootfsImageFacts> image_facts(const rootfs::Store& store, const std::string& name) {
  auto image = store.find(name);
  if (!image) return std::nullopt;
  // The manifest, checked against the digest it is stored under (its bytes
  // hashed, not parsed: debian's is 2.5 MB). The root's and etc/'s entries
  // are read from the tree itself, which is what is mounted.
  store.check_manifest(image->digest);
  RootfsImageFacts facts{name, image->digest, store.tree(image->digest).string(), {}, {}};
  const auto entries_of = [&](const std::string& directory) {
    std::vector<ImageEntryFacts> out;
    for (const auto& entry : rootfs::scan_directory(facts.tree, directory))
      out.push_back({entry.path.substr(directory.empty() ? 0 : directory.size() + 1), entry.kind, entry.link});
    return out;
  };
  facts.top = entries_of("");
  const auto etc = std::find_if(facts.top.begin(), facts.top.end(), [](const auto& entry) { return entry.name == "etc"; });
  if (etc != facts.top.end() && etc->kind == rootfs::EntryKind::directory) facts.etc = entries_of("etc");
  return facts;
}

// The OCI runtime mode: a bundle's root directory, described like a store
// image (its root's entries, its etc/'s), so the planner binds it the same
// way: each entry a read-only, nosuid, nodev tree. Entries of another type
// (a device node, fifo or socket at the top or in etc/) are left out.
namespace {

std::optional<RootfsImageFacts> container_root_facts(const ContainerRoot& container,
                                                    const std::vector<std::string>& never_visible) {
  // The root is bound whole: it must not be the host's root, nor hold what
  // no sandbox may ever see (the audit log, the governance state).
  std::error_code ec;
  const auto canonical = std::filesystem::canonical(container.tree, ec);
  if (ec)
    throw Error("container " + container.id + ": root.path " + quote(container.tree.string()) + ": " + ec.message() +
                    " (fix: check the bundle's root.path)",
                exit_code::runner_failed);
  if (canonical == "/")
    throw Refusal("container " + container.id + ": root.path " + quote(container.tree.string()) +
                  " is the host's root (fix: give the container a root of its own)");
  for (const auto& hidden : never_visible)
    if (is_same_or_under(hidden, canonical.string()))
      throw Refusal("container " + container.id + ": root.path " + quote(canonical.string()) + " holds " +
                    quote(hidden) + ", which no sandbox may see (fix: give the container a root of its own)");
  RootfsImageFacts facts{"container:" + container.id, container.image_digest, canonical.string(), {}, {}};
  struct stat root_stat {};
  if (::stat(canonical.c_str(), &root_stat) != 0)
    throw Error("container " + container.id + ": root.path " + quote(canonical.string()) + ": stat: " +
                    std::strerror(errno) + " (fix: check the bundle's root.path)",
                exit_code::runner_failed);
  facts.owner_uid = root_stat.st_uid;
  facts.owner_gid = root_stat.st_gid;
  const auto entries_of = [&](const std::filesystem::path& directory) {
    std::vector<ImageEntryFacts> out;
    std::error_code list_ec;
    std::filesystem::directory_iterator it(directory, list_ec);
    if (list_ec)
      throw Error("container " + container.id + ": cannot list " + quote(directory.string()) + ": " +
                      list_ec.message() + " (fix: check the bundle's root.path)",
                  exit_code::runner_failed);
    for (const auto& entry : it) {
      const auto status = entry.symlink_status(list_ec);
      if (list_ec) continue;
      ImageEntryFacts facts_entry{entry.path().filename().string(), rootfs::EntryKind::directory, ""};
      if (std::filesystem::is_symlink(status)) {
        facts_entry.kind = rootfs::EntryKind::symlink;
        facts_entry.link = std::filesystem::read_symlink(entry.path(), list_ec).string();
        if (list_ec) continue;
      } else if (std::filesystem::is_regular_file(status)) {
        facts_entry.kind = rootfs::EntryKind::file;
      } else if (!std::filesystem::is_directory(status)) {
        continue;
      }
      out.push_back(std::move(facts_entry));
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
    return out;
  };
  facts.top = entries_of(canonical);
  if (std::filesystem::is_directory(std::filesystem::symlink_status(canonical / "etc", ec)))
    facts.etc = entries_of(canonical / "etc");
  return facts;
}

// The image directories on the way to mount targets (RootfsImageFacts::nested).
// The image is hostile: each directory is opened component by component
// with O_NOFOLLOW|O_DIRECTORY from the tree's own fd, so a symlink on the way
// (var/run -> /run, or -> a host path) ends the listing there instead of
// being followed; the planner then makes a directory on the root tmpfs. The
// work is bounded by the paths (one listing per directory on the way, one fd
// open at a time besides the tree's) and by kMaxNestedEntries in all (each
// listed entry becomes a prepared tree: an fd and a mount at launch).
constexpr std::size_t kMaxNestedEntries = 4096;

std::vector<ImageEntryFacts> list_image_directory(int dir_fd, const std::string& where, std::size_t& budget) {
  UniqueFd own(::openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!own) throw_sys_error("openat(" + quote(where) + ", \".\", O_DIRECTORY)");
  DirectoryReader reader(own.release());
  if (!reader.valid()) throw_sys_error("fdopendir(" + quote(where) + ")");
  std::vector<ImageEntryFacts> out;
  while (const struct dirent* entry = reader.next()) {
    if (budget == 0)
      throw Error("image " + quote(where) + ": more than " + std::to_string(kMaxNestedEntries) +
                      " entries in the directories on the way to the mount targets below it (fix: mount the volume "
                      "at a target of its own, outside the image's large directories)",
                  exit_code::refused);
    --budget;
    ImageEntryFacts facts{entry->d_name, rootfs::EntryKind::directory, ""};
    switch (type_of_dirent(reader.fd(), entry)) {
      case EntryType::directory: break;
      case EntryType::file: facts.kind = rootfs::EntryKind::file; break;
      case EntryType::symlink: {
        facts.kind = rootfs::EntryKind::symlink;
        char target[4096];
        const ssize_t length = ::readlinkat(reader.fd(), entry->d_name, target, sizeof target);
        if (length < 0 || static_cast<std::size_t>(length) >= sizeof target) continue;
        facts.link.assign(target, static_cast<std::size_t>(length));
        break;
      }
      default: continue;  // devices, fifos, sockets: left out, as at the top
    }
    out.push_back(std::move(facts));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

void list_nested_image_directories(RootfsImageFacts& image, const std::vector<std::string>& targets) {
  std::size_t budget = kMaxNestedEntries;
  for (const auto& target : targets) {
    std::vector<std::string> parts;
    for (std::size_t start = 1; start < target.size();) {
      const auto end = std::min(target.find('/', start), target.size());
      parts.push_back(target.substr(start, end - start));
      start = end + 1;
    }
    // A top-level target hides nothing below it; /etc, /proc and /dev keep their own rules.
    if (parts.size() < 2 || parts[0] == "etc" || parts[0] == "proc" || parts[0] == "dev") continue;
    UniqueFd dir(::open(image.tree.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!dir) throw_sys_error("open(" + quote(image.tree) + ", O_PATH|O_DIRECTORY)");
    std::string relative;
    for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
      UniqueFd next(::openat(dir.get(), parts[i].c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!next) break;  // a symlink, a file or missing: not followed
      dir = std::move(next);
      relative += (relative.empty() ? "" : "/") + parts[i];
      if (!image.nested.count(relative))
        image.nested[relative] = list_image_directory(dir.get(), image.tree + "/" + relative, budget);
    }
  }
}

// fd: the number the task gets; source: the fd that holds it here (the
// daemon's copy of its caller's fd, or fd itself).
PassedFdFacts passed_fd_facts(int fd, int source) {
  PassedFdFacts passed{fd, false, false};
  struct stat st {};
  const int flags = ::fcntl(source, F_GETFL);
  if (flags >= 0 && ::fstat(source, &st) == 0) {
    passed.open = true;
    passed.directory = S_ISDIR(st.st_mode) || (flags & O_PATH) == O_PATH;
  }
  return passed;
}

}  // namespace

void pin_bind_sources(TaskRequest& request) {
  for (auto& bind : request.binds) {
    if (bind.opened) continue;
    UniqueFd fd(::open(bind.source.c_str(), O_PATH | O_CLOEXEC));
    struct stat st {};
    if (!fd || ::fstat(fd.get(), &st) != 0) continue;
    const auto link = "/proc/self/fd/" + std::to_string(fd.get());
    std::string path(4096, '\0');
    const ssize_t n = ::readlink(link.c_str(), path.data(), path.size());
    if (n <= 0 || static_cast<std::size_t>(n) >= path.size()) throw_sys_error("readlink(" + quote(link) + ")");
    path.resize(static_cast<std::size_t>(n));
    // Not a path any more (unlinked meanwhile: " (deleted)"): the mount of
    // the given path fails or finds another inode, which is refused.
    if (path.front() != '/' || path.ends_with(" (deleted)")) {
      bind.opened = FileIdentity{st.st_dev, st.st_ino};
      continue;
    }
    bind.source = path;
    bind.opened = FileIdentity{st.st_dev, st.st_ino};
  }
}

HostFacts gather_host_facts(const TaskRequest& request, const Profile& tier, const DataClassInventory& inventory,
                            const HostView& view, const std::vector<std::string>& never_visible) {
  const auto widened = widen(tier, request);
  const Profile& profile = widened.profile;
  HostFacts facts;
  facts.today = today_utc();
  facts.data_classes_file = inventory.file.string();
  facts.data_classes_sha256 = inventory.sha256;
  facts.landlock_abi = kernel_landlock_abi();
  for (int resource : {RLIMIT_NOFILE, RLIMIT_NPROC, RLIMIT_FSIZE, RLIMIT_CORE, RLIMIT_STACK, RLIMIT_AS}) {
    struct rlimit limit {};
    if (::getrlimit(static_cast<__rlimit_resource>(resource), &limit) == 0) facts.rlimit_hard[resource] = limit.rlim_max;
  }
  for (std::size_t i = 0; i < request.pass_fds.size(); ++i) {
    const int fd = request.pass_fds[i];
    // What the task would get: the daemon's copy of the caller's fd.
    facts.passed_fds.push_back(passed_fd_facts(fd, i < request.pass_fd_sources.size() ? request.pass_fd_sources[i] : fd));
  }
  if (request.simulation && request.simulation->report_fd >= 0)
    facts.simulation_report_fd = passed_fd_facts(request.simulation->report_fd, request.simulation->report_fd);
  if (request.workspace) {
    const auto& given = *request.workspace;
    std::unique_ptr<char, decltype(&std::free)> resolved(::realpath(given.c_str(), nullptr), &std::free);
    if (!resolved)
      throw Error("--workspace " + quote(given.string()) + ": " + errno_text(errno) +
                      " (fix: pass an existing directory)", exit_code::runner_failed);
    struct stat st {};
    if (::stat(resolved.get(), &st) != 0) throw_sys_error("stat(" + quote(resolved.get()) + ")");
    // Through the daemon the path was read back from the fd the caller
    // opened: the directory checked and mounted must be that one (the mount
    // is checked against this stat in turn, stages/prepared_mounts.cpp).
    if (request.workspace_opened &&
        (st.st_dev != request.workspace_opened->device || st.st_ino != request.workspace_opened->inode))
      throw Error("--workspace " + quote(resolved.get()) + " changed while the launch was being prepared (fix: run again)",
                  exit_code::refused);
    struct statfs fs {};
    if (::statfs(resolved.get(), &fs) != 0) throw_sys_error("statfs(" + quote(resolved.get()) + ")");
    facts.workspace = WorkspaceFacts{resolved.get(), S_ISDIR(st.st_mode), st.st_uid, st.st_gid, st.st_dev, st.st_ino,
                                     static_cast<std::uint64_t>(fs.f_type)};
  }
  for (const auto& mount : profile.mounts) {
    // The tier's binds and the caller's alike (the planner refuses kernel
    // filesystems in both). A source that cannot be read here fails at
    // open_tree, naming it.
    if (mount.type != MountType::bind) continue;
    if (const auto magic = view.filesystem_of(mount.source)) facts.bind_filesystems[mount.source] = *magic;
    // A caller's (a bundle's mount): what a tier binds with its submounts
    // is its author's choice (tests/profiles/host-submounts.json binds /dev).
    if (mount.origin.rfind("--bind", 0) != 0) continue;
    if (const auto below = view.kernel_filesystem_below(mount.source))
      facts.bind_kernel_mounts_below[mount.source] = {below->mount_point, below->filesystem};
  }
  std::optional<std::string> workspace;
  if (facts.workspace && facts.workspace->is_directory) workspace = facts.workspace->canonical_path;
  facts.data_access = assess_data_access(profile, inventory, workspace, view, never_visible);
  if (request.container) facts.rootfs_image = container_root_facts(*request.container, never_visible);
  else if (profile.rootfs.is_image()) facts.rootfs_image = image_facts(rootfs::Store(request.rootfs_store), profile.rootfs.image);
  if (facts.rootfs_image) {
    std::vector<std::string> targets;
    for (const auto& mount : profile.mounts) targets.push_back(mount.target);
    if (facts.workspace) targets.push_back(profile.workspace.target);
    list_nested_image_directories(*facts.rootfs_image, targets);
  }
  if (!request.argv.empty() && profile.commands.allowed) {
    // The same PATH and working directory the child will use.
    std::string search_path = kDefaultPath;
    for (const auto& entry : build_environment(profile.environment, request.caller_env, request.env_overrides))
      if (entry.rfind("PATH=", 0) == 0) search_path = entry.substr(5);
    const std::string cwd = workspace ? profile.workspace.target : "/";
    facts.command = assess_command(profile, request.argv[0], search_path, cwd, workspace, view,
                                   facts.rootfs_image ? facts.rootfs_image->tree : "");
    if (request.simulation) admit_simulated_command(*facts.command, request.simulation->admitted_command_sha256, view);
  }
  // Only pinned names are resolved at launch; the run's resolver answers
  // the others during the run (a launch needs no working DNS).
  if (profile.network.mode == NetworkMode::allowlist && profile.network.names == NameResolution::pinned) {
    for (const auto& destination : profile.network.allow)
      if (!destination.host_name.empty() && !facts.resolved_names.count(destination.host_name))
        facts.resolved_names[destination.host_name] = resolve_ipv4(destination.host_name);
  }
  return facts;
}

}  // namespace tierbox::policy
