// LaunchPlan: everything a launch will do, worked out before clone by the pure
// planner. The launcher's parent and child only carry it out; the child reads
// it (its strings were allocated before clone) and never changes it.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "net/ruleset.h"
#include "policy/landlock_rules.h"
#include "policy/profile.h"
#include "policy/request.h"
#include "policy/widening.h"

namespace tierbox::policy {

// A mount the parent opens with open_tree(OPEN_TREE_CLONE) before clone and
// hands to the child as a detached tree. Opening host paths in the parent,
// with the caller's full view of the host, means the child never resolves a
// host path itself.
struct PreparedMount {
  // termination_message: no host path; the launcher makes the tree itself
  // (LaunchPlan::termination_message, stages/termination_message.h).
  enum class Kind { host_path, workspace, termination_message };
  Kind kind = Kind::host_path;
  std::string source;        // absolute host path
  bool read_only = true;     // MOUNT_ATTR_RDONLY, applied recursively
  bool allow_devices = false;  // device nodes (/dev/null...): no MOUNT_ATTR_NODEV, but NOEXEC
  bool optional = false;     // a missing source skips the mount
  bool idmap_owner = false;  // map the source's owner to the task (workspace)
  // A caller's --bind-rw through the daemon: these host ids (the caller's
  // uid, the source's group) become the task's in an id-mapped mount of the top directory alone; a
  // filesystem that cannot be id-mapped refuses the run.
  std::optional<uid_t> idmap_from_uid;
  std::optional<gid_t> idmap_from_gid;
  std::string origin;  // "--bind-rw SRC:TARGET" (a caller's bind), for messages
  // A caller's --bind through the daemon: the source its client opened
  // (0: not checked). The tree opened must be that one.
  dev_t device = 0;
  ino_t inode = 0;
  // A container's writable root: the tree is the lower layer of an overlay
  // on the run's root layer (LaunchPlan::root_layer, stages/root_layer.h),
  // which takes its place before it is attached; read_only is the lower's.
  bool layered = false;
  // An image's entry (plan_image_root): source is image_tree + "/" + a path
  // below it, which is opened from the tree's fd with
  // openat2(RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS): a component of the image
  // turned into a symlink since the host facts were gathered is not
  // followed (the image is hostile; the facts saw real directories).
  std::string image_tree;
};

// One step of building the new root, relative to it (targets have no leading
// '/'). Executed in order by stages/mounts in the child.
struct MountOp {
  enum class Kind {
    directory,         // mkdir target (an existing one is fine)
    attach_prepared,   // move the prepared tree [prepared] onto target (made first: dir or file)
    tmpfs,             // mount a tmpfs: flags, data = options
    proc,              // mount a fresh procfs
    devpts,            // mount a new devpts instance
    symlink,           // target -> data
    file,              // create target with content data and mode
    mask_with_null,    // bind the sandbox's dev/null over target, read-only (if target exists)
    mask_with_empty_dir,  // mount an empty read-only tmpfs over target (if target exists)
    read_only_rebind,  // bind target onto itself, recursively read-only (if target exists)
    read_only_remount, // make the mount at target read-only (it is a mount root)
    // Inside a mounted tree whose content others control (the workspace):
    // target is the tree's mount point, data the path below it, looked up
    // with openat2(RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS) so a symlink planted
    // in the tree cannot redirect the mount.
    hide_file_beneath,  // an empty read-only file over data (also over a symlink)
    hide_dir_beneath,   // an empty read-only directory over data
    read_only_beneath,  // data bound onto itself, recursively read-only
    // data bound onto itself as it is (writable where its tree is): a mount
    // point cannot be renamed, removed or replaced, so a protected path's
    // parent directories keep their names (the task cannot move .git aside
    // and make a new one around a config of its own).
    pin_beneath,
  };
  Kind kind = Kind::directory;
  std::string target;
  std::string data;
  std::uint32_t mode = 0755;
  unsigned long flags = 0;  // MS_* for tmpfs, proc, devpts and remount
  int prepared = -1;        // index into LaunchPlan::prepared_mounts
};

// A file (empty, or with the content the tier gives) or an empty directory
// the parent creates in a writable tree before the launch, so a protected
// path that does not exist yet can be covered (the task then cannot create
// it); removed after the run (stages/placeholders).
struct Placeholder {
  std::string tree;      // canonical host path of the tree's root
  std::string relative;  // below it, "a/b"
  bool directory = false;
  std::string content;   // of a file placeholder; usually empty
};

struct RlimitSetting {
  int resource = 0;                // RLIMIT_*
  std::uint64_t soft = 0;
  std::uint64_t hard = 0;
};

struct WorkspacePlan {
  std::string host_path;  // canonical
  std::string target;
  bool writable = false;
  uid_t owner_uid = 0;
  gid_t owner_gid = 0;
  dev_t device = 0;  // of the directory the policy checked; 0: not checked
  ino_t inode = 0;
  // Writes land in a per-run overlay layer (stages/staged_overlay.h) on a
  // tmpfs of this size (limits.disk; 0: the kernel's default, half of RAM).
  bool staged = false;
  std::uint64_t layer_size_bytes = 0;
  // Staged: the placeholders of missing protected paths in the workspace,
  // made in the layer's upper directory (stages/staged_overlay.h) instead
  // of the real workspace (LaunchPlan::placeholders): the real workspace is
  // not touched at all, and the layer is a tmpfs, where making and removing
  // them costs microseconds, not a journal commit of the host's disk.
  std::vector<Placeholder> layer_placeholders;
};

// A name of network.allow, pinned in the sandbox's /etc/hosts to the
// addresses tierbox resolved at launch.
struct PinnedHost {
  std::string name;
  std::vector<net::Ipv4Address> addresses;
};

// Mode allowlist: where the task may connect, resolved to addresses.
struct EgressPlan {
  std::vector<net::AllowRule> allow;
  std::vector<PinnedHost> pinned_hosts;
  // Names answered by the run's resolver (network.names "resolver").
  std::vector<net::NameRule> names;
};

// One secret: a file the task finds in SecretsPlan::target.
struct SecretFile {
  std::string name;
  std::string value;  // never logged, never in the run record
};

struct SecretsPlan {
  std::string target;  // absolute, inside the new root; build_root mounts an empty tmpfs there
  std::vector<SecretFile> files;
};

// A tree the sandbox sees, with the highest data class it shows there.
struct DataExposure {
  std::string target;
  std::string host_path;
  DataClass data_class = DataClass::public_data;
  bool writable = false;
};

// A container's writable root (tier container.writable_root, config.json
// root.readonly false): each directory of the image's root (and of its etc/)
// is an overlay whose upper layer is on one tmpfs of size_bytes
// (limits.disk), made by the runner before clone (stages/root_layer.h).
// Writes land there, never in the image; past size_bytes, ENOSPC; the
// layer is freed with the sandbox's mount namespace.
struct RootLayerPlan {
  std::uint64_t size_bytes = 0;
  // The image root's owner on disk, which the lower layers map to the
  // task's host uid where their filesystem takes an idmapped mount, so the
  // task may write what the image's root user may (in its layer only).
  uid_t image_owner_uid = 0;
  gid_t image_owner_gid = 0;
};

// The engine's termination-message file (TaskRequest's
// ContainerRoot::termination_message): a file of the task's own at target,
// on a tmpfs of size_bytes the runner makes; copied into engine_fd (at most
// size_bytes) once the container's init has exited.
struct TerminationMessagePlan {
  std::string target;       // "/dev/termination-log"
  std::string engine_file;  // for the plan summary and the log
  std::uint64_t size_bytes = kTerminationMessageBytes;
  int engine_fd = -1;       // never in the plan's digest
};

// The store image the root is built from (tier `rootfs: image:NAME`).
struct RootfsImagePlan {
  std::string name;
  std::string digest;  // "sha256:<hex>": in the plan digest and every audit record
};

struct LaunchPlan {
  std::string run_id;
  std::string tier;
  std::string profile_file;
  std::string profile_sha256;
  uid_t requester_uid = 0;
  std::string requester;  // user name, "" when the uid has none
  std::optional<uid_t> requester_sudo_uid;  // TaskRequest's caller.sudo_uid
  std::string requester_sudo_user;

