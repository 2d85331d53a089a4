// The new root's layout, as data: every MountOp and PreparedMount that
// builds the sandbox's root from the plan the planner has decided (image
// entries, the tier's mounts and the workspace, secrets, /dev, /proc, the
// generated /etc files, stand-ins inside protected trees). Kept apart from
// planner.cpp, which holds the checks and decisions, so each file has one
// concern; pure like the planner (no syscalls), and its output is what the
// shipped plan fingerprints (tests/unit/test_shipped_plans.cpp) hash.
#include "policy/root_mounts.h"

#include <sys/mount.h>

#include <algorithm>
#include <cstdio>
#include <iterator>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "policy/path_pattern.h"

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
        prepared.idmap_from_uid = spec.idmap_from_uid;
        prepared.idmap_from_gid = spec.idmap_from_gid;
        prepared.origin = spec.origin;
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
// A mount target below an image directory (a bind at /var/run/secrets/...,
// a volume at /var/lib/app): each directory on the way that the image holds
// as a real directory (RootfsImageFacts::nested) becomes a directory on the
// root tmpfs holding the image's entries of it one by one, except the one on
// the way, which is treated the same, and the target itself; so the rest of
// the image's /var stays. An image component that is a symlink, a file or
// missing is never followed (a Debian image's /var/run -> /run): a directory
// is made on the root tmpfs in its place, as for a top-level target
// (docs/kubernetes.md, "Destinations through a symbolic link of the root").
// layered (a container's writable root, LaunchPlan::root_layer): each
// directory among them is the lower layer of an overlay the runner puts in
// its place; the layout is the same, so files directly in / and /etc (the
// root tmpfs's, read-only) and symlinks stay as they are, and no new entry
// can be made in / or /etc (nor in a directory made on the way to a target).
void plan_image_root(const Profile& profile, const RootfsImageFacts& image,
                     const std::optional<WorkspacePlan>& workspace, bool layered, MountOpBuilder& builder) {
  std::vector<std::string> targets;
  if (workspace) targets.push_back(workspace->target);
  for (const auto& mount : profile.mounts) targets.push_back(mount.target);
  const auto taken = [&](const std::string& path) {
    return std::any_of(targets.begin(), targets.end(), [&](const auto& target) { return is_under(target, path); });
  };
  const auto target_at = [&](const std::string& path) {
    return std::find(targets.begin(), targets.end(), path) != targets.end();
  };
  const auto place = [&](const ImageEntryFacts& entry, const std::string& directory) {
    const auto path = directory + "/" + entry.name;
    if (entry.kind == rootfs::EntryKind::symlink) {
      builder.add({Kind::symlink, relative(path), entry.link});
    } else {
      PreparedMount prepared{PreparedMount::Kind::host_path, image.tree + path, true};
      prepared.layered = layered && entry.kind == rootfs::EntryKind::directory;
      prepared.image_tree = image.tree;
      builder.add({Kind::attach_prepared, relative(path), "", 0, 0, builder.prepare(prepared)});
    }
    builder.note_bind(path);
  };
  // path: a real directory of the image with a target below it (not at it).
  const auto place_through = [&](const std::string& path, auto& self) -> void {
    const auto listed = image.nested.find(relative(path));
    if (listed == image.nested.end()) return;  // not listed: made on the root tmpfs (make_parents)
    builder.note_directory(path);
    builder.add({Kind::directory, relative(path), "", 0755});
    for (const auto& child : listed->second) {
      const auto child_path = path + "/" + child.name;
      if (!taken(child_path)) place(child, path);
      else if (child.kind == rootfs::EntryKind::directory && !target_at(child_path)) self(child_path, self);
    }
  };
  for (const auto& entry : image.top) {
    if (entry.name == "proc" || entry.name == "dev") continue;
    const auto path = "/" + entry.name;
    if (entry.name == "etc" && entry.kind == rootfs::EntryKind::directory && !taken(path)) {
      builder.note_directory("/etc");
      builder.add({Kind::directory, "etc", "", 0755});
      for (const auto& child : image.etc)
        if (std::find(std::begin(kGeneratedEtcFiles), std::end(kGeneratedEtcFiles), child.name) == std::end(kGeneratedEtcFiles) &&
            !taken("/etc/" + child.name))
          place(child, "/etc");
      continue;
    }
    if (!taken(path)) place(entry, "");
    else if (entry.kind == rootfs::EntryKind::directory && entry.name != "etc" && !target_at(path))
      place_through(path, place_through);
  }
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

// The engine's termination-message file (LaunchPlan::termination_message):
// a file the launcher makes on a tmpfs of its own, attached at its target
// on /dev (the root tmpfs's, read-only afterwards like the device nodes).
void plan_termination_message(const LaunchPlan& plan, MountOpBuilder& builder) {
  if (!plan.termination_message) return;
  const auto& message = *plan.termination_message;
  PreparedMount prepared{PreparedMount::Kind::termination_message, "", false};
  builder.add({Kind::attach_prepared, relative(message.target), "", 0, 0, builder.prepare(prepared)});
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

}  // namespace

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

// The order is the one the child carries the ops out in: the image's
// entries, then the tier's mounts and the workspace (parents first), the
// secrets tmpfs, /dev, /proc and /etc on the root tmpfs, the per-run part
// last, and the stand-ins inside trees after every mount is attached.
void plan_root_mounts(const Profile& profile, const TaskRequest& request, const HostFacts& host, LaunchPlan& plan) {
  MountOpBuilder builder(plan);
  if (plan.rootfs_image)
    plan_image_root(profile, *host.rootfs_image, plan.workspace, plan.root_layer.has_value(), builder);
  plan_profile_mounts(profile, plan.workspace, builder);
  plan_secrets(profile, request, plan, builder);
  plan_dev(profile, builder);
  plan_termination_message(plan, builder);
  plan_proc(builder);
  plan_etc(profile, plan, builder);
  move_workspace_ops_last(plan);
  plan_tree_actions(host, plan);
}

}  // namespace tierbox::policy
