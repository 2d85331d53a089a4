// The calls the cgroup stage makes, behind one small interface, so that unit
// tests can run the real v1 and v2 code against a temp directory laid out
// like /sys/fs/cgroup and record exactly what was written (see
// tests/unit/fake_cgroup.h). LinuxCgroupSyscalls is the real thing; it works
// on any directory, the fixture's included.
//
// Calls return 0 or an errno where the caller decides what an error means
// (ENOENT on a limit file: the host cannot enforce that limit; EBUSY on
// rmdir: processes are still leaving); the rest throw SysError.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/unique_fd.h"

namespace tierbox::stages {

class CgroupSyscalls {
 public:
  virtual ~CgroupSyscalls() = default;
  // The whole file, or nullopt if it does not exist.
  virtual std::optional<std::string> read_file(const std::string& path) = 0;
  // One write(2) of text; 0 or errno.
  virtual int write_file(const std::string& path, std::string_view text) = 0;
  virtual int make_directory(const std::string& path) = 0;
  virtual int remove_directory(const std::string& path) = 0;
  // An O_PATH directory fd (for clone3's CLONE_INTO_CGROUP).
  virtual UniqueFd open_directory(const std::string& path) = 0;
  // An O_WRONLY fd, for the child to write later (cgroup v1 `tasks`).
  virtual UniqueFd open_for_writing(const std::string& path) = 0;
  // Names of the subdirectories of path (none if it does not exist).
  virtual std::vector<std::string> list_directories(const std::string& path) = 0;
  // How long ago path was created (its mtime); nullopt if it does not exist.
  virtual std::optional<std::chrono::seconds> age(const std::string& path) = 0;
  virtual int kill_process(pid_t pid, int signal_number) = 0;
  // Between the polls of a bounded wait (the freezer settling, processes leaving).
  virtual void pause(std::chrono::microseconds duration) = 0;
};

class LinuxCgroupSyscalls final : public CgroupSyscalls {
 public:
  std::optional<std::string> read_file(const std::string& path) override;
  int write_file(const std::string& path, std::string_view text) override;
  int make_directory(const std::string& path) override;
  int remove_directory(const std::string& path) override;
  UniqueFd open_directory(const std::string& path) override;
  UniqueFd open_for_writing(const std::string& path) override;
  std::vector<std::string> list_directories(const std::string& path) override;
  std::optional<std::chrono::seconds> age(const std::string& path) override;
  int kill_process(pid_t pid, int signal_number) override;
  void pause(std::chrono::microseconds duration) override;
};

}  // namespace tierbox::stages
