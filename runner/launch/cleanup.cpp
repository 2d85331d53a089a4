#include "launch/cleanup.h"

#include "common/errors.h"
#include "policy/json_reader.h"
#include "stages/network.h"
#include "stages/placeholders.h"

namespace tierbox::launch {

std::vector<std::string> clean_up_run_cgroups(const RunRecord& record, stages::CgroupSyscalls& syscalls,
                                              const stages::HostCgroups& host) {
  std::vector<std::string> removed;
  const auto cgroup = record.resources.find("cgroup");
  if (cgroup == record.resources.end() || !cgroup->is_object()) return removed;
  for (const auto& dir : cgroup->value("dirs", nlohmann::json::array())) {
    const auto path = dir.value("path", "");
    const auto version = dir.value("version", 0) == 1 ? stages::CgroupVersion::v1 : stages::CgroupVersion::v2;
    if (!stages::is_run_cgroup_of(path, version, cgroup_owner_id(record), host))
      throw Error("cgroup " + quote(path) + " in the record of run " + record.run_id +
                      " is not a run cgroup of this host; left alone", exit_code::runner_failed);
    if (!syscalls.age(path)) continue;  // already gone
    with_stage("cgroup", [&] { stages::remove_leftover_cgroup(syscalls, path, version); });
    removed.push_back("cgroup " + path);
  }
  return removed;
}

std::vector<std::string> clean_up_run_resources(const RunRecord& record) {
  std::vector<std::string> removed;
  // The sandbox's processes died with the runner (PR_SET_PDEATHSIG, and pid
  // namespace teardown), its mounts and namespaces with its last process.
  // What stays on the host is listed in the record's resources.
  // Leftover processes die with the cgroups, first; then what they used.
  stages::LinuxCgroupSyscalls syscalls;
  const auto host = stages::parse_host_cgroups(stages::read_host_cgroup_inputs(syscalls));
  for (auto& line : clean_up_run_cgroups(record, syscalls, host)) removed.push_back(std::move(line));
  // Protected-path placeholders it made in the workspace (unless another
  // live run still uses them).
  if (auto placeholders = record.resources.find("placeholders"); placeholders != record.resources.end()) {
    for (auto& line : stages::remove_recorded_placeholders(*placeholders)) removed.push_back(std::move(line));
  }
  if (record.resources.contains("network")) {
    for (auto& line : stages::clean_up_network(record.resources["network"])) removed.push_back("network: " + line);
  }
  return removed;
}

std::vector<std::pair<std::string, std::string>> clean_up_orphaned_cgroups(const RunRegistry& registry,
                                                                           stages::CgroupSyscalls& syscalls,
                                                                           const stages::HostCgroups& host) {
  std::vector<std::pair<std::string, std::string>> removed;
  for (const auto& [path, version] : stages::find_run_cgroups(syscalls, host)) {
    const auto run_id = stages::run_id_of_cgroup_name(path.substr(path.rfind('/') + 1));
    const auto listed = registry.find(run_id);
    if (listed && listed->runner_alive) continue;
    if (!listed) {
      // cgroupfs (kernfs) gives a directory the time its inode was first
      // instantiated, not made: "old" means seen at least that long ago,
      // which errs on the side of leaving it for a later gc.
      const auto procs = syscalls.read_file(path + "/cgroup.procs");
      const auto age = syscalls.age(path);
      if (!procs || !stages::parse_pid_list(*procs).empty() || !age || *age < RunRegistry::kLockGrace) continue;
    }
    stages::remove_leftover_cgroup(syscalls, path, version);
    removed.emplace_back(run_id, path);
  }
  return removed;
}

}  // namespace tierbox::launch
