// The agent's file system moves: credentials, writes outside the workspace,
// the ways out of the mount namespace, kernel knobs, filling a file system,
// flooding stdout.
#include <dirent.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "redteam/agent/agent.h"

namespace tierbox::redteam::agent {
namespace {

// Reads one byte: opening is not enough proof (a FUSE or /proc file may open
// and refuse the read).
std::string read_one_byte(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) return errno_name(errno);
  char byte;
  const auto n = ::read(fd, &byte, 1);
  const int err = errno;
  ::close(fd);
  return n >= 0 ? "ok" : errno_name(err);
}

std::vector<std::string> entries_of(const std::string& directory) {
  std::vector<std::string> names;
  if (DIR* dir = ::opendir(directory.c_str())) {
    while (auto* entry = ::readdir(dir)) {
      const std::string name = entry->d_name;
      if (name != "." && name != "..") names.push_back(name);
    }
    ::closedir(dir);
  }
  return names;
}

}  // namespace

json read_file(const std::string& path) {
  const auto result = read_one_byte(path);
  return outcome(result);
}

// Every regular file up to two levels below directory (~/.ssh/id_*,
// ~/.aws/credentials, ...); "ok" when any one could be read, naming it.
json read_tree(const std::string& directory) {
  struct stat st {};
  if (::lstat(directory.c_str(), &st) != 0) return failed_with(errno);
  json readable = json::array();
  std::vector<std::pair<std::string, int>> pending{{directory, 0}};
  while (!pending.empty() && readable.size() < 8) {
    auto [path, depth] = pending.back();
    pending.pop_back();
    for (const auto& name : entries_of(path)) {
      const auto child = path + "/" + name;
      struct stat entry {};
      if (::lstat(child.c_str(), &entry) != 0) continue;
      if (S_ISDIR(entry.st_mode) && depth < 2) pending.emplace_back(child, depth + 1);
      if (S_ISREG(entry.st_mode) && read_one_byte(child) == "ok") readable.push_back(child);
    }
  }
  return readable.empty() ? outcome("unreadable") : outcome("ok", readable);
}

// Creates a new file (O_EXCL, removed at once) or, when path exists, opens
// it for writing without writing: the open is the proof.
json write_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd >= 0) {
    ::close(fd);
    ::unlink(path.c_str());
    return outcome("ok", "created (and removed)");
  }
  if (errno != EEXIST) return failed_with(errno);
  return open_for_writing(path);
}

json open_for_writing(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) return failed_with(errno);
  struct stat st {};
  const bool is_null = ::fstat(fd, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3);
  ::close(fd);
  // A hidden protected path is /dev/null bound over the file: writable, and
  // what is written goes nowhere.
  if (is_null) return outcome("masked", "/dev/null stands in for it");
  return outcome("ok", "opened for writing (nothing written)");
}

// /proc/1/root of a pid namespace the sandbox shares with the host would be
// the host's root: "ok" when it is not the sandbox's own, or any process's
// root differs from ours.
json proc1_root() {
  struct stat root {};
  if (::stat("/", &root) != 0) return failed_with(errno);
  json other_roots = json::array();
  for (const auto& name : entries_of("/proc")) {
    if (name[0] < '1' || name[0] > '9') continue;
    struct stat st {};
    if (::stat(("/proc/" + name + "/root").c_str(), &st) != 0) continue;
    if (st.st_dev != root.st_dev || st.st_ino != root.st_ino) other_roots.push_back(std::stoi(name));
  }
  return other_roots.empty() ? outcome("same root") : outcome("ok", other_roots);
}

// An inherited directory fd (or any fd besides stdio) leads back to the
// host's tree: openat(fd, "..") walks out of the sandbox's root.
json leaked_fds(int attempt_fd, int report_fd) {
  json leaked = json::array();
  for (int fd = 3; fd < 1024; ++fd) {
    if (fd == attempt_fd || fd == report_fd || ::fcntl(fd, F_GETFD) < 0) continue;
    char target[512] = {};
    const auto n = ::readlink(("/proc/self/fd/" + std::to_string(fd)).c_str(), target, sizeof target - 1);
    leaked.push_back({{"fd", fd}, {"target", n > 0 ? std::string(target, static_cast<std::size_t>(n)) : "?"}});
  }
  return leaked.empty() ? outcome("none") : outcome("ok", leaked);
}

