// A temp directory laid out like /sys/fs/cgroup, and a CgroupSyscalls that
// runs the real file operations on it while behaving like the kernel where a
// plain directory cannot: mkdir fills a new cgroup with its interface files,
// rmdir of a cgroup with processes fails with EBUSY, cgroup.subtree_control
// takes "+memory" edits, cgroup.kill and SIGKILL empty cgroup.procs. Every
// write, mkdir, rmdir and kill is recorded (paths relative to the fixture),
// so tests assert exactly what the stage did, in order. Nothing is ever sent
// to a real process.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

#include "common/temp_dir.h"
#include "stages/cgroup_detect.h"
#include "stages/cgroup_syscalls.h"

namespace tierbox::testing {

class FakeCgroupHost : public stages::CgroupSyscalls {
 public:
  FakeCgroupHost();

  // Host layouts. Each returns the inputs parse_host_cgroups() reads.
  // Pure cgroup v2 at /sys/fs/cgroup, the runner in own_cgroup, whose
  // cgroup.controllers lists controllers.
  stages::CgroupHostInputs pure_v2(const std::string& own_cgroup, const std::string& controllers = "cpu io memory pids");
  // This machine: v1 memory, pids, cpu, cpuacct, freezer, blkio under
  // /sys/fs/cgroup/<name> (the runner's memory cgroup is memory_cgroup), and
  // cgroup2 at /sys/fs/cgroup/unified with only hugetlb.
  stages::CgroupHostInputs this_machine(const std::string& memory_cgroup = "/process_api/abc");
  // v1 without a freezer and without cgroup2.
  stages::CgroupHostInputs v1_without_freezer();

  // Makes a cgroup directory with its files (as the kernel would).
  void make_cgroup(const std::string& relative);
  void set_file(const std::string& relative, const std::string& content);
  [[nodiscard]] std::string file(const std::string& relative) const;
  [[nodiscard]] bool exists(const std::string& relative) const;
  [[nodiscard]] std::string root() const { return dir_.str(); }

  // Every cgroup made from now on also has this file (a kernel feature).
  void add_to_new_cgroups(const std::string& name, const std::string& content) { extra_files_[name] = content; }
  // Cgroups made from now on lack this file (a kernel without the feature).
  void drop_from_new_cgroups(const std::string& name) { dropped_files_.push_back(name); }
  // The next write to a path ending in suffix fails with err.
  void fail_next_write(const std::string& suffix, int err) { write_failures_[suffix] = err; }
  // age() of a path ending in suffix.
  void set_age(const std::string& suffix, std::chrono::seconds age) { ages_[suffix] = age; }

  struct Write {
    std::string path;  // relative to the fixture root
    std::string text;
  };
  std::vector<Write> writes;
  std::vector<std::string> made;     // mkdir
  std::vector<std::string> removed;  // rmdir that succeeded
  std::vector<std::string> opened;   // open_for_writing
  std::vector<pid_t> killed;         // SIGKILLs "sent"
  int busy_rmdirs = 0;               // rmdirs refused with EBUSY

  // Writes to files ending in suffix, in order.
  [[nodiscard]] std::vector<std::string> writes_to(const std::string& suffix) const;

  std::optional<std::string> read_file(const std::string& path) override;
  int write_file(const std::string& path, std::string_view text) override;
  int make_directory(const std::string& path) override;
  int remove_directory(const std::string& path) override;
  UniqueFd open_directory(const std::string& path) override;
  UniqueFd open_for_writing(const std::string& path) override;
  std::vector<std::string> list_directories(const std::string& path) override;
  std::optional<std::chrono::seconds> age(const std::string& path) override;
  int kill_process(pid_t pid, int signal_number) override;
  void pause(std::chrono::microseconds) override {}

 private:
  std::string relative(const std::string& path) const;
  void fill_cgroup(const std::string& absolute);
  void empty_procs_everywhere(pid_t pid);

  TempDir dir_;
  stages::LinuxCgroupSyscalls real_;
  std::map<std::string, int> write_failures_;
  std::map<std::string, std::chrono::seconds> ages_;
  std::map<std::string, std::string> extra_files_;
  std::vector<std::string> dropped_files_;
};

}  // namespace tierbox::testing
