// Readiness, host: what the kernel offers, and each tier in use that this
// host cannot enforce (its plan fails here, or it requires what is missing).
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <fstream>

#include "common/errors.h"
#include "policy/host_facts.h"
#include "readiness/readiness.h"
#include "redteam/runner.h"
#include "service/run_task.h"
#include "stages/cgroup_detect.h"
#include "stages/cgroup_syscalls.h"

namespace tierbox::readiness {
namespace {

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

// The kernel's version as major * 1000 + minor (6.1 -> 6001).
int kernel_version() {
  struct utsname names {};
  if (::uname(&names) != 0) return 0;
  int major = 0, minor = 0;
  std::sscanf(names.release, "%d.%d", &major, &minor);
  return major * 1000 + minor;
}

std::string first_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

bool file_mentions(const std::string& path, const std::string& text) {
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);)
    if (line.find(text) != std::string::npos) return true;
  return false;
}

// nf_tables loaded, built in or loadable. A built-in nf_tables has no
// /sys/module entry, and modules.builtin is not on every host: "" when
// nothing says either way.
std::string nftables_support() {
  struct utsname names {};
  ::uname(&names);
  const std::string modules = std::string("/lib/modules/") + names.release;
  if (exists("/sys/module/nf_tables") || file_mentions(modules + "/modules.builtin", "nf_tables.ko") ||
      file_mentions(modules + "/modules.dep", "nf_tables.ko"))
    return "yes";
  if (exists(modules + "/modules.builtin") && exists(modules + "/modules.dep"))
    return "no";
  return "";
}

struct HostSupport {
  std::vector<std::string> missing_namespaces;
  std::string cgroup_layout;  // v2, v1, hybrid
  std::vector<std::string> controllers;
  bool seccomp = false;
  bool seccomp_notify = false;
  int landlock_abi = 0;
  std::string nftables;  // "yes", or why it is not known (never a blocker then)
  bool idmapped_mounts = false;

  [[nodiscard]] bool has_controller(const std::string& name) const {
    return std::find(controllers.begin(), controllers.end(), name) != controllers.end();
  }
};

HostSupport probe_host() {
  HostSupport host;
  for (const char* ns : {"user", "mnt", "pid", "net", "ipc", "uts", "cgroup"})
    if (!exists(std::string("/proc/self/ns/") + ns)) host.missing_namespaces.push_back(ns);
  try {
    stages::LinuxCgroupSyscalls syscalls;
    const auto cgroups = stages::parse_host_cgroups(stages::read_host_cgroup_inputs(syscalls));
    bool v1 = false;
    for (const auto& hierarchy : cgroups.hierarchies) {
      if (hierarchy.version == stages::CgroupVersion::v1) {
        v1 = true;
        host.controllers.insert(host.controllers.end(), hierarchy.controllers.begin(), hierarchy.controllers.end());
      }
    }
    if (const auto* unified = cgroups.unified()) {
      std::ifstream in(unified->mount_point + "/cgroup.controllers");
      for (std::string name; in >> name;)
        if (std::find(host.controllers.begin(), host.controllers.end(), name) == host.controllers.end())
          host.controllers.push_back(name);
    }
    host.cgroup_layout = cgroups.unified() ? (v1 ? "hybrid" : "v2") : "v1";
  } catch (const Error&) {
    host.cgroup_layout = "none";
  }
  if (host.has_controller("blkio") && !host.has_controller("io")) host.controllers.push_back("io");  // v1's io_weight
  if (host.has_controller("cpu,cpuacct")) host.controllers.push_back("cpu");
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("Seccomp:", 0) == 0) host.seccomp = true;
  host.seccomp_notify = first_line("/proc/sys/kernel/seccomp/actions_avail").find("user_notif") != std::string::npos;
  host.landlock_abi = policy::kernel_landlock_abi();
  host.nftables = nftables_support();
  host.idmapped_mounts = kernel_version() >= 5012;  // mount_setattr with MOUNT_ATTR_IDMAP
  return host;
}

