// make_plan: the pure heart of tierbox. Given a validated profile, the caller's
// request and facts about the host gathered beforehand, it returns the
// complete LaunchPlan, or throws Refusal naming the tier field that forbids
// what was asked. No syscalls here, so every decision is unit-testable.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "policy/command_resolution.h"
#include "policy/data_access.h"
#include "policy/launch_plan.h"
#include "policy/profile.h"
#include "policy/request.h"
#include "rootfs/manifest.h"

namespace tierbox::policy {

struct WorkspaceFacts {
  std::string canonical_path;
  bool is_directory = false;
  uid_t owner_uid = 0;
  gid_t owner_gid = 0;
  // Which directory was checked (data classes, protected paths): the parent
  // refuses to mount another one if the path changed in between.
  dev_t device = 0;
  ino_t inode = 0;
  std::uint64_t filesystem = 0;  // statfs f_type: a kernel view (proc, sysfs, ...) is refused
};

// An fd the caller asks to pass to the task, as the runner found it.
struct PassedFdFacts {
  int fd = -1;
  bool open = false;
  bool directory = false;  // a directory, or an O_PATH fd: both lead to paths
};

// One entry of a store image that the planner places in the new root.
struct ImageEntryFacts {
  std::string name;  // "bin", or below etc/: "hosts.allow"
  rootfs::EntryKind kind = rootfs::EntryKind::directory;
  std::string link;  // symlinks
};

// The image of a tier with `rootfs: image:NAME`, as the store holds it now.
struct RootfsImageFacts {
  std::string name;
  std::string digest;                     // "sha256:<hex>" of its manifest
  std::string tree;                       // host path of the image's root
  std::vector<ImageEntryFacts> top;       // the entries of its root
  std::vector<ImageEntryFacts> etc;       // of its etc/, when that is a directory
  // The owner of the tree's root directory (a container's root.path): a
  // writable container root maps it to the task (LaunchPlan::root_layer).
  uid_t owner_uid = 0;
  gid_t owner_gid = 0;
  // The entries of each image directory on the way from the root to a mount
  // target's parent ("var", "var/run", ...; never etc/, proc/ or dev/), by
  // its path below the root: present only where every component is a real
  // directory of the image (opened with O_NOFOLLOW|O_DIRECTORY, host_facts.cpp);
  // a symlink, a file or a missing component on the way is not listed, and
  // not followed. The planner places these entries one by one
  // (root_mounts.cpp plan_image_root).
  std::map<std::string, std::vector<ImageEntryFacts>> nested;
};

// What the planner needs to know about the host (gathered by host_facts.cpp).
struct HostFacts {
  std::vector<PassedFdFacts> passed_fds;
  // A simulated run's report channel (TaskRequest::simulation), apart from
  // the caller's fds: it does not count against the tier's pass_fds.
  std::optional<PassedFdFacts> simulation_report_fd;
  std::optional<WorkspaceFacts> workspace;
  Date today;                                 // for the tier's review dates
  DataAccessAssessment data_access;           // data classes and protected paths
  std::optional<CommandAssessment> command;   // when the tier has allowed_commands
  std::string data_classes_file;
  std::string data_classes_sha256;
  // The IPv4 addresses of each host name in network.allow, as the host's
  // resolver answered at launch (mode allowlist only).
  std::map<std::string, std::vector<net::Ipv4Address>> resolved_names;
  // The caller's hard limits (RLIMIT_* -> value): a tier's rlimit above one
  // is lowered to it, since only CAP_SYS_RESOURCE on the host could raise it.
  std::map<int, std::uint64_t> rlimit_hard;
  int landlock_abi = 0;  // 0: the kernel has no Landlock
  // statfs f_type of the source of each caller bind (--bind, --bind-rw):
  // a kernel filesystem there is refused like a workspace on one.
  std::map<std::string, std::uint64_t> bind_filesystems;
  // A kernel filesystem mounted below a caller bind's source (the bind is
  // recursive: a tmpfs /sys/fs/cgroup holds cgroup v1's hierarchies), by
  // source: its mount point and statfs f_type. Refused like one at the source.
  std::map<std::string, std::pair<std::string, std::uint64_t>> bind_kernel_mounts_below;
  // rootfs image:NAME: the image, nullopt when the store has no such name.
  std::optional<RootfsImageFacts> rootfs_image;
};

LaunchPlan make_plan(const Profile& profile, const TaskRequest& request, const HostFacts& host,
                     const std::string& run_id);

// An id-mapped mount from a tree's owner (the workspace; a --bind-rw through
// the daemon, daemon/session.cpp) makes the task that owner, with the tree's
// group, over every file of the owner's below: only a caller who is the
// owner and in the group may hand the tree over. Which of the two fails.
enum class TreeOwnership { callers, other_owner, other_group };
TreeOwnership tree_ownership(uid_t owner_uid, gid_t owner_gid, uid_t caller_uid, gid_t caller_gid,
                             const std::vector<gid_t>& caller_groups);

// Limits of `run --secret` values: each, and all of a launch together.
inline constexpr std::size_t kMaxSecretBytes = 64 * 1024;
inline constexpr std::size_t kMaxSecretsTotalBytes = 1024 * 1024;

// The default PATH inside a sandbox whose tier sets none.
inline constexpr const char* kDefaultPath = "/usr/local/bin:/usr/bin:/bin";

}  // namespace tierbox::policy
