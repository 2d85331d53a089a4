#include "policy/widening.h"

#include <algorithm>
#include <cstdio>

#include "common/errors.h"
#include "common/units.h"
#include "policy/json_reader.h"

namespace tierbox::policy {
namespace {

bool is_under(const std::string& path, const std::string& dir) {
  if (dir == "/") return true;
  return path == dir || (path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 && path[dir.size()] == '/');
}

bool overlaps(const std::string& a, const std::string& b) { return is_under(a, b) || is_under(b, a); }

std::string cores_text(std::uint32_t millicores) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", static_cast<double>(millicores) / 1000.0);
  return text;
}

// An extra bind lands on a path of its own: never over what the tier mounts
// (a caller's /usr/bin over the tier's would defeat allowed_commands), the
// workspace, the secrets, or what tierbox builds itself.
void check_bind_target(const Profile& tier, const ExtraBind& bind, const std::string& flag) {
  if (!is_normalized_absolute_path(bind.source) || !is_normalized_absolute_path(bind.target))
    throw Error(flag + ": expected SOURCE:TARGET, both absolute paths without . or .. (e.g. /srv/data:/data)",
                exit_code::runner_failed);
  for (const char* reserved : {"/proc", "/dev", "/etc"}) {
    if (bind.target == "/" || is_under(bind.target, reserved))
      throw Refusal(flag + ": " + bind.target + " is built by tierbox itself (fix: a target of its own, e.g. /data)");
  }
  for (const auto& mount : tier.mounts)
    if (overlaps(bind.target, mount.target))
      throw Refusal(flag + ": the target overlaps the tier's " + to_string(mount.type) + " mount " + mount.target +
                    " (fix: a target of its own, e.g. /data)");
  if (overlaps(bind.target, tier.workspace.target))
    throw Refusal(flag + ": the target overlaps the workspace " + tier.workspace.target);
  if (!tier.secrets.names.empty() && overlaps(bind.target, tier.secrets.target))
    throw Refusal(flag + ": the target overlaps the secrets directory " + tier.secrets.target);
}

void widen_binds(const TaskRequest& request, WidenedProfile& out, const Profile& tier) {
  for (const auto& bind : request.binds) {
    const std::string flag = std::string(bind.writable ? "--bind-rw " : "--bind ") + bind.source + ":" + bind.target;
    const auto allowed = tier.widening.binds;
    if (allowed == BindWidening::none || (bind.writable && allowed != BindWidening::read_write))
      throw Refusal(flag + ": tier '" + tier.name + "' allows " +
                    (allowed == BindWidening::none ? std::string("no extra binds") : "only read-only extra binds (--bind)") +
                    " (widening.binds is \"" + to_string(allowed) + "\")");
    check_bind_target(tier, bind, flag);
    for (const auto& earlier : out.profile.mounts)
      if (earlier.origin.rfind("--bind", 0) == 0 && overlaps(earlier.target, bind.target))
        throw Refusal(flag + ": the target overlaps " + earlier.origin);
    MountSpec mount;
    mount.type = MountType::bind;
    mount.source = bind.source;
    mount.target = bind.target;
    mount.writable = bind.writable;
    mount.origin = flag;
    if (bind.opened) {
      mount.opened_device = bind.opened->device;
      mount.opened_inode = bind.opened->inode;
    }
    // The daemon's caller's --bind-rw (daemon/session.cpp decides): mounted
    // id-mapped, so what the task creates there is the caller's, not the
    // run's slot uid's (which a later run of another user may get).
    if (bind.writable) {
      mount.idmap_from_uid = bind.idmap_from_uid;
      mount.idmap_from_gid = bind.idmap_from_gid;
    }
    out.profile.mounts.push_back(mount);
    out.items.push_back({bind.writable ? "bind_rw" : "bind", flag});
  }
}

void widen_network(const TaskRequest& request, WidenedProfile& out, const Profile& tier) {
  for (const auto& text : request.allow_net) {
    const std::string flag = "--allow-net " + text;
    if (!tier.widening.network)
      throw Refusal(flag + ": tier '" + tier.name + "' does not let a caller add network destinations (widening.network)");
    auto parsed = net::parse_destination(text);
    if (auto* error = std::get_if<std::string>(&parsed)) throw Error(flag + ": " + *error, exit_code::runner_failed);
    auto& network = out.profile.network;
    // A tier without a network gets one with exactly these destinations.
    if (network.mode == NetworkMode::none) {
      network.mode = NetworkMode::allowlist;
      network.mode_origin = "--allow-net";
    }
    network.allow.push_back(std::get<net::Destination>(parsed));
    out.items.push_back({"network", flag});
  }
}

// A limit below the tier's is always fine (it only narrows); above it only
// up to the tier's widening.limits ceiling.
template <typename T>
void widen_limit(const std::optional<T>& requested, CgroupLimit<T>& limit, const std::optional<T>& ceiling,
                 const std::string& key, const std::string& flag, std::string (*text)(T), WidenedProfile& out,
                 const Profile& tier) {
  if (!requested) return;
  const bool raises = limit.value && *requested > *limit.value;
  if (raises) {
    if (!ceiling || *requested > *ceiling)
      throw Refusal(flag + " " + text(*requested) + ": above tier '" + tier.name + "' limits." + key + " (" +
                    text(*limit.value) + ")" +
                    (ceiling ? ", and above the most a caller may ask for, widening.limits." + key + " (" + text(*ceiling) + ")"
                             : "; the tier lets no caller raise it (widening.limits." + key + ")"));
    out.items.push_back({key, flag + " " + text(*requested) + " (tier: " + text(*limit.value) + ")"});
  }
  limit.value = *requested;
}

std::string size_text(std::uint64_t bytes) { return format_size(bytes); }
std::string count_text(std::uint64_t count) { return std::to_string(count); }
std::string millicores_text(std::uint32_t millicores) { return cores_text(millicores); }

void widen_limits(const TaskRequest& request, WidenedProfile& out, const Profile& tier) {
  auto& cgroup = out.profile.limits.cgroup;
  const auto& ceilings = tier.widening;
  if (request.memory && *request.memory < (1ULL << 20)) throw Refusal("--memory: at least 1M");
  if (request.pids && *request.pids == 0) throw Refusal("--pids: at least 1");
  if (request.cpu_millicores && *request.cpu_millicores < 10) throw Refusal("--cpu: at least 0.01 cores");
  widen_limit(request.memory, cgroup.memory, ceilings.memory, "memory", "--memory", size_text, out, tier);
  widen_limit(request.pids, cgroup.pids, ceilings.pids, "pids", "--pids", count_text, out, tier);
  widen_limit(request.cpu_millicores, cgroup.cpu_millicores, ceilings.cpu_millicores, "cpu", "--cpu", millicores_text,
              out, tier);
  // --timeout longer than the tier's wall time: the planner then takes it as
  // the run's wall time; shorter ones it takes anyway.
  if (request.timeout && *request.timeout > tier.limits.wall_time) {
    const auto& ceiling = ceilings.wall_time;
    const std::string flag = "--timeout " + format_duration(*request.timeout);
    if (!ceiling || *request.timeout > *ceiling)
      throw Refusal(flag + " exceeds tier '" + tier.name + "' limits.wall_time (" + format_duration(tier.limits.wall_time) +
                    ")" +
                    (ceiling ? ", and the most a caller may ask for, widening.limits.wall_time (" + format_duration(*ceiling) + ")"
                             : "; --timeout may only shorten it (widening.limits.wall_time)"));
    out.profile.limits.wall_time = *request.timeout;
    out.items.push_back({"wall_time", flag + " (tier: " + format_duration(tier.limits.wall_time) + ")"});
  }
}

void list_task_inputs(const TaskRequest& request, WidenedProfile& out) {
  for (const auto& [name, value] : request.env_overrides) out.items.push_back({"env", "--env " + name});
  for (const auto& [name, value] : request.secrets) out.items.push_back({"secret", "--secret " + name});
  for (int fd : request.pass_fds) out.items.push_back({"pass_fd", "--pass-fd " + std::to_string(fd)});
}

}  // namespace

bool is_widening_kind(const std::string& kind) {
  return std::any_of(std::begin(kWideningKinds), std::end(kWideningKinds), [&](const char* known) { return kind == known; });
}

// The OCI runtime mode: the bundle's root replaces the tier's root, so the
// tier's host binds (its /usr, /etc/ssl ...) and symlinks (/bin -> usr/bin)
// would shadow the container's own files: they are left out, which only
// narrows what the task sees of the host. The tier's tmpfs mounts stay.
void use_container_root(const TaskRequest& request, WidenedProfile& out) {
  if (!request.container) return;
  auto& mounts = out.profile.mounts;
  mounts.erase(std::remove_if(mounts.begin(), mounts.end(), [](const auto& mount) { return mount.type != MountType::tmpfs; }),
               mounts.end());
  out.profile.rootfs = RootfsSpec{};
}

WidenedProfile widen(const Profile& tier, const TaskRequest& request) {
  WidenedProfile out{tier, {}};
  use_container_root(request, out);
  widen_binds(request, out, tier);
  widen_network(request, out, tier);
  widen_limits(request, out, tier);
  list_task_inputs(request, out);
  return out;
}

}  // namespace tierbox::policy
