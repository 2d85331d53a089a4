// A recording MountSyscalls: every call becomes one line of text, and chosen
// calls can be made to fail, so the mount stage's exact syscall sequence is
// asserted without root or a kernel.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "stages/mount_syscalls.h"

namespace tierbox::testing {

class FakeMountSyscalls final : public stages::MountSyscalls {
 public:
  std::vector<std::string> calls;
  // "call target" -> -errno to return, e.g. {"move_mount usr", -EPERM}.
  std::map<std::string, int> failures;
  // Paths for which is_directory() answers 0 (a file).
  std::vector<std::string> files;
  // Paths for which exists() answers 0; every other path exists.
  std::vector<std::string> missing;

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

 private:
  int record(const std::string& call, const std::string& key);
  int new_fd(const std::string& path);
  std::string name_of(int fd);
  std::map<int, std::string> fd_paths_;
  int next_fd_ = 100;
};

}  // namespace tierbox::testing
