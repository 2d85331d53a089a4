#include "fake_mount_syscalls.h"

#include <fcntl.h>
#include <sys/mount.h>

#include <algorithm>

#include "common/errors.h"

namespace tierbox::testing {
namespace {

std::string mount_flags(unsigned long flags) {
  return describe_flags(flags, {{MS_RDONLY, "RDONLY"}, {MS_NOSUID, "NOSUID"}, {MS_NODEV, "NODEV"},
                                {MS_NOEXEC, "NOEXEC"}, {MS_REMOUNT, "REMOUNT"}, {MS_BIND, "BIND"},
                                {MS_REC, "REC"}, {MS_PRIVATE, "PRIVATE"}});
}

std::string attr_flags(std::uint64_t attr) {
  return describe_flags(attr, {{MOUNT_ATTR_RDONLY, "RDONLY"}, {MOUNT_ATTR_NOSUID, "NOSUID"},
                               {MOUNT_ATTR_NODEV, "NODEV"}, {MOUNT_ATTR_NOEXEC, "NOEXEC"}});
}

}  // namespace

int FakeMountSyscalls::record(const std::string& call, const std::string& key) {
  calls.push_back(call);
  auto it = failures.find(key);
  return it == failures.end() ? 0 : it->second;
}

int FakeMountSyscalls::make_directory(const char* path, mode_t) {
  return record(std::string("mkdir ") + path, std::string("mkdir ") + path);
}

int FakeMountSyscalls::make_file(const char* path, mode_t) {
  return record(std::string("mkfile ") + path, std::string("mkfile ") + path);
}

int FakeMountSyscalls::write_file(const char* path, const char* data, std::size_t size, mode_t mode) {
  char octal[8];
  std::snprintf(octal, sizeof octal, "%o", mode);
  return record(std::string("write ") + path + " " + octal + " " + std::string(data, size),
                std::string("write ") + path);
}

int FakeMountSyscalls::make_symlink(const char* destination, const char* path) {
  return record(std::string("symlink ") + path + " -> " + destination, std::string("symlink ") + path);
}

int FakeMountSyscalls::mount(const char* source, const char* target, const char* fstype, unsigned long flags,
                             const char* data) {
  return record(std::string("mount ") + (source ? source : "-") + " " + target + " " + (fstype ? fstype : "-") + " " +
                    mount_flags(flags) + (data ? std::string(" ") + data : ""),
                std::string("mount ") + target);
}

int FakeMountSyscalls::open_tree(const char* path, unsigned flags) {
  int rc = record(std::string("open_tree ") + path + ((flags & AT_RECURSIVE) ? " RECURSIVE" : ""),
                  std::string("open_tree ") + path);
  if (rc < 0) return rc;
  fd_paths_[next_fd_] = path;
  return next_fd_++;
}

int FakeMountSyscalls::mount_setattr(int fd, unsigned extra_flags, std::uint64_t attr_set, std::uint64_t,
                                     std::uint64_t propagation) {
  return record("mount_setattr " + fd_paths_[fd] + " " + attr_flags(attr_set) +
                    ((extra_flags & AT_RECURSIVE) ? " RECURSIVE" : "") + (propagation == MS_PRIVATE ? " PRIVATE" : ""),
                "mount_setattr " + fd_paths_[fd]);
}

int FakeMountSyscalls::move_mount(int fd, const char* target) {
  std::string from = fd_paths_.count(fd) ? fd_paths_[fd] : "fd" + std::to_string(fd);
  return record("move_mount " + from + " -> " + target, std::string("move_mount ") + target);
}

int FakeMountSyscalls::new_fd(const std::string& path) {
  fd_paths_[next_fd_] = path;
  return next_fd_++;
}

std::string FakeMountSyscalls::name_of(int fd) {
  if (fd == AT_FDCWD) return ".";
  return fd_paths_.count(fd) ? fd_paths_[fd] : "fd" + std::to_string(fd);
}

int FakeMountSyscalls::open_path(int dirfd, const char* path, bool beneath) {
  const std::string full = dirfd == AT_FDCWD ? std::string(path) : name_of(dirfd) + "/" + path;
  int rc = record("openat2 " + full + (beneath ? " BENEATH" : "") + " NO_SYMLINKS", "openat2 " + full);
  return rc < 0 ? rc : new_fd(full);
}

int FakeMountSyscalls::open_tree_of(int fd, unsigned flags) {
  const std::string path = name_of(fd);
  int rc = record("open_tree_of " + path + ((flags & AT_RECURSIVE) ? " RECURSIVE" : ""), "open_tree_of " + path);
  return rc < 0 ? rc : new_fd("clone of " + path);
}

int FakeMountSyscalls::move_mount_onto(int from_fd, int to_fd) {
  const std::string target = name_of(to_fd);
  return record("move_mount " + name_of(from_fd) + " onto " + target, "move_mount onto " + target);
}

int FakeMountSyscalls::empty_read_only_tmpfs() {
  int rc = record("fsmount tmpfs RDONLY", "fsmount tmpfs");
  return rc < 0 ? rc : new_fd("empty tmpfs");
}

int FakeMountSyscalls::is_directory(int fd) {
  std::string path = fd_paths_.count(fd) ? fd_paths_[fd] : "fd" + std::to_string(fd);
  return std::find(files.begin(), files.end(), path) == files.end() ? 1 : 0;
}

int FakeMountSyscalls::exists(const char* path) {
  // Not recorded: a query, not an action on the new root.
  return std::find(missing.begin(), missing.end(), path) == missing.end() ? 1 : 0;
}

int FakeMountSyscalls::close(int) { return 0; }

}  // namespace tierbox::testing
