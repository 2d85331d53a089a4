#include "unit/fake_cgroup.h"

#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "stages/cgroup.h"

namespace fs = std::filesystem;

namespace tierbox::testing {
namespace {

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string read_all(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void write_all(const fs::path& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

// The interface files of a new cgroup, by hierarchy (the first component
// below /sys/fs/cgroup; "" for pure v2 mounted there).
std::map<std::string, std::string> files_for(const std::string& hierarchy, const std::string& v2_controllers) {
  std::map<std::string, std::string> files = {{"cgroup.procs", ""}};
  if (!hierarchy.empty() && hierarchy != "unified") files.insert({"tasks", ""});
  const auto has = [&](const char* name) { return (" " + v2_controllers + " ").find(std::string(" ") + name + " ") != std::string::npos; };
  if (hierarchy.empty() || hierarchy == "unified") {
    files.insert({{"cgroup.kill", ""}, {"cgroup.freeze", "0\n"}, {"cgroup.events", "populated 0\nfrozen 0\n"},
                  {"cgroup.controllers", v2_controllers + "\n"}, {"cgroup.subtree_control", "\n"},
                  {"cpu.stat", "usage_usec 0\nuser_usec 0\nsystem_usec 0\n"}});
    if (has("memory"))
      files.insert({{"memory.max", "max\n"}, {"memory.swap.max", "max\n"}, {"memory.peak", "0\n"},
                    {"memory.events", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n"}});
    if (has("pids")) files.insert({{"pids.max", "max\n"}, {"pids.peak", "0\n"}, {"pids.events", "max 0\n"}});
    if (has("cpu")) files.insert({{"cpu.max", "max 100000\n"}, {"cpu.weight", "100\n"}});
    if (has("io")) files.insert({{"io.weight", "default 100\n"}});
    return files;
  }
  if (hierarchy == "memory")
    files.insert({{"memory.limit_in_bytes", "9223372036854771712\n"},
                  {"memory.memsw.limit_in_bytes", "9223372036854771712\n"},
                  {"memory.max_usage_in_bytes", "0\n"},
                  {"memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n"}});
  if (hierarchy == "pids") files.insert({{"pids.max", "max\n"}, {"pids.peak", "0\n"}, {"pids.events", "max 0\n"}});
  if (hierarchy == "cpu")
    files.insert({{"cpu.cfs_quota_us", "-1\n"}, {"cpu.cfs_period_us", "100000\n"},
                  {"cpu.stat", "nr_periods 0\nnr_throttled 0\nthrottled_time 0\n"}});
  if (hierarchy == "freezer") files.insert({{"freezer.state", "THAWED\n"}});
  return files;
}

constexpr const char* kThisMachineMountinfo =
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
    "33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer\n"
    "38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio\n"
    "39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
    "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";

}  // namespace

FakeCgroupHost::FakeCgroupHost() : dir_("tierbox-cgroup-fixture") {}

std::string FakeCgroupHost::relative(const std::string& path) const {
  const auto root = dir_.str();
  return path.compare(0, root.size(), root) == 0 ? path.substr(root.size()) : path;
}

void FakeCgroupHost::make_cgroup(const std::string& relative_path) {
  fs::create_directories(dir_.path() / relative_path.substr(1));
  fill_cgroup(dir_.str() + relative_path);
}

void FakeCgroupHost::fill_cgroup(const std::string& absolute) {
  const auto rel = relative(absolute);  // /sys/fs/cgroup/<hierarchy>/...
  // In a v1 layout each hierarchy is a directory below /sys/fs/cgroup
  // ("unified" is this machine's cgroup2); pure v2 is mounted there itself.
  std::string hierarchy;
  const std::string base = "/sys/fs/cgroup/";
  const bool v1_layout = exists("/sys/fs/cgroup/memory") || exists("/sys/fs/cgroup/pids");
  if (v1_layout && rel.compare(0, base.size(), base) == 0) {
    hierarchy = rel.substr(base.size());
    hierarchy = hierarchy.substr(0, hierarchy.find('/'));
  }
  // A v2 child offers what its parent enabled in cgroup.subtree_control.
  std::string v2_controllers;
  const auto parent = fs::path(absolute).parent_path() / "cgroup.subtree_control";
  if (fs::exists(parent)) {
    v2_controllers = read_all(parent);
    while (!v2_controllers.empty() && v2_controllers.back() == '\n') v2_controllers.pop_back();
  }
  auto files = files_for(hierarchy, v2_controllers);
  for (const auto& [name, content] : extra_files_) files[name] = content;
  for (const auto& name : dropped_files_) files.erase(name);
  for (const auto& [name, content] : files) {
    if (!fs::exists(fs::path(absolute) / name)) write_all(fs::path(absolute) / name, content);
  }
}

void FakeCgroupHost::set_file(const std::string& relative_path, const std::string& content) {
  fs::create_directories((dir_.path() / relative_path.substr(1)).parent_path());
  write_all(dir_.path() / relative_path.substr(1), content);
}

std::string FakeCgroupHost::file(const std::string& relative_path) const {
  return read_all(dir_.path() / relative_path.substr(1));
}

bool FakeCgroupHost::exists(const std::string& relative_path) const {
  return fs::exists(dir_.path() / relative_path.substr(1));
}

stages::CgroupHostInputs FakeCgroupHost::pure_v2(const std::string& own_cgroup, const std::string& controllers) {
  set_file("/sys/fs/cgroup/cgroup.controllers", controllers + "\n");
  set_file("/sys/fs/cgroup/cgroup.subtree_control", controllers + "\n");
  set_file("/sys/fs/cgroup/cgroup.procs", "");
  std::string path;
  std::istringstream parts(own_cgroup);
  std::string part;
  std::getline(parts, part, '/');
  // Ancestors hand every controller down (as systemd does for its slices);
  // the runner's own cgroup enables none yet.
  while (std::getline(parts, part, '/')) {
    if (!path.empty()) set_file("/sys/fs/cgroup" + path + "/cgroup.subtree_control", controllers + "\n");
    path += "/" + part;
    make_cgroup("/sys/fs/cgroup" + path);
  }
  return {"0::" + own_cgroup + "\n",
          "24 1 0:22 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n",
          dir_.str()};
}

stages::CgroupHostInputs FakeCgroupHost::this_machine(const std::string& memory_cgroup) {
  for (const char* name : {"cpu", "cpuacct", "memory", "freezer", "blkio", "pids", "systemd", "unified"})
    fs::create_directories(dir_.path() / "sys/fs/cgroup" / name);
  set_file("/sys/fs/cgroup/unified/cgroup.controllers", "hugetlb\n");
  set_file("/sys/fs/cgroup/unified/cgroup.subtree_control", "\n");
  set_file("/sys/fs/cgroup/unified/cgroup.procs", "");
  std::string path;
  std::istringstream parts(memory_cgroup);
  std::string part;
  std::getline(parts, part, '/');
  while (std::getline(parts, part, '/')) {
    path += "/" + part;
    make_cgroup("/sys/fs/cgroup/memory" + path);
  }
  return {"9:name=systemd:/\n8:pids:/\n7:blkio:/\n6:freezer:/\n4:memory:" + memory_cgroup +
              "\n2:cpuacct:/\n1:cpu:/\n0::/\n",
          kThisMachineMountinfo, dir_.str()};
}

stages::CgroupHostInputs FakeCgroupHost::v1_without_freezer() {
  for (const char* name : {"memory", "pids"}) fs::create_directories(dir_.path() / "sys/fs/cgroup" / name);
  return {"8:pids:/\n4:memory:/\n",
          "35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
          "39 31 0:36 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n",
          dir_.str()};
}

std::vector<std::string> FakeCgroupHost::writes_to(const std::string& suffix) const {
  std::vector<std::string> texts;
  for (const auto& write : writes)
    if (ends_with(write.path, suffix)) texts.push_back(write.text);
  return texts;
}

std::optional<std::string> FakeCgroupHost::read_file(const std::string& path) { return real_.read_file(path); }

int FakeCgroupHost::write_file(const std::string& path, std::string_view text) {
  writes.push_back({relative(path), std::string(text)});
  for (auto it = write_failures_.begin(); it != write_failures_.end(); ++it) {
    if (ends_with(path, it->first)) {
      const int err = it->second;
      write_failures_.erase(it);
      return err;
    }
  }
  if (!fs::exists(path)) return ENOENT;
  if (ends_with(path, "/cgroup.subtree_control")) {
    // "+memory +pids" edits the set the file shows ("memory pids").
    std::istringstream current(read_all(path));
    std::vector<std::string> enabled;
    std::string word;
    while (current >> word) enabled.push_back(word);
    std::istringstream edits{std::string(text)};
    while (edits >> word) {
      const auto name = word.substr(1);
      enabled.erase(std::remove(enabled.begin(), enabled.end(), name), enabled.end());
      if (word[0] == '+') enabled.push_back(name);
    }
    std::string joined;
    for (const auto& name : enabled) joined += (joined.empty() ? "" : " ") + name;
    write_all(path, joined + "\n");
    return 0;
  }
  if (ends_with(path, "/cgroup.kill")) {
    write_all(fs::path(path).parent_path() / "cgroup.procs", "");
    return 0;
  }
  if (ends_with(path, "/cgroup.procs")) {
    // Joining a cgroup adds to its list (one pid per write).
    auto procs = read_all(path);
    write_all(path, procs + std::string(text) + "\n");
    return 0;
  }
  return real_.write_file(path, text);
}

int FakeCgroupHost::make_directory(const std::string& path) {
  const int err = real_.make_directory(path);
  if (err == 0) {
    made.push_back(relative(path));
    fill_cgroup(path);
  }
  return err;
}

int FakeCgroupHost::remove_directory(const std::string& path) {
  if (!fs::exists(path)) return ENOENT;
  const auto procs = read_all(fs::path(path) / "cgroup.procs");
  if (!stages::parse_pid_list(procs).empty()) {
    ++busy_rmdirs;
    return EBUSY;
  }
  for (const auto& entry : fs::directory_iterator(path))
    if (entry.is_directory()) return EBUSY;  // a child cgroup
  fs::remove_all(path);
  removed.push_back(relative(path));
  return 0;
}

UniqueFd FakeCgroupHost::open_directory(const std::string& path) { return real_.open_directory(path); }

UniqueFd FakeCgroupHost::open_for_writing(const std::string& path) {
  opened.push_back(relative(path));
  return real_.open_for_writing(path);
}

std::vector<std::string> FakeCgroupHost::list_directories(const std::string& path) {
  return real_.list_directories(path);
}

std::optional<std::chrono::seconds> FakeCgroupHost::age(const std::string& path) {
  if (!fs::exists(path)) return std::nullopt;
  for (const auto& [suffix, age] : ages_)
    if (ends_with(path, suffix)) return age;
  return std::chrono::seconds(0);
}

int FakeCgroupHost::kill_process(pid_t pid, int signal_number) {
  if (signal_number == SIGKILL) {
    killed.push_back(pid);
    empty_procs_everywhere(pid);
  }
  return 0;
}

void FakeCgroupHost::empty_procs_everywhere(pid_t pid) {
  for (const auto& entry : fs::recursive_directory_iterator(dir_.path())) {
    if (entry.path().filename() != "cgroup.procs") continue;
    auto pids = stages::parse_pid_list(read_all(entry.path()));
    pids.erase(std::remove(pids.begin(), pids.end(), pid), pids.end());
    std::string text;
    for (pid_t left : pids) text += std::to_string(left) + "\n";
    write_all(entry.path(), text);
  }
}

}  // namespace tierbox::testing
