// The system calls the child's mount stage makes, behind an interface so unit
// tests can substitute a recording fake and assert, without root, exactly what
// is called in which order ("open_tree proc/sys, then mount_setattr RDONLY,
// then move_mount"). Every method returns >= 0 on success and -errno on
// failure, like the raw syscalls; none allocates.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>

namespace tierbox::stages {

class MountSyscalls {
 public:
  virtual ~MountSyscalls() = default;
  virtual int make_directory(const char* path, mode_t mode) = 0;
  // Creates an empty regular file (a mount point for a file bind).
  virtual int make_file(const char* path, mode_t mode) = 0;
  virtual int write_file(const char* path, const char* data, std::size_t size, mode_t mode) = 0;
  virtual int make_symlink(const char* destination, const char* path) = 0;
  virtual int mount(const char* source, const char* target, const char* fstype, unsigned long flags,
                    const char* data) = 0;
  // open_tree(AT_FDCWD, path, flags): returns the new fd.
  virtual int open_tree(const char* path, unsigned flags) = 0;
  // mount_setattr(fd, "", AT_EMPTY_PATH | extra_flags, {set, clear, propagation}).
  virtual int mount_setattr(int fd, unsigned extra_flags, std::uint64_t attr_set, std::uint64_t attr_clear,
                            std::uint64_t propagation) = 0;
  // move_mount(fd, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH).
  virtual int move_mount(int fd, const char* target) = 0;
  // openat2(dirfd, path, O_PATH|O_CLOEXEC|O_NOFOLLOW, RESOLVE_NO_SYMLINKS|
  // RESOLVE_NO_MAGICLINKS, plus RESOLVE_BENEATH when beneath): the entry
  // itself, never through a symlink; returns the new fd.
  virtual int open_path(int dirfd, const char* path, bool beneath) = 0;
  // open_tree(fd, "", AT_EMPTY_PATH | flags): returns the new fd.
  virtual int open_tree_of(int fd, unsigned flags) = 0;
  // move_mount(from, "", to, "", MOVE_MOUNT_F_EMPTY_PATH|MOVE_MOUNT_T_EMPTY_PATH).
  virtual int move_mount_onto(int from_fd, int to_fd) = 0;
  // A new detached, empty, read-only tmpfs (fsopen/fsconfig/fsmount): its fd.
  virtual int empty_read_only_tmpfs() = 0;
  // 1 when fd refers to a directory, 0 when not.
  virtual int is_directory(int fd) = 0;
  // 1 when path exists (not following a final symlink), 0 when not.
  virtual int exists(const char* path) = 0;
  virtual int close(int fd) = 0;
};

// The real thing.
class LinuxMountSyscalls final : public MountSyscalls {
 public:
  int make_directory(const char* path, mode_t mode) override;
  int make_file(const char* path, mode_t mode) override;
  int write_file(const char* path, const char* data, std::size_t size, mode_t mode) override;
  int make_symlink(const char* destination, const char* path) override;
  int mount(const char* source, const char* target, const char* fstype, unsigned long flags,
            const char* data) override;
  int open_tree(const char* path, unsigned flags) override;
  int mount_setattr(int fd, unsigned extra_flags, std::uint64_t attr_set, std::uint64_t attr_clear,
                    std::uint64_t propagation) override;
  int move_mount(int fd, const char* target) override;
  int open_path(int dirfd, const char* path, bool beneath) override;
  int open_tree_of(int fd, unsigned flags) override;
  int move_mount_onto(int from_fd, int to_fd) override;
  int empty_read_only_tmpfs() override;
  int is_directory(int fd) override;
  int exists(const char* path) override;
  int close(int fd) override;
};

}  // namespace tierbox::stages
