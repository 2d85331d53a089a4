#include "stages/cgroup_detect.h"

#include <algorithm>
#include <string_view>

#include "common/errors.h"

namespace tierbox::stages {
namespace {

// Calls fn with each non-empty piece of text between separators. (Parsing
// runs on every launch: string_views, no streams.)
template <typename Fn>
void for_each_piece(std::string_view text, char separator, Fn&& fn) {
  while (!text.empty()) {
    const auto end = text.find(separator);
    if (const auto piece = text.substr(0, end); !piece.empty()) fn(piece);
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
}

// The next space-separated field of text, which is advanced past it.
std::string_view next_field(std::string_view& text) {
  const auto start = text.find_first_not_of(' ');
  if (start == std::string_view::npos) return text = {};
  text.remove_prefix(start);
  const auto field = text.substr(0, text.find(' '));
  text.remove_prefix(field.size());
  return field;
}

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape_mount_field(std::string_view field) {
  std::string out;
  for (std::size_t i = 0; i < field.size(); ++i) {
    const bool octal_escape = field[i] == '\\' && i + 3 < field.size() &&
                              std::all_of(field.begin() + static_cast<std::ptrdiff_t>(i + 1),
                                          field.begin() + static_cast<std::ptrdiff_t>(i + 4),
                                          [](char c) { return c >= '0' && c <= '7'; });
    if (octal_escape) {
      out += static_cast<char>((field[i + 1] - '0') * 64 + (field[i + 2] - '0') * 8 + (field[i + 3] - '0'));
      i += 3;
    } else {
      out += field[i];
    }
  }
  return out;
}

// The controllers a v1 hierarchy carries are the super options that name one.
constexpr const char* kV1Controllers[] = {"cpu",    "cpuacct", "cpuset",     "memory",  "devices", "freezer",
                                          "net_cls", "blkio",  "perf_event", "net_prio", "hugetlb", "pids",
                                          "rdma",   "misc"};

bool is_v1_controller(std::string_view name) {
  return std::any_of(std::begin(kV1Controllers), std::end(kV1Controllers), [&](const char* c) { return name == c; });
}

struct SelfEntry {
  bool unified = false;
  std::vector<std::string> controllers;  // sorted
  std::string path;
};

std::vector<std::string> v1_controllers_in(std::string_view list) {
  std::vector<std::string> controllers;
  for_each_piece(list, ',', [&](std::string_view name) {
    if (is_v1_controller(name)) controllers.emplace_back(name);
  });
  std::sort(controllers.begin(), controllers.end());
  return controllers;
}

// "4:memory:/process_api/x", "1:cpu,cpuacct:/", "0::/user.slice/..."
std::vector<SelfEntry> parse_self_cgroup(std::string_view text) {
  std::vector<SelfEntry> entries;
  for_each_piece(text, '\n', [&](std::string_view line) {
    const auto first = line.find(':');
    const auto second = first == std::string_view::npos ? first : line.find(':', first + 1);
    if (second == std::string_view::npos) return;
    SelfEntry entry;
    entry.unified = line.substr(0, first) == "0" && second == first + 1;
    entry.controllers = v1_controllers_in(line.substr(first + 1, second - first - 1));
    entry.path = line.substr(second + 1);
    if (entry.unified || !entry.controllers.empty()) entries.push_back(std::move(entry));
  });
  return entries;
}

struct CgroupMount {
  bool unified = false;
  std::vector<std::string> controllers;  // sorted
  std::string root;
  std::string mount_point;
};

// "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw"
std::vector<CgroupMount> parse_cgroup_mounts(std::string_view mountinfo) {
  std::vector<CgroupMount> mounts;
  for_each_piece(mountinfo, '\n', [&](std::string_view line) {
    const auto dash = line.find(" - ");
    if (dash == std::string_view::npos) return;
    auto right = line.substr(dash + 3);
    const auto fstype = next_field(right);
    if (fstype != "cgroup" && fstype != "cgroup2") return;
    next_field(right);  // source
    const auto options = next_field(right);
    auto left = line.substr(0, dash);
    for (int skip = 0; skip < 3; ++skip) next_field(left);  // id, parent id, device
    CgroupMount mount;
    mount.unified = fstype == "cgroup2";
    mount.root = unescape_mount_field(next_field(left));
    mount.mount_point = unescape_mount_field(next_field(left));
    if (!mount.unified) mount.controllers = v1_controllers_in(options);
    mounts.push_back(std::move(mount));
  });
  return mounts;
}

// The mount of a hierarchy through which the runner's own cgroup is visible
// (a host may bind one hierarchy in several places; the first will do).
const CgroupMount* find_mount(const std::vector<CgroupMount>& mounts, const SelfEntry& entry) {
  for (const auto& mount : mounts) {
    if (mount.unified != entry.unified || mount.controllers != entry.controllers) continue;
    if (cgroup_path_is_within(entry.path, mount.root)) return &mount;
  }
  return nullptr;
}

}  // namespace

const char* to_string(CgroupVersion version) { return version == CgroupVersion::v1 ? "v1" : "v2"; }

bool cgroup_path_is_within(const std::string& path, const std::string& ancestor) {
  if (ancestor == "/") return !path.empty() && path.front() == '/';
  return path == ancestor || (path.size() > ancestor.size() && path.compare(0, ancestor.size(), ancestor) == 0 &&
                              path[ancestor.size()] == '/');
}

std::string CgroupHierarchy::directory_of(const std::string& cgroup_path) const {
  if (!cgroup_path_is_within(cgroup_path, mount_root)) return "";
  std::string below = cgroup_path.substr(mount_root == "/" ? 0 : mount_root.size());
  if (below == "/") below.clear();
  return mount_point + below;
}

bool CgroupHierarchy::has_controller(const std::string& name) const {
  return std::find(controllers.begin(), controllers.end(), name) != controllers.end();
}

const CgroupHierarchy* HostCgroups::unified() const {
  for (const auto& hierarchy : hierarchies)
    if (hierarchy.version == CgroupVersion::v2) return &hierarchy;
  return nullptr;
}

const CgroupHierarchy* HostCgroups::v1_with(const std::string& controller) const {
  for (const auto& hierarchy : hierarchies)
    if (hierarchy.version == CgroupVersion::v1 && hierarchy.has_controller(controller)) return &hierarchy;
  return nullptr;
}

HostCgroups parse_host_cgroups(const CgroupHostInputs& inputs) {
  HostCgroups host;
  const auto mounts = parse_cgroup_mounts(inputs.mountinfo);
  for (const auto& entry : parse_self_cgroup(inputs.self_cgroup)) {
    const auto* mount = find_mount(mounts, entry);
    // Not mounted here (or our cgroup is outside what is mounted): unusable.
    if (!mount) continue;
    CgroupHierarchy hierarchy;
    hierarchy.version = entry.unified ? CgroupVersion::v2 : CgroupVersion::v1;
    hierarchy.mount_point = inputs.prefix + mount->mount_point;
    hierarchy.mount_root = mount->root;
    hierarchy.own_cgroup = entry.path;
    hierarchy.controllers = entry.controllers;
    host.hierarchies.push_back(std::move(hierarchy));
  }
  return host;
}

CgroupHostInputs read_host_cgroup_inputs(CgroupSyscalls& syscalls) {
  CgroupHostInputs inputs;
  auto self = syscalls.read_file("/proc/self/cgroup");
  auto mountinfo = syscalls.read_file("/proc/self/mountinfo");
  if (!self || !mountinfo) throw Error("cgroup: /proc/self/cgroup or /proc/self/mountinfo is missing (is /proc mounted?)",
                                       exit_code::runner_failed);
  inputs.self_cgroup = std::move(*self);
  inputs.mountinfo = std::move(*mountinfo);
  return inputs;
}

}  // namespace tierbox::stages
