// Helpers shared by the cgroup v1 and v2 drivers (not part of the stage's
// interface; see cgroup.h).
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "stages/cgroup.h"

namespace tierbox::stages::cgroup_internal {

std::string join(const std::string& dir, const char* file);

// The number a one-value file holds ("4096\n"); nullopt for "max" or garbage.
std::optional<std::uint64_t> number_in(const std::string& text);

// A limit file's value as RunLimits holds it: "max" (v2) and "-1" or a
// number from 2^62 up (v1's unlimited, 9223372036854771712 on x86-64) are
// kCgroupUnlimited; nullopt for garbage.
std::optional<std::uint64_t> limit_in(const std::string& text);
// value as a limit file takes it; kCgroupUnlimited is unlimited_text ("max"
// on v2, "-1" on v1).
std::string limit_text(std::uint64_t value, const char* unlimited_text);

// mkdir of a run's cgroup; a missing parent is named with the fix.
void make_run_directory(CgroupSyscalls& syscalls, const std::string& dir);

// Throws SysError naming the file and the value.
void write_or_throw(CgroupSyscalls& syscalls, const std::string& path, std::string_view text);

// A limit and the files that can enforce it, tried in order (e.g. io.weight,
// then io.bfq.weight): the first that exists is written.
struct LimitFile {
  const char* field = "";  // the tier's field, e.g. "memory"
  bool required = true;
  std::uint64_t value = 0;  // as reported in CgroupReport::enforced
  std::vector<std::pair<const char*, std::string>> candidates;  // {file, text}
  // Set by tierbox itself, not by the tier (no swap when memory is limited
  // and memory_swap is not set): reported when written, never refused.
  bool implicit = false;
  const char* missing_reason = "";  // why the files may be missing, for the error
};

// Writes the limit into dir. No candidate file: refuses (required) or notes
// it in report.not_enforced; any other error throws SysError.
void write_limit(CgroupSyscalls& syscalls, const std::string& dir, const LimitFile& limit, const std::string& tier,
                 CgroupReport& report);

// Sends SIGKILL to every process listed in dir/cgroup.procs; how many there were.
std::size_t kill_listed(CgroupSyscalls& syscalls, const std::string& dir);

// rmdir(dir); while it is busy, kill_remaining() and retry, for about 2 s.
// A directory already gone is fine. Throws SysError if it stays.
void remove_directory(CgroupSyscalls& syscalls, const std::string& dir, const std::function<void()>& kill_remaining);

// Polls until read_file(path) starts with expected, for at most about 1 s.
bool wait_for_content(CgroupSyscalls& syscalls, const std::string& path, std::string_view expected);

}  // namespace tierbox::stages::cgroup_internal
