// Which cgroup hierarchies this host has, where they are mounted, and where
// the runner itself is in each: read once per launch from /proc/self/cgroup
// and /proc/self/mountinfo. Parsing is pure (parse_host_cgroups), so a test
// can describe any host: pure v2, v1, or this machine's mix (v1 controllers
// under /sys/fs/cgroup/<controller>, cgroup2 at /sys/fs/cgroup/unified).
#pragma once

#include <string>
#include <vector>

#include "stages/cgroup_syscalls.h"

namespace tierbox::stages {

enum class CgroupVersion { v1 = 1, v2 = 2 };

const char* to_string(CgroupVersion version);

// One mounted hierarchy.
struct CgroupHierarchy {
  CgroupVersion version = CgroupVersion::v2;
  std::string mount_point;  // where it is mounted on the host (with the inputs' prefix)
  std::string mount_root;   // which cgroup the mount shows at its top ("/" normally)
  std::string own_cgroup;   // the runner's cgroup in it, as in /proc/self/cgroup
  // v1: the controllers bound to it (named hierarchies such as name=systemd
  // are left out). v2: empty; which controllers a cgroup offers is read from
  // its cgroup.controllers.
  std::vector<std::string> controllers;

  // The host directory of cgroup path (e.g. "/process_api/x"), or "" when the
  // path is not visible through this mount.
  [[nodiscard]] std::string directory_of(const std::string& cgroup_path) const;
  [[nodiscard]] bool has_controller(const std::string& name) const;
};

struct HostCgroups {
  std::vector<CgroupHierarchy> hierarchies;

  [[nodiscard]] const CgroupHierarchy* unified() const;
  [[nodiscard]] const CgroupHierarchy* v1_with(const std::string& controller) const;
};

struct CgroupHostInputs {
  std::string self_cgroup;  // the text of /proc/self/cgroup
  std::string mountinfo;    // the text of /proc/self/mountinfo
  std::string prefix;       // put before every mount point: "" on a host, a fixture's directory in tests
};

HostCgroups parse_host_cgroups(const CgroupHostInputs& inputs);

// The real inputs, read through syscalls.
CgroupHostInputs read_host_cgroup_inputs(CgroupSyscalls& syscalls);

// Whether path equals ancestor or lies below it ("/a/b" is below "/a", "/ab" is not).
bool cgroup_path_is_within(const std::string& path, const std::string& ancestor);

}  // namespace tierbox::stages