// Why the host cannot enforce tier, "" when it can.
std::string unenforceable(const policy::Profile& tier, const HostSupport& host) {
  std::string why;
  auto add = [&](const std::string& text) { why += (why.empty() ? "" : "; ") + text; };
  const auto& landlock = tier.landlock;
  if (landlock.mode == policy::LandlockMode::required && host.landlock_abi < landlock.minimum_abi)
    add("landlock requires ABI " + std::to_string(landlock.minimum_abi) + ", the kernel has " + std::to_string(host.landlock_abi));
  const auto& limits = tier.limits.cgroup;
  if (limits.memory.value && limits.memory.required && !host.has_controller("memory")) add("limits.memory needs the memory controller");
  if (limits.pids.value && limits.pids.required && !host.has_controller("pids")) add("limits.pids needs the pids controller");
  if (limits.cpu_millicores.value && limits.cpu_millicores.required && !host.has_controller("cpu")) add("limits.cpu needs the cpu controller");
  if (limits.io_weight.value && limits.io_weight.required && !host.has_controller("io")) add("limits.io_weight needs the io controller");
  if (tier.network.mode == policy::NetworkMode::allowlist && host.nftables == "no") add("network allowlist needs nftables (nf_tables)");
  if (!host.missing_namespaces.empty()) add("the kernel lacks namespaces");
  return why;
}

// The tier's plan on this host (a dry run: nothing launched or recorded);
// "" when it plans, else the planner's one line.
std::string plan_error(const std::string& tier, const Settings& settings, service::Launcher& planner) {
  std::string pattern = (std::filesystem::temp_directory_path() / "tierbox-readiness.XXXXXX").string();
  if (!::mkdtemp(pattern.data())) return "mkdtemp(" + pattern + "): " + std::strerror(errno);
  const std::filesystem::path workspace = pattern;
  service::RunSettings run;
  run.config_dirs = settings.config_dirs;
  run.audit_log = settings.audit_log;
  run.dry_run = true;
  const std::vector<std::string> argv{"/bin/true"};
  std::string error;
  try {
    const auto planned = service::run_task({tier, "", argv, [&] { return redteam::simulated_request(tier, workspace, argv); }},
                                           run, planner);
    if (planned.runner_error) error = planned.context.error;
  } catch (const Error& failed) {
    error = failed.what();
  }
  std::error_code ec;
  std::filesystem::remove_all(workspace, ec);
  return error;
}

}  // namespace

void check_host(const Settings& settings, const std::vector<policy::Profile>& tiers, service::Launcher& planner,
                Report& report) {
  const auto host = probe_host();
  auto info = [&](const std::string& name, bool ready, const std::string& reason, const std::string& fix, nlohmann::json detail = nullptr) {
    report.items.push_back({"host", name, ready, reason, ready ? "" : fix, std::move(detail)});
  };
  info("namespaces", host.missing_namespaces.empty(),
       host.missing_namespaces.empty() ? "user, mount, pid, network, ipc, uts and cgroup namespaces"
                                       : "missing: " + nlohmann::json(host.missing_namespaces).dump(),
       "a kernel built with CONFIG_NAMESPACES and each namespace type");
  info("cgroups", host.cgroup_layout != "none", "layout " + host.cgroup_layout + ", controllers " + nlohmann::json(host.controllers).dump(),
       "mount cgroup v2 (or the v1 memory, pids and cpu controllers)", host.controllers);
  info("seccomp", host.seccomp, host.seccomp ? std::string("filters") + (host.seccomp_notify ? " and user notification" : "")
                                             : "the kernel has no seccomp",
       "a kernel with CONFIG_SECCOMP_FILTER");
  info("landlock", true, "ABI " + std::to_string(host.landlock_abi) + (host.landlock_abi == 0 ? " (none: tiers that require it cannot run)" : ""), "");
  info("nftables", true,
       host.nftables == "yes" ? "nf_tables present"
       : host.nftables == "no" ? "nf_tables absent (allowlist tiers cannot run)"
                               : "unknown (built in without modules.builtin to say so; an allowlist launch will tell)",
       "");
  info("idmapped mounts", true, host.idmapped_mounts ? "yes (Linux 5.12 or later)" : "no (older than Linux 5.12)", "");
  for (const auto& tier : tiers) {
    auto why = unenforceable(tier, host);
    const auto planned = plan_error(tier.name, settings, planner);
    if (!planned.empty()) why += (why.empty() ? "" : "; ") + planned;
    report.items.push_back({"host", "tier " + tier.name, why.empty(),
                            why.empty() ? "the host can enforce it" : "the host cannot enforce it: " + why,
                            why.empty() ? "" : "run this tier on a host that has what it requires, or change the tier"});
  }
}

}  // namespace tierbox::readiness
