// Which cgroup layout this host has, read by tierbox's own detection
// (stages/cgroup_detect.h), so that a test checks what a run gets on cgroup
// v1, pure v2 (Debian 12 and 13, tools/vm) and this machine's hybrid (v1
// controllers plus a unified mount with none of them) alike, instead of
// assuming one.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "stages/cgroup_detect.h"

namespace tierbox::testing {

// The hierarchies, each with the cgroup of process pid (0: this one) in it.
stages::HostCgroups host_cgroups_of(pid_t pid = 0);

// Where a run's controller comes from, as the runner chooses it: v1 when a v1
// hierarchy has it, else v2 when this process's cgroup offers it; nullopt
// when neither. v1_name differs from v2_name only for io (blkio).
std::optional<stages::CgroupVersion> controller_version(const std::string& v2_name, const std::string& v1_name);

// The host directory of this process's cgroup that holds the controller:
// in the v1 hierarchy with it, else in the unified one; "" if neither.
std::string own_cgroup_directory(const std::string& v2_name, const std::string& v1_name);

// The result's cgroup.mode for a run limited in memory, pids and cpu (the
// untrusted tier): "v1", "v2" or "mixed".
std::string expected_cgroup_mode();
// The result's cgroup.kill for such a run: "cgroup.kill" when one of its
// controllers is on v2, "freezer" when all are on v1 and a v1 freezer exists.
std::string expected_cgroup_kill();

// The host directories of pid's cgroups whose path contains marker.
std::vector<std::string> cgroup_directories_of(pid_t pid, const std::string& marker);

// Whether a directory lies in the unified (v2) hierarchy.
bool is_v2_directory(const std::string& directory);

}  // namespace tierbox::testing
