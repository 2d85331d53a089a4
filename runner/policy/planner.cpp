#include "policy/planner.h"

#include <sched.h>

#include <sys/mount.h>
#include <sys/resource.h>

#include <algorithm>
#include <set>

#include "common/errors.h"
#include "common/filesystems.h"
#include "common/units.h"
#include "policy/environment.h"
#include "policy/path_pattern.h"
#include "policy/json_reader.h"
#include "policy/simulation_plan.h"
#include "policy/widening.h"

namespace tierbox::policy {
namespace {

using Kind = MountOp::Kind;

// Device nodes bound from the host into the sandbox's /dev; nothing else is
// there (no mknod inside a user namespace, and no other device is needed).
constexpr const char* kDevices[] = {"null", "zero", "full", "random", "urandom", "tty"};

// procfs entries that are made read-only: kernel tunables and triggers.
constexpr const char* kProcReadOnly[] = {"sys", "sysrq-trigger", "irq", "bus", "fs"};
// procfs files hidden behind /dev/null: kernel memory and log, keys, and
// scheduler/timer internals and the kernel's build config, which leak host
// state; and the kernel's command line, which in a VM often carries the
// guest agent's own arguments (here: its listening address and vsock
// ports), boot tokens or the root device; and the boot id, one value for the
// host and every sandbox on it since its boot, which tells the task which
// host it runs on and links its runs there. (Files only the host's root may
// read, such as /proc/slabinfo or /proc/kpageflags, need no mask: the task
// is never that user; the integration tests check they stay unreadable.)
constexpr const char* kProcMaskedFiles[] = {"kcore",      "kmsg",        "kallsyms",      "keys",      "key-users",
                                            "timer_list", "sched_debug", "latency_stats", "config.gz", "cmdline",
                                            "sys/kernel/random/boot_id"};
// procfs directories hidden behind an empty read-only tmpfs: firmware tables,
// sound cards and disks of the host (the list runc masks).
constexpr const char* kProcMaskedDirs[] = {"acpi", "asound", "scsi"};

std::vector<std::string> components(const std::string& absolute) {
  std::vector<std::string> parts;
  std::size_t start = 1;
  while (start < absolute.size()) {
    auto end = absolute.find('/', start);
    if (end == std::string::npos) end = absolute.size();
    parts.push_back(absolute.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

bool is_under(const std::string& path, const std::string& dir) {
  return path == dir || (path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 && path[dir.size()] == '/');
}

std::string relative(const std::string& absolute) { return absolute.substr(1); }

// Builds MountOps in order, creating each target's parent directories on the
// root tmpfs first (never inside a bind mount, whose content is the host's).
class MountOpBuilder {
 public:
  explicit MountOpBuilder(LaunchPlan& plan) : plan_(plan) {}

  void make_parents(const std::string& target) {
    std::string path;
    auto parts = components(target);
    for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
      path += "/" + parts[i];
      if (inside_bind(path)) return;  // must already exist in the bound tree
      if (created_.insert(path).second) add({Kind::directory, relative(path), "", 0755});
    }
  }

  void add(MountOp op) { plan_.mount_ops.push_back(std::move(op)); }

  void note_bind(const std::string& target) { binds_.push_back(target); }
  void note_directory(const std::string& target) { created_.insert(target); }

  [[nodiscard]] bool inside_bind(const std::string& path) const {
    return std::any_of(binds_.begin(), binds_.end(), [&](const auto& bind) { return is_under(path, bind); });
  }

  int prepare(PreparedMount mount) {
    plan_.prepared_mounts.push_back(std::move(mount));
    return static_cast<int>(plan_.prepared_mounts.size() - 1);
  }

 private:
  LaunchPlan& plan_;
  std::set<std::string> created_;
  std::vector<std::string> binds_;
};

std::string tmpfs_options(std::uint64_t size, std::uint32_t mode) {
  char octal[16];
  std::snprintf(octal, sizeof octal, "%o", mode);
  return "size=" + std::to_string(size) + ",mode=" + octal;
}

// A profile mount or the workspace, in the order they are mounted.
struct PlannedMount {
  std::string target;
  const MountSpec* spec = nullptr;  // nullptr: the workspace
};

void plan_profile_mounts(const Profile& profile, const std::optional<WorkspacePlan>& workspace,
                         MountOpBuilder& builder) {
  std::vector<PlannedMount> order;
  for (const auto& mount : profile.mounts) order.push_back({mount.target, &mount});
  if (workspace) order.push_back({workspace->target, nullptr});
  // Parents before children: "/usr" before "/usr/local/lib/x".
  std::stable_sort(order.begin(), order.end(),
                   [](const auto& a, const auto& b) { return components(a.target) < components(b.target); });

  for (const auto& planned : order) {
    builder.make_parents(planned.target);
    const auto target = relative(planned.target);
    if (!planned.spec) {
      PreparedMount prepared{PreparedMount::Kind::workspace, workspace->host_path, !workspace->writable};
      prepared.idmap_owner = true;
      builder.add({Kind::attach_prepared, target, "", 0, 0, builder.prepare(prepared)});
      builder.note_bind(planned.target);
      continue;
    }
    const auto& spec = *planned.spec;
    switch (spec.type) {
      case MountType::bind: {
        PreparedMount prepared{PreparedMount::Kind::host_path, spec.source, !spec.writable};
        prepared.optional = spec.optional;
        prepared.device = spec.opened_device;
        prepared.inode = spec.opened_inode;
        builder.add({Kind::attach_prepared, target, "", 0, 0, builder.prepare(prepared)});
        builder.note_bind(planned.target);
        break;
      }
      case MountType::tmpfs: {
        unsigned long flags = MS_NOSUID | MS_NODEV | (spec.writable ? 0UL : static_cast<unsigned long>(MS_RDONLY));
        builder.add({Kind::tmpfs, target, tmpfs_options(spec.size_bytes, spec.mode), 0, flags});
        builder.note_directory(planned.target);
        break;
      }
      case MountType::symlink:
        builder.add({Kind::symlink, target, spec.link});
        builder.note_bind(planned.target);  // nothing may be created through it
        break;
    }
  }
}

// Files tierbox writes into /etc itself (plan_etc): an image's own are left out.
constexpr const char* kGeneratedEtcFiles[] = {"passwd", "group", "hostname", "hosts", "nsswitch.conf", "resolv.conf"};

// A tier on a store image: the image's root entries become the new root's,
// each directory (and file) a prepared read-only tree sealed like a host
// bind, each symlink recreated. /proc and /dev stay tierbox's; /etc is a
// directory on the root tmpfs holding the image's etc entries one by one
// beside the generated files; what the tier mounts itself (/tmp) or the
// workspace's place is not taken from the image.
void plan_image_root(const Profile& profile, const RootfsImageFacts& image,
                     const std::optional<WorkspacePlan>& workspace, MountOpBuilder& builder) {
  const auto taken = [&](const std::string& path) {
    return (workspace && is_under(workspace->target, path)) ||
           std::any_of(profile.mounts.begin(), profile.mounts.end(),
                       [&](const auto& mount) { return is_under(mount.target, path); });
  };
  const auto place = [&](const ImageEntryFacts& entry, const std::string& directory) {
    const auto path = directory + "/" + entry.name;
    if (entry.kind == rootfs::EntryKind::symlink) {
      builder.add({Kind::symlink, relative(path), entry.link});
    } else {
      PreparedMount prepared{PreparedMount::Kind::host_path, image.tree + path, true};
      builder.add({Kind::attach_prepared, relative(path), "", 0, 0, builder.prepare(prepared)});
    }
    builder.note_bind(path);
  };
  for (const auto& entry : image.top) {
    if (entry.name == "proc" || entry.name == "dev" || taken("/" + entry.name)) continue;
    if (entry.name == "etc" && entry.kind == rootfs::EntryKind::directory) {
      builder.note_directory("/etc");
      builder.add({Kind::directory, "etc", "", 0755});
      for (const auto& child : image.etc)
        if (std::find(std::begin(kGeneratedEtcFiles), std::end(kGeneratedEtcFiles), child.name) == std::end(kGeneratedEtcFiles) &&
            !taken("/etc/" + child.name))
          place(child, "/etc");
      continue;
    }
    place(entry, "");
  }
}

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

// /dev lives on the root tmpfs, so it becomes read-only with the root: no
// device node can be added to it.
void plan_dev(const Profile& profile, MountOpBuilder& builder) {
  builder.note_directory("/dev");
  builder.add({Kind::directory, "dev", "", 0755});
  for (const char* device : kDevices) {
    PreparedMount prepared{PreparedMount::Kind::host_path, std::string("/dev/") + device, false};
    prepared.allow_devices = true;
    builder.add({Kind::attach_prepared, std::string("dev/") + device, "", 0, 0, builder.prepare(prepared)});
  }
  builder.add({Kind::directory, "dev/pts", "", 0755});
  // A private devpts instance: the task sees only its own ptys, never the
  // host's (ptmxmode=0666 so it can open new ones).
  builder.add({Kind::devpts, "dev/pts", "newinstance,ptmxmode=0666,mode=0620", 0, MS_NOSUID | MS_NOEXEC});
  builder.add({Kind::symlink, "dev/ptmx", "pts/ptmx"});
  builder.add({Kind::tmpfs, "dev/shm", tmpfs_options(profile.shm_size_bytes, 01777), 0,
               MS_NOSUID | MS_NODEV | MS_NOEXEC});
  builder.add({Kind::symlink, "dev/fd", "/proc/self/fd"});
  builder.add({Kind::symlink, "dev/stdin", "/proc/self/fd/0"});
  builder.add({Kind::symlink, "dev/stdout", "/proc/self/fd/1"});
  builder.add({Kind::symlink, "dev/stderr", "/proc/self/fd/2"});
}

void plan_proc(MountOpBuilder& builder) {
  builder.note_directory("/proc");
  builder.add({Kind::directory, "proc", "", 0555});
  builder.add({Kind::proc, "proc", "", 0, MS_NOSUID | MS_NODEV | MS_NOEXEC});
  for (const char* entry : kProcReadOnly) builder.add({Kind::read_only_rebind, std::string("proc/") + entry});
  for (const char* entry : kProcMaskedFiles) builder.add({Kind::mask_with_null, std::string("proc/") + entry});
  for (const char* entry : kProcMaskedDirs) builder.add({Kind::mask_with_empty_dir, std::string("proc/") + entry});
}

std::string passwd_file(const Profile& profile) {
  const auto& user = profile.user;
  return "root:x:0:0:root:/root:/usr/sbin/nologin\n" + user.name + ":x:" + std::to_string(user.uid) + ":" +
         std::to_string(user.gid) + ":tierbox task:" + user.home + ":/bin/sh\n" +
         "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";
}

std::string group_file(const Profile& profile) {
  return "root:x:0:\n" + profile.user.name + ":x:" + std::to_string(profile.user.gid) + ":\nnogroup:x:65534:\n";
}

std::string hosts_file(const LaunchPlan& plan) {
  std::string hosts = "127.0.0.1\tlocalhost\n127.0.1.1\t" + plan.hostname + "\n::1\tlocalhost ip6-localhost ip6-loopback\n";
  if (!plan.egress || plan.egress->pinned_hosts.empty()) return hosts;
  hosts += "# pinned by tierbox at launch (network.allow); nothing else resolves\n";
  for (const auto& pinned : plan.egress->pinned_hosts)
    for (const auto& address : pinned.addresses) hosts += address.to_string() + "\t" + pinned.name + "\n";
  return hosts;
}

// In mode allowlist the pinned /etc/hosts is the only source of names:
// nsswitch never asks DNS, and a program that reads resolv.conf itself
// (dig, some language runtimes) is pointed at the sandbox's own loopback,
// where nothing answers.
constexpr const char* kNoDnsResolvConf =
    "# tierbox: network mode allowlist; the allowed names are pinned in /etc/hosts\n"
    "# and nothing else resolves (docs/network.md)\n"
    "nameserver 127.0.0.1\noptions attempts:1 timeout:1\n";

// With the run's resolver: it is the only server, on the sandbox's own lo
// (docs/network.md, "Names").
constexpr const char* kRunResolverResolvConf =
    "# tierbox: network mode allowlist; the run's own resolver answers the allowed names\n"
    "# and refuses every other (docs/network.md)\n"
    "nameserver 127.0.0.53\noptions edns0 attempts:2 timeout:2\n";

bool is_covered(const Profile& profile, const MountOpBuilder& builder, const std::string& path) {
  return builder.inside_bind(path) || std::any_of(profile.mounts.begin(), profile.mounts.end(),
                                                  [&](const auto& mount) { return is_under(path, mount.target); });
}

// /etc files tierbox writes into the new root, unless the tier mounts
// something there itself.
void plan_etc(const Profile& profile, LaunchPlan& plan, MountOpBuilder& builder) {
  const bool allowlist = plan.network == NetworkMode::allowlist;
  const bool run_resolver = allowlist && plan.egress && !plan.egress->names.empty();
  std::vector<std::pair<std::string, std::string>> files = {
      {"/etc/passwd", passwd_file(profile)},
      {"/etc/group", group_file(profile)},
      {"/etc/hostname", plan.hostname + "\n"},
      {"/etc/hosts", hosts_file(plan)},
      {"/etc/nsswitch.conf", std::string("passwd: files\ngroup: files\nshadow: files\nhosts: ") +
                                 (allowlist && !run_resolver ? "files\n" : "files dns\n")},
  };
  if (allowlist) files.emplace_back("/etc/resolv.conf", run_resolver ? kRunResolverResolvConf : kNoDnsResolvConf);
  for (const auto& [path, content] : files) {
    if (is_covered(profile, builder, path)) continue;
    builder.make_parents(path);
    builder.add({Kind::file, relative(path), content, 0644});
  }
  // Mode host shares the host's network, so it gets the host's resolver too.
  if (plan.network == NetworkMode::host && !is_covered(profile, builder, "/etc/resolv.conf")) {
    builder.make_parents("/etc/resolv.conf");
    PreparedMount resolver{PreparedMount::Kind::host_path, "/etc/resolv.conf", true};
    resolver.optional = true;
    builder.add({Kind::attach_prepared, "etc/resolv.conf", "", 0, 0, builder.prepare(resolver)});
  }
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
                                              const HostFacts& host, bool container) {
  using Use = LandlockPathInput::Use;
  // The root tmpfs (read-only): the generated /etc files, mount points.
  std::vector<LandlockPathInput> paths = {{"/", Use::read}};
  // An image's trees hold the programs: read and execute, never write (a
  // container's root, too).
  if ((profile.rootfs.is_image() || container) && host.rootfs_image)
    for (const auto& entry : host.rootfs_image->top)
      if (entry.kind == rootfs::EntryKind::directory && entry.name != "proc" && entry.name != "dev" && entry.name != "etc")
        paths.push_back({"/" + entry.name, Use::read_execute, true});
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

// An empty tmpfs at the secrets target; the child fills it after pivot_root
// (stages/secrets) and makes it read-only.
void plan_secrets(const Profile& profile, const TaskRequest& request, LaunchPlan& plan, MountOpBuilder& builder) {
  if (profile.secrets.names.empty()) return;
  SecretsPlan secrets{profile.secrets.target, {}};
  std::uint64_t size = 4096;
  for (const auto& [name, value] : request.secrets) {
    secrets.files.push_back({name, value});
    size += (value.size() + 4095) / 4096 * 4096 + 4096;
  }
  builder.make_parents(secrets.target);
  builder.add({Kind::tmpfs, relative(secrets.target), tmpfs_options(size, 0700), 0, MS_NOSUID | MS_NODEV | MS_NOEXEC});
  builder.note_directory(secrets.target);
  plan.secrets = std::move(secrets);
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

// The directories between a tree's root and its protected paths, parents
// first. Each is pinned (bound onto itself) before anything is mounted below
// it: a directory holding a mount can still be renamed, which would take the
// protected path out of its place and let the task make a new one.
std::vector<std::string> pinned_parents(const TreeAssessment& tree) {
  std::vector<std::vector<std::string>> parents;
  for (const auto& action : tree.actions) {
    if (action.kind == TreeEntryAction::Kind::hide) continue;  // a mask moved aside still masks
    for (std::size_t depth = 1; depth < action.relative.size(); ++depth)
      parents.emplace_back(action.relative.begin(), action.relative.begin() + static_cast<std::ptrdiff_t>(depth));
  }
  std::sort(parents.begin(), parents.end(), [](const auto& a, const auto& b) {
    return a.size() != b.size() ? a.size() < b.size() : a < b;
  });
  parents.erase(std::unique(parents.begin(), parents.end()), parents.end());
  std::vector<std::string> paths;
  for (const auto& parent : parents) paths.push_back(join_components(parent, parent.size(), false));
  return paths;
}

// What is mounted at or below the workspace goes after every op of the tier
// (in its order: parents before children still), and first_run_op marks it:
// the per-run part of the root (policy/plan_split.h). Nothing of the tier is
// mounted below the workspace's target except what moves with it, so the
// root is the same; /dev, /proc and /etc no longer wait for the workspace.
void move_workspace_ops_last(LaunchPlan& plan) {
  if (!plan.workspace) {
    plan.first_run_op = plan.mount_ops.size();
    return;
  }
  const auto target = relative(plan.workspace->target);
  const auto at_or_below = [&](const MountOp& op) {
    return op.target == target || (op.target.size() > target.size() && op.target.compare(0, target.size(), target) == 0 &&
                                   op.target[target.size()] == '/');
  };
  const auto first = std::stable_partition(plan.mount_ops.begin(), plan.mount_ops.end(),
                                           [&](const MountOp& op) { return !at_or_below(op); });
  plan.first_run_op = static_cast<std::size_t>(first - plan.mount_ops.begin());
}

// Stand-ins inside trees (masks, read-only protected paths), after every
// mount is attached: the hide ops clone the sandbox's own dev/null. The pins
// of protected paths' parents come first in each tree.
void plan_tree_actions(const HostFacts& host, LaunchPlan& plan) {
  using Action = TreeEntryAction::Kind;
  // A staged workspace's placeholders go into its layer, not the real tree.
  const auto staged_tree = [&](const TreeAssessment& tree) {
    return tree.workspace && plan.workspace && plan.workspace->staged && tree.host_path == plan.workspace->host_path;
  };
  for (const auto& tree : host.data_access.trees) {
    for (const auto& parent : pinned_parents(tree)) plan.mount_ops.push_back({Kind::pin_beneath, relative(tree.target), parent});
    for (const auto& action : tree.actions) {
      const auto below = join_components(action.relative, action.relative.size(), false);
      const auto root = relative(tree.target);
      switch (action.kind) {
        case Action::hide:
          plan.mount_ops.push_back({action.type == EntryType::directory ? Kind::hide_dir_beneath : Kind::hide_file_beneath,
                                    root, below});
          break;
        case Action::placeholder:
          (staged_tree(tree) ? plan.workspace->layer_placeholders : plan.placeholders)
              .push_back({tree.host_path, below, action.type == EntryType::directory, action.content});
          plan.mount_ops.push_back({Kind::read_only_beneath, root, below});
          break;
        case Action::read_only:
          plan.mount_ops.push_back({Kind::read_only_beneath, root, below});
          break;
      }
    }
  }
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

const char* to_string(MountOp::Kind kind) {
  switch (kind) {
    case Kind::directory: return "directory";
    case Kind::attach_prepared: return "attach";
    case Kind::tmpfs: return "tmpfs";
    case Kind::proc: return "proc";
    case Kind::devpts: return "devpts";
    case Kind::symlink: return "symlink";
    case Kind::file: return "file";
    case Kind::mask_with_null: return "mask-file";
    case Kind::mask_with_empty_dir: return "mask-dir";
    case Kind::read_only_rebind: return "read-only-rebind";
    case Kind::read_only_remount: return "read-only-remount";
    case Kind::hide_file_beneath: return "hide-file-beneath";
    case Kind::hide_dir_beneath: return "hide-dir-beneath";
    case Kind::read_only_beneath: return "read-only-beneath";
    case Kind::pin_beneath: return "pin-beneath";
  }
  return "?";
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
  plan.landlock = make_landlock_plan(profile.landlock, host.landlock_abi, landlock_paths(profile, plan.workspace, host, request.container.has_value()),
                                     std::nullopt, profile.name);

  MountOpBuilder builder(plan);
  if (plan.rootfs_image) plan_image_root(profile, *host.rootfs_image, plan.workspace, builder);
  plan_profile_mounts(profile, plan.workspace, builder);
  plan_secrets(profile, request, plan, builder);
  plan_dev(profile, builder);
  plan_proc(builder);
  plan_etc(profile, plan, builder);
  move_workspace_ops_last(plan);
  plan_tree_actions(host, plan);
  return plan;
}

}  // namespace tierbox::policy