  std::vector<std::string> argv;
  std::vector<std::string> env;     // "NAME=VALUE"
  std::vector<int> pass_fds;        // sorted: fds the task gets besides 0, 1 and 2, at the same numbers
  std::string exec_search_path;     // PATH used to find argv[0] inside
  std::string exec_path;            // when set: the file executed (resolved and checked against allowed_commands)
  std::string cwd;                  // inside the sandbox
  std::string hostname;

  uid_t task_uid = 1000;            // inside the sandbox
  gid_t task_gid = 1000;

  std::optional<RootfsImagePlan> rootfs_image;  // nullopt: the host's trees (rootfs "host")
  std::optional<RootLayerPlan> root_layer;      // a container's writable root; nullopt: read-only
  std::vector<PreparedMount> prepared_mounts;
  std::vector<MountOp> mount_ops;
  // mount_ops[first_run_op...] are the run's own (policy/plan_split.h): what
  // is mounted at or below the workspace, then the stand-ins inside trees.
  // The child carries them out once the request's inputs have arrived (sync
  // #1b), so a sandbox can be prepared up to here before the request.
  std::size_t first_run_op = 0;
  std::uint64_t root_size_bytes = 1ULL << 20;  // the tmpfs the new root is built on
  std::optional<WorkspacePlan> workspace;
  std::vector<Placeholder> placeholders;

