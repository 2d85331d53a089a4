// What `tierbox gc` uses to find and remove the cgroups of runs whose
// runner died (launch/cleanup.cpp decides which ones may go).
#include "common/errors.h"
#include "stages/cgroup.h"
#include "stages/cgroup_internal.h"

namespace tierbox::stages {

using namespace cgroup_internal;

void remove_leftover_cgroup(CgroupSyscalls& syscalls, const std::string& path, CgroupVersion version) {
  if (version == CgroupVersion::v2) {
    auto driver = make_cgroup_v2_driver(syscalls, {path, {}});
    if (syscalls.read_file(join(path, "cgroup.procs"))) driver->kill();
    remove_directory(syscalls, path, [&] { driver->kill(); });
    return;
  }
  const bool freezer = syscalls.read_file(join(path, "freezer.state")).has_value();
  const auto kill_all = [&] {
    if (freezer) {
      // A runner that died between freezing and thawing leaves them frozen.
      write_or_throw(syscalls, join(path, "freezer.state"), "FROZEN");
      wait_for_content(syscalls, join(path, "freezer.state"), "FROZEN");
    }
    kill_listed(syscalls, path);
    if (freezer) write_or_throw(syscalls, join(path, "freezer.state"), "THAWED");
  };
  if (syscalls.read_file(join(path, "cgroup.procs"))) kill_all();
  remove_directory(syscalls, path, kill_all);
}

namespace {

void collect_run_cgroups(CgroupSyscalls& syscalls, const std::string& dir, CgroupVersion version, int depth,
                         std::vector<std::pair<std::string, CgroupVersion>>& found) {
  if (depth > 32) return;
  for (const auto& name : syscalls.list_directories(dir)) {
    const auto path = dir + "/" + name;
    if (!run_id_of_cgroup_name(name).empty()) found.emplace_back(path, version);
    else collect_run_cgroups(syscalls, path, version, depth + 1, found);
  }
}

}  // namespace

std::vector<std::pair<std::string, CgroupVersion>> find_run_cgroups(CgroupSyscalls& syscalls, const HostCgroups& host) {
  std::vector<std::pair<std::string, CgroupVersion>> found;
  for (const auto& hierarchy : host.hierarchies)
    collect_run_cgroups(syscalls, hierarchy.mount_point, hierarchy.version, 0, found);
  return found;
}

}  // namespace tierbox::stages
