// make_plan and its checks: what the caller may ask of a tier (request,
// passed fds, secrets, review date, data access, command, rootfs image), the
// egress and Landlock plans and the rlimits. The new root's mount ops are
// laid out in root_mounts.cpp (split by concern to keep each file short).
#include "policy/planner.h"

#include <sched.h>

#include <sys/resource.h>

#include <algorithm>
#include <set>

#include "common/errors.h"
#include "common/filesystems.h"
#include "common/units.h"
#include "policy/environment.h"
#include "policy/path_pattern.h"
#include "policy/json_reader.h"
#include "policy/root_mounts.h"
#include "policy/simulation_plan.h"
#include "policy/widening.h"

namespace tierbox::policy {
namespace {

// rootfs image:NAME: the store must hold NAME, and a pinned digest must be
// the one it holds (a changed image is re-certified before it runs).
void check_rootfs(const Profile& profile, const TaskRequest& request, const HostFacts& host, LaunchPlan& plan) {
  if (request.container) {
    // The OCI runtime mode: the bundle's root, named by the container id.
    if (!host.rootfs_image)
      throw Error("container " + request.container->id + ": its root " + quote(request.container->tree.string()) +
                      " was not scanned",
                  exit_code::runner_failed);
    plan.rootfs_image = RootfsImagePlan{"container:" + request.container->id, host.rootfs_image->digest};
    // root.readonly false within a tier that allows it (limits.disk is
    // required with the field at load, sections/filesystem.cpp).
    if (request.container->writable && profile.container.writable_root && profile.limits.disk.value)
      plan.root_layer = RootLayerPlan{*profile.limits.disk.value, host.rootfs_image->owner_uid, host.rootfs_image->owner_gid};
    return;
  }
  const auto& spec = profile.rootfs;
  if (!spec.is_image()) return;
  if (!host.rootfs_image)
    throw Error("tier '" + profile.name + "' rootfs " + quote(spec.text()) + ": the image store has no image named " +
                    quote(spec.image) + " (fix: tierbox rootfs build " + spec.image + ", or tierbox rootfs import " +
                    spec.image + " FILE; see docs/rootfs.md)",
                exit_code::runner_failed);
  if (!spec.pinned_digest.empty() && spec.pinned_digest != host.rootfs_image->digest)
    throw Refusal("tier '" + profile.name + "' pins rootfs image " + spec.image + " at " + spec.pinned_digest +
                  " but the store's " + spec.image + " is " + host.rootfs_image->digest +
                  " (the image changed since the tier was reviewed; fix: tierbox rootfs verify " + spec.image +
                  ", review the new image and re-pin the tier, docs/rootfs.md)");
  plan.rootfs_image = RootfsImagePlan{spec.image, host.rootfs_image->digest};
}

// Mode allowlist: the allow list's addresses and blocks, and its names:
// for the run's resolver (the default), or replaced by the addresses the
// host resolved at launch (network.names "pinned"). A name never opens an always-denied range
// (DNS rebinding: a public name answering 169.254.169.254 or 10.0.0.5).
EgressPlan plan_egress(const Profile& profile, const HostFacts& host) {
  EgressPlan egress;
  for (const auto& destination : profile.network.allow) {
    if (destination.block) {
      egress.allow.push_back({*destination.block, destination.ports, destination.protocol, true, destination.text});
      continue;
    }
    const auto& name = destination.host_name;
    if (profile.network.names == NameResolution::resolver) {
      egress.names.push_back({name, destination.ports, destination.protocol, destination.text});
      continue;
    }
    auto resolved = host.resolved_names.find(name);
    if (resolved == host.resolved_names.end() || resolved->second.empty())
      throw Error("network.allow " + quote(destination.text) + ": " + name + " was not resolved at launch",
                  exit_code::runner_failed);
    for (const auto& address : resolved->second) {
      if (auto denied = net::denied_range_of(address))
        throw Refusal("tier '" + profile.name + "' network.allow " + quote(destination.text) + ": " + name +
                      " resolves to " + address.to_string() + ", " + denied->reason +
                      "; a name never opens an always-denied range (fix: if intended, allow the address itself, e.g. " +
                      quote(address.to_string() + ":" + destination.ports.to_string() + "/" + net::to_string(destination.protocol)) + ")");
      egress.allow.push_back({net::host_cidr(address), destination.ports, destination.protocol, false, destination.text});
    }
    auto pinned = std::find_if(egress.pinned_hosts.begin(), egress.pinned_hosts.end(),
                               [&](const auto& entry) { return entry.name == name; });
    if (pinned == egress.pinned_hosts.end()) egress.pinned_hosts.push_back({name, resolved->second});
  }
  return egress;
}

// The paths Landlock lets the task use: exactly what the plan mounts, each
// as the plan mounts it (policy/landlock_rules.h).
std::vector<LandlockPathInput> landlock_paths(const Profile& profile, const std::optional<WorkspacePlan>& workspace,
                                              const HostFacts& host, bool container, bool root_layer) {
  using Use = LandlockPathInput::Use;
  // The root tmpfs (read-only): the generated /etc files, mount points.
  std::vector<LandlockPathInput> paths = {{"/", Use::read}};
  // An image's trees hold the programs: read and execute, never write (a
  // container's root, too), unless they are a container's writable root's
  // overlays (and then its etc/'s directories are, too).
  const auto image_use = root_layer ? Use::write : Use::read_execute;
  if ((profile.rootfs.is_image() || container) && host.rootfs_image) {
    for (const auto& entry : host.rootfs_image->top)
      if (entry.kind == rootfs::EntryKind::directory && entry.name != "proc" && entry.name != "dev" && entry.name != "etc")
        paths.push_back({"/" + entry.name, image_use, true});
    if (root_layer)
      for (const auto& entry : host.rootfs_image->etc)
        if (entry.kind == rootfs::EntryKind::directory) paths.push_back({"/etc/" + entry.name, Use::write, true});
  }
  for (const auto& mount : profile.mounts) {
    const auto use = mount.writable ? Use::write : Use::read_execute;
    if (mount.type == MountType::bind) paths.push_back({mount.target, use, mount.optional});
    else if (mount.type == MountType::tmpfs) paths.push_back({mount.target, use});
    // A symlink leads to a path that has its own rule.
  }
  if (workspace) paths.push_back({workspace->target, workspace->writable ? Use::write : Use::read_execute});
  paths.push_back({"/proc", Use::proc});
  // /dev is on the read-only root: nothing can be created there, and one
  // rule covers the device binds and the devpts below it.
  paths.push_back({"/dev", Use::device_directory});
  paths.push_back({"/dev/shm", Use::write});
  return paths;
}

// fds beyond 0, 1 and 2 reach the task only when the caller names them and
// the tier allows that many; never a directory (or O_PATH) fd, which is a
// way out of the sandbox's root (CVE-2024-21626).
void check_passed_fds(const Profile& profile, const HostFacts& host) {
  std::set<int> seen;
  for (const auto& passed : host.passed_fds) {
    const std::string flag = "--pass-fd " + std::to_string(passed.fd);
    if (passed.fd <= 2) throw Refusal(flag + ": stdin, stdout and stderr always reach the task; pass fds from 3 up");
    if (!passed.open)
      throw Error(flag + ": not an open file descriptor of tierbox (fix: open it in the calling shell, e.g. 7>file)",
                  exit_code::runner_failed);
    if (passed.directory)
      throw Refusal(flag + ": a directory (or O_PATH) fd leads out of the sandbox's root and is never passed");
    if (!seen.insert(passed.fd).second) throw Refusal(flag + ": given twice");
  }
  if (host.passed_fds.size() > profile.pass_fds)
    throw Refusal("--pass-fd: tier '" + profile.name + "' allows passing " + std::to_string(profile.pass_fds) +
                  " file descriptors (pass_fds), " + std::to_string(host.passed_fds.size()) + " given");
}

// Secrets come only from the caller, only with names the tier lists, and
// every required one must be given.
void check_secrets(const Profile& profile, const TaskRequest& request) {
  const auto& spec = profile.secrets;
  std::set<std::string> given;
  std::size_t total = 0;
  for (const auto& [name, value] : request.secrets) {
    if (std::find(spec.names.begin(), spec.names.end(), name) == spec.names.end())
      throw Refusal("--secret " + name + ": tier '" + profile.name + "' does not take it (secrets.names)");
    if (!given.insert(name).second) throw Refusal("--secret " + name + ": given twice");
    if (value.size() > kMaxSecretBytes)
      throw Refusal("--secret " + name + ": " + std::to_string(value.size()) + " bytes, more than " +
                    std::to_string(kMaxSecretBytes));
    total += value.size();
  }
  if (total > kMaxSecretsTotalBytes)
    throw Refusal("--secret: " + std::to_string(total) + " bytes in all, more than " + std::to_string(kMaxSecretsTotalBytes));
  for (const auto& name : spec.required)
    if (!given.count(name))
      throw Refusal("tier '" + profile.name + "' requires the secret '" + name + "' (secrets.required; fix: --secret " +
                    name + "=@FILE)");
}

// Through the daemon the workspace is mounted id-mapped from its owner
// (tree_ownership): a caller who may merely read or write the top directory
// (root's 0755 or 1777 ones, another user's home) would hand the task files
// it cannot read or write itself, whatever the modes of the directories
// above them.
void check_workspace_owner(const TaskRequest& request, const HostFacts& host) {
  const auto& caller = request.caller;
  if (!request.workspace || !host.workspace || !caller.through_daemon || caller.uid == 0) return;
  const auto& workspace = *host.workspace;
  const std::string who = caller.user_name.empty() ? "uid " + std::to_string(caller.uid) : caller.user_name;
  switch (tree_ownership(workspace.owner_uid, workspace.owner_gid, caller.uid, caller.gid, caller.groups)) {
    case TreeOwnership::callers: return;
    case TreeOwnership::other_owner:
      throw Refusal("--workspace " + workspace.canonical_path + ": owned by uid " + std::to_string(workspace.owner_uid) +
                    ", not by " + who + "; the task acts as the workspace's owner inside it (an id-mapped mount), so "
                    "only the owner may use it through the daemon (fix: pass a directory you own, or copy the files "
                    "into one)");
    case TreeOwnership::other_group:
      throw Refusal("--workspace " + workspace.canonical_path + ": its group is gid " + std::to_string(workspace.owner_gid) +
                    ", which " + who + " is not in; the task takes the workspace's group inside it (an id-mapped "
                    "mount) (fix: chgrp the directory to a group of yours)");
  }
}

void check_request(const Profile& profile, const TaskRequest& request, const HostFacts& host) {
  if (request.argv.empty()) throw Refusal("no command given (usage: tierbox run --tier NAME -- COMMAND [ARGS...])");
  if (request.timeout && *request.timeout > profile.limits.wall_time)
    throw Refusal("--timeout " + format_duration(*request.timeout) + " exceeds tier '" + profile.name +
                  "' limits.wall_time (" + format_duration(profile.limits.wall_time) +
                  "); --timeout may only shorten it");
  if (request.timeout && request.timeout->count() <= 0) throw Refusal("--timeout must be positive");
  if (request.cgroup_parent) {
    const auto& parent = *request.cgroup_parent;
    const bool relative = !parent.empty() && parent.front() != '/';
    if (!is_normalized_absolute_path(relative ? "/" + parent : parent) || parent == "/")
      throw Refusal("--cgroup-parent " + parent +
                    ": expected a cgroup path, absolute as in /proc/self/cgroup (/tierbox.slice) or relative to the "
                    "runner's own cgroup (jobs/ci), without . or ..");
  }
  for (const auto& [name, value] : request.env_overrides) {
    if (!is_valid_variable_name(name)) throw Refusal("--env " + name + ": not a valid variable name");
    if (is_forbidden_variable(name))
      throw Refusal("--env " + name + ": loader and interpreter variables are never passed to a task");
    bool allowed = std::any_of(profile.environment.allow.begin(), profile.environment.allow.end(),
                               [&name = name](const auto& pattern) { return matches_pattern(pattern, name); });
    if (!allowed)
      throw Refusal("--env " + name + ": tier '" + profile.name + "' does not allow it (environment.allow)");
  }
  check_passed_fds(profile, host);
  check_secrets(profile, request);
  if (request.workspace && host.workspace && !host.workspace->is_directory)
    throw Refusal("--workspace " + host.workspace->canonical_path + ": not a directory");
  // A required limits.disk cannot hold where the task writes the host's
  // disk directly (the tier's own writable mounts are refused at load).
  if (profile.limits.disk.value && profile.limits.disk.required)
    for (const auto& bind : request.binds)
      if (bind.writable)
        throw Refusal("--bind-rw " + bind.source + ":" + bind.target + ": tier '" + profile.name +
                      "' limits.disk cannot be enforced on a writable bind (ext4 without quotas has no per-task "
                      "limit; fix: --bind, or a tier whose disk limit is {\"value\": ..., \"required\": false})");
  // Through the daemon: a caller hands the task only what it can reach
  // itself, and a writable workspace only if it may write there.
  if (request.workspace && host.workspace && profile.workspace.writable && request.workspace_writable_by_caller == false)
    throw Refusal("--workspace " + host.workspace->canonical_path + ": not writable by " +
                  (request.caller.user_name.empty() ? "uid " + std::to_string(request.caller.uid) : request.caller.user_name) +
                  ", and tier '" + profile.name + "' mounts its workspace writable (fix: pass a directory you can write to)");
  check_workspace_owner(request, host);
  // The kernel's views of itself (a host /proc lists every process and its
  // command line) are never a workspace or a bind, whatever the inventory
  // says: not a caller's (refused, 126), and not a tier's either (a bad
  // profile, 125; `profile check` reports it too). The sandbox gets its own
  // /proc and a minimal /dev.
  const auto kernel_filesystem = [](const std::string& what, std::uint64_t magic) {
    return what + ": a directory of the kernel's " + filesystem_name(magic) + " filesystem, not of a project";
  };
  if (request.workspace && host.workspace && is_kernel_filesystem(host.workspace->filesystem))
    throw Refusal(kernel_filesystem("--workspace " + host.workspace->canonical_path, host.workspace->filesystem) +
                  " (fix: pass the directory of the files the task works on)");
  for (const auto& mount : profile.mounts) {
    // A caller's bind holding one below its source (gathered for callers'
    // binds only): the bind is recursive and would take it along.
    const auto below = host.bind_kernel_mounts_below.find(mount.source);
    if (mount.type == MountType::bind && mount.origin.rfind("--bind", 0) == 0 &&
        below != host.bind_kernel_mounts_below.end())
      throw Refusal(mount.origin + ": the kernel's " + filesystem_name(below->second.second) +
                    " filesystem is mounted below it, at " + below->second.first +
                    ", and the bind would take it along (fix: bind a directory with no kernel filesystem below it)");
    const auto found = host.bind_filesystems.find(mount.source);
    if (mount.type != MountType::bind || found == host.bind_filesystems.end() || !is_kernel_filesystem(found->second))
      continue;
    if (mount.origin.rfind("--bind", 0) == 0)
      throw Refusal(kernel_filesystem(mount.origin, found->second) +
                    " (fix: pass the directory of the files the task works on)");
    throw ConfigError(kernel_filesystem(mount.origin + ": " + mount.source, found->second) +
                      " (fix: remove the mount; the sandbox has its own /proc and /dev)");
  }
}

// A tier past its review date runs only with --allow-expired-tier, and the
// override is written into the plan for the audit trail.
void check_review(const Profile& profile, const TaskRequest& request, const HostFacts& host, LaunchPlan& plan) {
  const auto status = review_status(profile.metadata, host.today);
  if (status.state != ReviewState::expired) return;
  const std::string what = "tier '" + profile.name + "' is past its review date: " + describe(status);
  if (!request.allow_expired_tier)
    throw Refusal(what + " (fix: have the tier re-reviewed and update review_by, or pass --allow-expired-tier, which is audited)");
  plan.overrides.push_back("--allow-expired-tier: " + what);
  plan.review_expired = true;
}

void check_data_access(const Profile& profile, const HostFacts& host) {
  const auto max = profile.data_access.max_data_class.value_or(DataClass::public_data);
  for (const auto& exposure : host.data_access.exposures) throw Refusal(describe(exposure, profile.name, max));
  for (const auto& forbidden : host.data_access.forbidden) throw Refusal(forbidden);
  for (const auto& tree : host.data_access.trees)
    for (const auto& problem : tree.problems) throw Refusal(tree.target + ": " + problem + " (tier '" + profile.name + "')");
}

void check_command(const HostFacts& host, LaunchPlan& plan) {
  if (!host.command) return;
  const auto& command = *host.command;
  if (!command.refusal.empty()) {
    if (command.refusal_status == exit_code::command_not_found) throw Error(command.refusal, exit_code::command_not_found);
    throw Refusal(command.refusal);
  }
  plan.exec_path = command.exec_path;
}

// The tier's rlimits, each lowered to the caller's hard limit where that is
// lower: a stricter limit than the tier's is still within the tier.
void plan_rlimits(const RlimitsSpec& spec, const HostFacts& host, LaunchPlan& plan) {
  const std::pair<int, const std::optional<RlimitValue>*> limits[] = {
      {RLIMIT_NOFILE, &spec.nofile}, {RLIMIT_NPROC, &spec.nproc}, {RLIMIT_FSIZE, &spec.fsize},
      {RLIMIT_CORE, &spec.core},     {RLIMIT_STACK, &spec.stack}, {RLIMIT_AS, &spec.as}};
  for (const auto& [resource, value] : limits) {
    if (!*value) continue;
    RlimitSetting setting{resource, (*value)->soft, (*value)->hard};
    if (auto caller = host.rlimit_hard.find(resource); caller != host.rlimit_hard.end()) {
      setting.hard = std::min(setting.hard, caller->second);
      setting.soft = std::min(setting.soft, setting.hard);
    }
    plan.rlimits.push_back(setting);
  }
}

// A container's process.rlimits: each lowers the tier's (or the caller's
// hard limit, where the tier sets none); none raises one.
void narrow_rlimits(const std::vector<RlimitRequest>& requested, const HostFacts& host, LaunchPlan& plan) {
  for (const auto& asked : requested) {
    auto it = std::find_if(plan.rlimits.begin(), plan.rlimits.end(),
                           [&](const auto& setting) { return setting.resource == asked.resource; });
    if (it == plan.rlimits.end()) {
      RlimitSetting setting{asked.resource, asked.soft, asked.hard};
      if (auto caller = host.rlimit_hard.find(asked.resource); caller != host.rlimit_hard.end())
        setting.hard = std::min(setting.hard, caller->second);
      setting.soft = std::min(setting.soft, setting.hard);
      plan.rlimits.push_back(setting);
      continue;
    }
    it->hard = std::min(it->hard, asked.hard);
    it->soft = std::min({it->soft, asked.soft, it->hard});
  }
}

}  // namespace

const char* rlimit_name(int resource) {
  switch (resource) {
    case RLIMIT_NOFILE: return "nofile";
    case RLIMIT_NPROC: return "nproc";
    case RLIMIT_FSIZE: return "fsize";
    case RLIMIT_CORE: return "core";
    case RLIMIT_STACK: return "stack";
    case RLIMIT_AS: return "as";
    default: return "?";
  }
}

TreeOwnership tree_ownership(uid_t owner_uid, gid_t owner_gid, uid_t caller_uid, gid_t caller_gid,
                             const std::vector<gid_t>& caller_groups) {
  if (owner_uid != caller_uid) return TreeOwnership::other_owner;
  const bool member = owner_gid == caller_gid ||
                      std::find(caller_groups.begin(), caller_groups.end(), owner_gid) != caller_groups.end();
  return member ? TreeOwnership::callers : TreeOwnership::other_group;
}

LaunchPlan make_plan(const Profile& tier, const TaskRequest& request, const HostFacts& host,
                     const std::string& run_id) {
  // The caller's widening, within the tier's `widening`: from here on the
  // plan is made from the widened tier, so an extra bind or destination goes
  // through every check a tier's own does.
  auto widened = widen(tier, request);
  const Profile& profile = widened.profile;
  check_request(profile, request, host);

  LaunchPlan plan;
  plan.widening = std::move(widened.items);
  check_review(profile, request, host, plan);
  check_data_access(profile, host);
  for (const auto& tree : host.data_access.trees)
    plan.data_exposure.push_back({tree.target, tree.host_path, tree.data_class, tree.writable});
  check_command(host, plan);
  check_rootfs(profile, request, host, plan);
  plan.data_classes_file = host.data_classes_file;
  plan.data_classes_sha256 = host.data_classes_sha256;
  plan.run_id = run_id;
  plan.tier = profile.name;
  plan.profile_file = profile.file.string();
  plan.profile_sha256 = profile.sha256;
  plan.requester_uid = request.caller.uid;
  plan.requester = request.caller.user_name;
  plan.requester_sudo_uid = request.caller.sudo_uid;
  plan.requester_sudo_user = request.caller.sudo_user;
  plan.argv = request.argv;
  plan.env = build_environment(profile.environment, request.caller_env, request.env_overrides);
  for (const auto& passed : host.passed_fds) plan.pass_fds.push_back(passed.fd);
  std::sort(plan.pass_fds.begin(), plan.pass_fds.end());
  plan_simulation(request, host, plan);
  plan.exec_search_path = kDefaultPath;
  for (const auto& entry : plan.env)
    if (entry.rfind("PATH=", 0) == 0) plan.exec_search_path = entry.substr(5);
  plan.hostname = request.container && !request.container->hostname.empty() ? request.container->hostname
                                                                            : profile.hostname;
  plan.task_uid = profile.user.uid;
  plan.task_gid = profile.user.gid;
  plan.wall_time = request.timeout ? std::min(*request.timeout, profile.limits.wall_time) : profile.limits.wall_time;
  plan.network = profile.network.mode;
  if (plan.network == NetworkMode::allowlist) plan.egress = plan_egress(profile, host);
  plan_rlimits(profile.limits.rlimits, host, plan);
  if (request.container) narrow_rlimits(request.container->rlimits, host, plan);
  plan.cgroup_limits = profile.limits.cgroup;
  plan.cgroup_parent = request.cgroup_parent.value_or("");
  plan.seccomp = profile.seccomp;

  if (host.workspace) {
    plan.workspace = WorkspacePlan{host.workspace->canonical_path, profile.workspace.target,
                                   profile.workspace.writable, host.workspace->owner_uid,
                                   host.workspace->owner_gid,    host.workspace->device,
                                   host.workspace->inode};
    plan.workspace->staged = profile.workspace.staged;
    if (plan.workspace->staged) plan.workspace->layer_size_bytes = profile.limits.disk.value.value_or(0);
  }
  plan.output_limit_bytes = profile.limits.output_bytes;
  plan.cwd = plan.workspace ? plan.workspace->target : "/";
  if (request.container) plan.cwd = request.container->cwd;
  if (request.container) plan.joined_namespaces = request.container->joins;
  // (Allowlist, a pod's later container) The joined network namespace is
  // the pod sandbox's, of the same tier (oci/pod.h checks both): its veth
  // and its nftables rules, which decide every packet sent in it whichever
  // process sends it, are that run's. This run keeps plan.egress for its
  // /etc files (pinned names, the resolver on lo) but starts no network
  // helper of its own (launcher.cpp).
  // Network mode none restricts no TCP port: its namespace has only lo,
  // where servers the task starts itself (test suites) must keep working.
  plan.landlock = make_landlock_plan(profile.landlock, host.landlock_abi, landlock_paths(profile, plan.workspace, host, request.container.has_value(), plan.root_layer.has_value()),
                                     std::nullopt, profile.name);

  // The OCI runtime mode's termination-message file (oci/spec.h): the
  // engine's output channel, under every tier.
  if (request.container && request.container->termination_message) {
    const auto& message = *request.container->termination_message;
    plan.termination_message = TerminationMessagePlan{message.target, message.engine_file, kTerminationMessageBytes,
                                                      message.engine_fd};
  }
  plan_root_mounts(profile, request, host, plan);
  return plan;
}

}  // namespace tierbox::policy