  std::string data_classes_file;    // the inventory the plan was checked against
  std::string data_classes_sha256;
  // Exceptions the caller asked for (e.g. --allow-expired-tier), one line
  // each: shown on stderr and kept in the run record for the audit trail.
  std::vector<std::string> overrides;
  bool review_expired = false;  // the tier is past review_by (run with --allow-expired-tier)
  // What the caller asked for beyond the tier (policy/widening.h), for the
  // approval matrix and the audit trail.
  std::vector<Widening> widening;
  // Every bound tree (tier binds, extra binds, the workspace) and the data
  // class it exposes, for the approval matrix, the plan summary and the audit.
  std::vector<DataExposure> data_exposure;
  std::optional<SecretsPlan> secrets;  // when the tier names secrets
  std::optional<TerminationMessagePlan> termination_message;  // the OCI runtime mode's

  std::chrono::milliseconds wall_time{0};
  // limits.output: stdout and stderr go through the runner, cut past this
  // many bytes together (launch/output_relay.h); nullopt: straight to the caller.
  std::optional<std::uint64_t> output_limit_bytes;
  std::vector<RlimitSetting> rlimits;    // applied in the child, in this order
  CgroupLimits cgroup_limits;            // enforced by the run's cgroups (stages/cgroup.h)
  std::string cgroup_parent;             // --cgroup-parent, "" for the default place
  NetworkMode network = NetworkMode::none;
  std::optional<EgressPlan> egress;  // mode allowlist only
  // The tier's seccomp section. The rules (policy/seccomp_rules.h) follow
  // from it by a pure function; the launcher derives and compiles them only
  // when its filter cache has no entry for it (stages/seccomp_cache.h).
  SeccompSpec seccomp;
  LandlockPlan landlock;
  // The OCI runtime mode's pod containers: namespaces entered instead of new
  // ones (policy/request.h). Their clone flags are left out of clone3.
  std::vector<JoinedNamespace> joined_namespaces;
};

// Whether the plan enters an existing namespace of this type (CLONE_NEW*):
// the child then leaves what belongs to its owner alone (the hostname, lo).
inline bool joins_namespace(const LaunchPlan& plan, int type) {
  for (const auto& joined : plan.joined_namespaces)
    if (joined.type == type) return true;
  return false;
}

const char* to_string(MountOp::Kind kind);
// "nofile" for RLIMIT_NOFILE, ... (the names of the tier's limits.rlimits).
const char* rlimit_name(int resource);

}  // namespace tierbox::policy
