// A running run's cgroups, attached from its record by a control command
// (see AttachedRunCgroups in cgroup.h). The runner made them; this process
// only freezes, thaws, kills and reads them, with the same drivers.
#include "common/errors.h"
#include "policy/json_reader.h"
#include "stages/cgroup.h"
#include "stages/cgroup_internal.h"

namespace tierbox::stages {

using namespace cgroup_internal;

bool is_run_cgroup_of(const std::string& path, CgroupVersion version, const std::string& run_id,
                      const HostCgroups& host) {
  if (!policy::is_normalized_absolute_path(path)) return false;
  if (path.substr(path.rfind('/') + 1) != run_cgroup_name(run_id)) return false;
  for (const auto& hierarchy : host.hierarchies) {
    if (hierarchy.version == version && path.compare(0, hierarchy.mount_point.size() + 1, hierarchy.mount_point + "/") == 0)
      return true;
  }
  return false;
}

namespace {

bool has(CgroupSyscalls& syscalls, const std::string& dir, const char* file) {
  return syscalls.read_file(join(dir, file)).has_value();
}

}  // namespace

AttachedRunCgroups::AttachedRunCgroups(CgroupSyscalls& syscalls, const HostCgroups& host, const std::string& run_id,
                                       const std::vector<std::pair<std::string, CgroupVersion>>& dirs)
    : syscalls_(syscalls) {
  std::vector<CgroupDir> v1_dirs;
  for (const auto& [path, version] : dirs) {
    if (!is_run_cgroup_of(path, version, run_id, host))
      throw Error("cgroup " + quote(path) + " in the record of run " + run_id +
                      " is not a run cgroup of this host; left alone",
                  exit_code::runner_failed);
    if (!has(syscalls, path, "cgroup.procs")) continue;  // gone: the run ended
    CgroupDir dir{path, {}};
    if (has(syscalls, path, version == CgroupVersion::v1 ? "memory.usage_in_bytes" : "memory.current"))
      dir.uses.push_back(CgroupUse::memory);
    if (has(syscalls, path, "pids.current")) dir.uses.push_back(CgroupUse::pids);
    if (has(syscalls, path, version == CgroupVersion::v1 ? "cpu.cfs_quota_us" : "cpu.max")) dir.uses.push_back(CgroupUse::cpu);
    if (version == CgroupVersion::v2) {
      v2_ = make_cgroup_v2_driver(syscalls, dir);
    } else {
      if (has(syscalls, path, "freezer.state")) dir.uses.push_back(CgroupUse::freezer);
      v1_dirs.push_back(dir);
    }
  }
  if (!v1_dirs.empty()) v1_ = attach_cgroup_v1_driver(syscalls, v1_dirs);
}

bool AttachedRunCgroups::can_freeze() const {
  if (v2_) return true;
  if (!v1_) return false;
  for (const auto& dir : v1_->dirs())
    if (dir.serves(CgroupUse::freezer)) return true;
  return false;
}

void AttachedRunCgroups::freeze() {
  if (!can_freeze()) throw Error("the run has no freezer cgroup (no cgroup v2 and no v1 freezer hierarchy)", exit_code::runner_failed);
  (v2_ ? v2_ : v1_)->freeze();
}

void AttachedRunCgroups::thaw() {
  if (!can_freeze()) throw Error("the run has no freezer cgroup (no cgroup v2 and no v1 freezer hierarchy)", exit_code::runner_failed);
  (v2_ ? v2_ : v1_)->thaw();
}

bool AttachedRunCgroups::kill() {
  if (v2_) return v2_->kill();
  return v1_ && v1_->kill();
}

CgroupNow AttachedRunCgroups::now() {
  CgroupNow now;
  for (const auto* driver : {v2_.get(), v1_.get()}) {
    if (!driver) continue;
    const bool v2 = driver->version() == CgroupVersion::v2;
    for (const auto& dir : driver->dirs()) {
      if (dir.serves(CgroupUse::memory) && !now.memory_bytes) {
        if (auto text = syscalls_.read_file(join(dir.path, v2 ? "memory.current" : "memory.usage_in_bytes")))
          now.memory_bytes = number_in(*text);
      }
      if (dir.serves(CgroupUse::pids) && !now.pids) {
        if (auto text = syscalls_.read_file(join(dir.path, "pids.current"))) now.pids = number_in(*text);
      }
      if (v2 && !now.cpu_us) {
        if (auto stat = syscalls_.read_file(join(dir.path, "cpu.stat"))) now.cpu_us = keyed_value(*stat, "usage_usec");
      }
      if (!v2 && !now.cpu_us) {  // a cpuacct hierarchy, where the run has a directory there
        if (auto usage = syscalls_.read_file(join(dir.path, "cpuacct.usage"))) {
          if (auto ns = number_in(*usage)) now.cpu_us = *ns / 1000;
        }
      }
      if (v2 && !now.frozen) {
        if (auto events = syscalls_.read_file(join(dir.path, "cgroup.events")))
          now.frozen = keyed_value(*events, "frozen").value_or(0) == 1;
      }
      if (!v2 && !now.frozen && dir.serves(CgroupUse::freezer)) {
        if (auto state = syscalls_.read_file(join(dir.path, "freezer.state"))) now.frozen = state->rfind("FROZEN", 0) == 0;
      }
    }
  }
  return now;
}

RunLimits AttachedRunCgroups::limits() {
  RunLimits limits;
  for (auto* driver : {v2_.get(), v1_.get()})
    if (driver) driver->read_limits(limits);
  return limits;
}

void AttachedRunCgroups::set_limits(const RunLimits& change) {
  const auto now = limits();
  const std::pair<const char*, bool> missing[] = {{"memory", change.memory && !now.memory},
                                                  {"memory_swap", change.memory_swap && !now.memory_swap},
                                                  {"pids", change.pids && !now.pids},
                                                  {"cpu", change.cpu_millicores && !now.cpu_millicores}};
  for (const auto& [field, is_missing] : missing)
    if (is_missing)
      throw Error(std::string("limits.") + field + ": the run has no cgroup file for it (no such controller, or the run is ending)",
                  exit_code::runner_failed);
  for (auto* driver : {v2_.get(), v1_.get()})
    if (driver) driver->write_limits(change, now);
}

std::vector<pid_t> AttachedRunCgroups::processes() {
  for (const auto* driver : {v2_.get(), v1_.get()}) {
    if (!driver || driver->dirs().empty()) continue;
    // Every process of the task is in every one of its cgroups: one list is all.
    if (auto procs = syscalls_.read_file(join(driver->dirs().front().path, "cgroup.procs"))) return parse_pid_list(*procs);
  }
  return {};
}

}  // namespace tierbox::stages
