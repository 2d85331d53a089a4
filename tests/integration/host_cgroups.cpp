#include "integration/host_cgroups.h"

#include <fstream>
#include <sstream>

namespace tierbox::testing {
namespace {

std::string file_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

bool has_word(const std::string& text, const std::string& word) {
  std::istringstream words(text);
  for (std::string each; words >> each;)
    if (each == word) return true;
  return false;
}

}  // namespace

stages::HostCgroups host_cgroups_of(pid_t pid) {
  const std::string proc = pid == 0 ? "/proc/self" : "/proc/" + std::to_string(pid);
  return stages::parse_host_cgroups({file_text(proc + "/cgroup"), file_text("/proc/self/mountinfo"), ""});
}

std::optional<stages::CgroupVersion> controller_version(const std::string& v2_name, const std::string& v1_name) {
  const auto host = host_cgroups_of();
  if (host.v1_with(v1_name)) return stages::CgroupVersion::v1;
  const auto* unified = host.unified();
  if (!unified) return std::nullopt;
  const auto own = unified->directory_of(unified->own_cgroup);
  if (!own.empty() && has_word(file_text(own + "/cgroup.controllers"), v2_name)) return stages::CgroupVersion::v2;
  return std::nullopt;
}

std::string own_cgroup_directory(const std::string& v2_name, const std::string& v1_name) {
  const auto host = host_cgroups_of();
  if (const auto* v1 = host.v1_with(v1_name)) return v1->directory_of(v1->own_cgroup);
  if (controller_version(v2_name, v1_name) == stages::CgroupVersion::v2)
    return host.unified()->directory_of(host.unified()->own_cgroup);
  return "";
}

std::string expected_cgroup_mode() {
  bool v1 = false, v2 = false;
  for (const char* controller : {"memory", "pids", "cpu"}) {
    const auto version = controller_version(controller, controller);
    v1 = v1 || version == stages::CgroupVersion::v1;
    v2 = v2 || version == stages::CgroupVersion::v2;
  }
  return v1 && v2 ? "mixed" : v1 ? "v1" : v2 ? "v2" : "none";
}

std::string expected_cgroup_kill() {
  const auto mode = expected_cgroup_mode();
  if (mode == "v2" || mode == "mixed") return "cgroup.kill";
  const auto host = host_cgroups_of();
  if (host.v1_with("freezer")) return "freezer";
  return host.unified() ? "cgroup.kill" : "none";
}

std::vector<std::string> cgroup_directories_of(pid_t pid, const std::string& marker) {
  std::vector<std::string> directories;
  for (const auto& hierarchy : host_cgroups_of(pid).hierarchies)
    if (hierarchy.own_cgroup.find(marker) != std::string::npos)
      directories.push_back(hierarchy.directory_of(hierarchy.own_cgroup));
  return directories;
}

bool is_v2_directory(const std::string& directory) {
  const auto host = host_cgroups_of();  // kept: unified() points into it
  const auto* unified = host.unified();
  return unified && stages::cgroup_path_is_within(directory, unified->mount_point);
}

}  // namespace tierbox::testing