// open_by_handle_at opens any inode of a file system by its handle, past
// every bind mount (the 2014 Docker "shocker" escape).
json open_by_handle() {
  struct {
    struct file_handle handle;
    unsigned char bytes[128];
  } buffer {};
  buffer.handle.handle_bytes = sizeof buffer.bytes;
  int mount_id = 0;
  if (::name_to_handle_at(AT_FDCWD, "/usr", &buffer.handle, &mount_id, 0) != 0)
    return failed_with(errno, "name_to_handle_at(\"/usr\")");
  const int mount_fd = ::open("/usr", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (mount_fd < 0) return failed_with(errno, "open(\"/usr\")");
  const int fd = ::open_by_handle_at(mount_fd, &buffer.handle, O_RDONLY | O_CLOEXEC);
  const int err = errno;
  ::close(mount_fd);
  if (fd < 0) return failed_with(err);
  ::close(fd);
  return outcome("ok");
}

// A set-user-ID binary gains privilege at exec unless no_new_privs is set or
// its mount is nosuid: "ok" names such a binary that would work.
json setuid_binaries() {
  const bool no_new_privs = ::prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1;
  json found = json::array();
  json would_work = json::array();
  for (const char* directory : {"/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/lib/openssh", "/usr/libexec"}) {
    for (const auto& name : entries_of(directory)) {
      const auto path = std::string(directory) + "/" + name;
      struct stat st {};
      if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || !(st.st_mode & (S_ISUID | S_ISGID))) continue;
      found.push_back(path);
      struct statvfs fs {};
      const bool nosuid = ::statvfs(path.c_str(), &fs) == 0 && (fs.f_flag & ST_NOSUID);
      if (!nosuid && !no_new_privs) would_work.push_back(path);
    }
  }
  json detail{{"setuid_files", found}, {"no_new_privs", no_new_privs}};
  if (!would_work.empty()) {
    detail["effective"] = would_work;
    return outcome("ok", detail);
  }
  return outcome(found.empty() ? "none present" : "neutralised", detail);
}

// Making a set-user-ID file of one's own (always blocked: setuid_files).
json setuid_chmod() {
  const std::string path = "/tmp/.tierbox-redteam-setuid";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0700);
  if (fd < 0) return failed_with(errno, "no file to try it on (/tmp)");
  const int rc = ::fchmod(fd, 04755);
  const int err = errno;
  ::close(fd);
  ::unlink(path.c_str());
  return rc == 0 ? outcome("ok") : failed_with(err);
}

// Writes up to bytes into a new file at path, then removes it (keep: leaves
// it, so the runner can look at the host while it is there; it goes with the
// run's layer): "ok" when all of it fitted, else the errno that stopped it
// and how far it got.
json fill(const std::string& path, long long bytes, bool keep) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return failed_with(errno, "open");
  static char block[1 << 16];
  long long written = 0;
  int err = 0;
  while (written < bytes) {
    const auto n = ::write(fd, block, static_cast<std::size_t>(std::min<long long>(sizeof block, bytes - written)));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      err = n < 0 ? errno : ENOSPC;
      break;
    }
    written += n;
  }
  ::close(fd);
  if (!keep) ::unlink(path.c_str());
  return written >= bytes ? outcome("ok", json{{"written", written}}) : failed_with(err, json{{"written", written}});
}

json flood(long long bytes) {
  static char block[1 << 16];
  std::memset(block, 'x', sizeof block);
  long long written = 0;
  while (written < bytes) {
    const auto n = ::write(1, block, static_cast<std::size_t>(std::min<long long>(sizeof block, bytes - written)));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return failed_with(n < 0 ? errno : EIO, json{{"written", written}});
    written += n;
  }
  return outcome("ok", json{{"written", written}});
}

}  // namespace tierbox::redteam::agent
