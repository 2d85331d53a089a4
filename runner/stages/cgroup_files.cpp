// The file operations and small parsers the cgroup drivers share (see
// cgroup_internal.h), and the names of run cgroups.
#include <signal.h>

#include <algorithm>
#include <charconv>
#include <sstream>

#include "common/errors.h"
#include "stages/cgroup.h"
#include "stages/cgroup_internal.h"

namespace tierbox::stages {

namespace cgroup_internal {

std::string join(const std::string& dir, const char* file) { return dir + "/" + file; }

std::optional<std::uint64_t> number_in(const std::string& text) {
  std::uint64_t value = 0;
  const auto* end = text.data() + text.size();
  auto [next, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || (next != end && *next != '\n')) return std::nullopt;
  return value;
}

std::optional<std::uint64_t> limit_in(const std::string& text) {
  if (text.rfind("max", 0) == 0 || text.rfind("-1", 0) == 0) return kCgroupUnlimited;
  const auto value = number_in(text);
  if (value && *value >= (1ULL << 62)) return kCgroupUnlimited;
  return value;
}

std::string limit_text(std::uint64_t value, const char* unlimited_text) {
  return value == kCgroupUnlimited ? unlimited_text : std::to_string(value);
}

void make_run_directory(CgroupSyscalls& syscalls, const std::string& dir) {
  const int err = syscalls.make_directory(dir);
  if (err == 0) return;
  if (err == ENOENT)
    throw Error("cgroup: the parent cgroup " + dir.substr(0, dir.rfind('/')) +
                    " does not exist (fix: create it, or check --cgroup-parent and cgroup_parent)",
                exit_code::runner_failed);
  errno = err;
  throw_sys_error("mkdir(" + quote(dir) + ", 0755)");
}

void write_or_throw(CgroupSyscalls& syscalls, const std::string& path, std::string_view text) {
  if (int err = syscalls.write_file(path, text); err != 0) {
    errno = err;
    throw_sys_error("write(" + quote(path) + ", " + quote(text) + ")");
  }
}

void write_limit(CgroupSyscalls& syscalls, const std::string& dir, const LimitFile& limit, const std::string& tier,
                 CgroupReport& report) {
  for (const auto& [file, text] : limit.candidates) {
    const auto path = join(dir, file);
    const int err = syscalls.write_file(path, text);
    if (err == 0) {
      report.enforced.push_back({limit.field, limit.value});
      return;
    }
    if (err == ENOENT) continue;  // not on this host: try the next file
    errno = err;
    throw_sys_error("write(" + quote(path) + ", " + quote(text) + ")");
  }
  if (limit.implicit) return;
  const std::string reason = join(dir, limit.candidates.front().first) + " does not exist: " + limit.missing_reason;
  if (limit.required)
    throw Refusal("tier '" + tier + "' limits." + limit.field + ": this host cannot enforce it (" + reason +
                  "); fix: enable it on the host, or mark the limit {\"value\": ..., \"required\": false}");
  report.not_enforced.push_back(limit.field);
  report.warnings.push_back("limits." + std::string(limit.field) + " is not enforced on this host (" + reason + ")");
}

std::size_t kill_listed(CgroupSyscalls& syscalls, const std::string& dir) {
  const auto procs = syscalls.read_file(join(dir, "cgroup.procs"));
  if (!procs) return 0;
  const auto pids = parse_pid_list(*procs);
  // ESRCH: it died meanwhile. Nothing else can fail for root.
  for (pid_t pid : pids) syscalls.kill_process(pid, SIGKILL);
  return pids.size();
}

void remove_directory(CgroupSyscalls& syscalls, const std::string& dir, const std::function<void()>& kill_remaining) {
  // The task's processes have exited when its init is reaped, but the last
  // ones may still be leaving the cgroup (EBUSY) for a moment.
  constexpr int kAttempts = 400;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    const int err = syscalls.remove_directory(dir);
    if (err == 0 || err == ENOENT) return;
    if (err != EBUSY) {
      errno = err;
      throw_sys_error("rmdir(" + quote(dir) + ")");
    }
    if (attempt % 50 == 10) kill_remaining();
    syscalls.pause(std::chrono::microseconds(attempt < 20 ? 200 : 5000));
  }
  errno = EBUSY;
  throw_sys_error("rmdir(" + quote(dir) + ") (processes are still in it)");
}

bool wait_for_content(CgroupSyscalls& syscalls, const std::string& path, std::string_view expected) {
  for (int i = 0; i < 1000; ++i) {
    const auto text = syscalls.read_file(path);
    if (!text || text->compare(0, expected.size(), expected) == 0) return true;
    syscalls.pause(std::chrono::microseconds(i < 20 ? 100 : 2000));
  }
  return false;
}

}  // namespace cgroup_internal
const char* to_string(CgroupUse use) {
  switch (use) {
    case CgroupUse::memory: return "memory";
    case CgroupUse::pids: return "pids";
    case CgroupUse::cpu: return "cpu";
    case CgroupUse::io: return "io";
    case CgroupUse::freezer: return "freezer";
  }
  return "?";
}

bool CgroupDir::serves(CgroupUse use) const { return std::find(uses.begin(), uses.end(), use) != uses.end(); }

std::string run_cgroup_name(const std::string& run_id) { return "tierbox-" + run_id; }

std::string run_id_of_cgroup_name(const std::string& name) {
  constexpr std::string_view prefix = "tierbox-";
  if (name.size() <= prefix.size() || name.size() > prefix.size() + 64 || name.compare(0, prefix.size(), prefix) != 0)
    return "";
  const auto id = name.substr(prefix.size());
  const bool hex = std::all_of(id.begin(), id.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
  return hex ? id : "";
}

std::optional<std::uint64_t> keyed_value(const std::string& text, const std::string& key) {
  std::size_t start = 0;
  while (start < text.size()) {
    auto end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    if (end - start > key.size() && text.compare(start, key.size(), key) == 0 && text[start + key.size()] == ' ')
      return cgroup_internal::number_in(text.substr(start + key.size() + 1, end - start - key.size() - 1));
    start = end + 1;
  }
  return std::nullopt;
}

std::vector<pid_t> parse_pid_list(const std::string& text) {
  std::vector<pid_t> pids;
  std::istringstream in(text);
  pid_t pid;
  while (in >> pid)
    if (pid > 0) pids.push_back(pid);
  return pids;
}

}  // namespace tierbox::stages
