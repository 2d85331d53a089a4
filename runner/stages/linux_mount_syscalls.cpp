#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "stages/mount_syscalls.h"

namespace tierbox::stages {
namespace {
int result(int value) { return value < 0 ? -errno : value; }
}  // namespace

int LinuxMountSyscalls::make_directory(const char* path, mode_t mode) {
  if (::mkdir(path, mode) == 0) return 0;
  return errno == EEXIST ? 0 : -errno;
}

int LinuxMountSyscalls::make_file(const char* path, mode_t mode) {
  // O_NOFOLLOW | O_EXCL: never write through a symlink that is already there.
  int fd = ::open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0) return errno == EEXIST ? 0 : -errno;
  ::close(fd);
  return 0;
}

int LinuxMountSyscalls::write_file(const char* path, const char* data, std::size_t size, mode_t mode) {
  int fd = ::open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0) return -errno;
  std::size_t written = 0;
  while (written < size) {
    ssize_t n = ::write(fd, data + written, size - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return -err;
    }
    written += static_cast<std::size_t>(n);
  }
  // The umask must not widen or narrow what the plan asked for.
  if (::fchmod(fd, mode) != 0) {
    int err = errno;
    ::close(fd);
    return -err;
  }
  return result(::close(fd));
}

int LinuxMountSyscalls::make_symlink(const char* destination, const char* path) {
  return result(::symlink(destination, path));
}

int LinuxMountSyscalls::mount(const char* source, const char* target, const char* fstype, unsigned long flags,
                              const char* data) {
  return result(::mount(source, target, fstype, flags, data));
}

int LinuxMountSyscalls::open_tree(const char* path, unsigned flags) {
  return result(::open_tree(AT_FDCWD, path, flags));
}

int LinuxMountSyscalls::mount_setattr(int fd, unsigned extra_flags, std::uint64_t attr_set, std::uint64_t attr_clear,
                                      std::uint64_t propagation) {
  struct mount_attr attr {};
  attr.attr_set = attr_set;
  attr.attr_clr = attr_clear;
  attr.propagation = propagation;
  return result(::mount_setattr(fd, "", AT_EMPTY_PATH | extra_flags, &attr, sizeof attr));
}

int LinuxMountSyscalls::move_mount(int fd, const char* target) {
  return result(::move_mount(fd, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH));
}

int LinuxMountSyscalls::open_path(int dirfd, const char* path, bool beneath) {
  struct open_how how {};
  how.flags = O_PATH | O_CLOEXEC | O_NOFOLLOW;
  how.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | (beneath ? RESOLVE_BENEATH : 0);
  return result(static_cast<int>(::syscall(SYS_openat2, dirfd, path, &how, sizeof how)));
}

int LinuxMountSyscalls::open_tree_of(int fd, unsigned flags) {
  return result(::open_tree(fd, "", AT_EMPTY_PATH | flags));
}

int LinuxMountSyscalls::move_mount_onto(int from_fd, int to_fd) {
  return result(::move_mount(from_fd, "", to_fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH));
}

int LinuxMountSyscalls::empty_read_only_tmpfs() {
  int context = ::fsopen("tmpfs", FSOPEN_CLOEXEC);
  if (context < 0) return -errno;
  int mount_fd = -1;
  if (::fsconfig(context, FSCONFIG_SET_STRING, "size", "4k", 0) == 0 &&
      ::fsconfig(context, FSCONFIG_SET_STRING, "nr_inodes", "1", 0) == 0 &&
      ::fsconfig(context, FSCONFIG_SET_STRING, "mode", "0555", 0) == 0 &&
      ::fsconfig(context, FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) == 0)
    mount_fd = ::fsmount(context, FSMOUNT_CLOEXEC,
                         MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
  const int err = errno;
  ::close(context);
  return mount_fd >= 0 ? mount_fd : -err;
}

int LinuxMountSyscalls::is_directory(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return -errno;
  return S_ISDIR(st.st_mode) ? 1 : 0;
}

int LinuxMountSyscalls::exists(const char* path) {
  struct stat st {};
  if (::fstatat(AT_FDCWD, path, &st, AT_SYMLINK_NOFOLLOW) == 0) return 1;
  return errno == ENOENT ? 0 : -errno;
}

int LinuxMountSyscalls::close(int fd) { return result(::close(fd)); }

}  // namespace tierbox::stages
