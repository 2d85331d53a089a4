// Parent side of a container's writable root (LaunchPlan::root_layer: tier
// container.writable_root, config.json root.readonly false;
// docs/kubernetes.md, "A writable root").
//
// The image's directories stay the lower layers, never written: each
// prepared tree the plan marks `layered` is replaced, before clone, by a
// detached overlay whose upper and work directories are on one tmpfs of
// the layer's size (limits.disk), so every write of the container lands in
// memory it is charged for, and past the size the task gets ENOSPC. The
// overlays are made here by the runner (root in the host's user namespace)
// with trusted.* xattrs, as the staged workspace's is (stages/staged_overlay.h),
// every layer by fd on Linux 6.13+ and through paths before.
//
// The lower trees are id-mapped where their filesystem takes it (ext4, xfs,
// btrfs, tmpfs from 6.3; not overlayfs, which containerd's and podman's
// snapshotters mount root.path with): the image root's owner becomes the
// task, so it may write what the image's root user may, in its layer only.
// Elsewhere the image's directories are made ahead in the upper layer,
// owned by the task where the image's root user (or the task's uid) owns
// them, so the task may make, replace and remove entries there; the image's
// files keep their owners (rewritten in place only where their mode lets
// everyone).
//
// On Linux 6.13+ the tmpfs is made detached (fsopen, fsmount) and never
// attached anywhere: its directories and the image's tree are handed to
// overlayfs by fd, so nothing of it is ever on the host's mount table, no
// crash can leave it behind, and the overlays' options in the container's
// mountinfo read "upperdir=/upper/N", not the host's state directory.
// Before 6.13 overlay layers are paths: the tmpfs is mounted under
// STATE_DIR/root-layers/ID (private) while the overlays are made, then
// detached and its directory removed; the overlays hold their own
// references to it, so the layer lives exactly as long as the sandbox's
// mount namespace (a runner dead in those milliseconds: `tierbox gc`), and
// the container's mountinfo shows that path.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include "common/unique_fd.h"
#include "policy/launch_plan.h"

namespace tierbox::stages {

struct RootLayerReport {
  std::size_t overlays = 0;  // image directories made writable
  std::size_t idmapped = 0;  // of them, with the image's owner mapped to the task
  // Where a tree could not be id-mapped: its directories made ahead in the
  // layer, the task's where the image's root user or its uid owns them
  // (at most mirrored_directory_budget in all; mirror_cut when there were more).
  std::size_t mirrored_directories = 0;
  bool mirror_cut = false;
  // The layer's tmpfs was never on a mount table (Linux 6.13+: the
  // overlays took its directories by fd); false: mounted under state_dir
  // for the moments the overlays were being made.
  bool detached = false;
};

// Does nothing (a zero report) when the plan has no root layer. Otherwise
// makes the layer's tmpfs (detached, or at state_dir/root-layers/ID before
// 6.13), replaces each valid layered tree in trees (indexed like
// plan.prepared_mounts) by its overlay, and, where it was mounted, detaches
// the tmpfs and removes its directory, on every path out.
// Throws SysError naming the call.
RootLayerReport make_root_layer(const policy::LaunchPlan& plan, std::vector<UniqueFd>& trees,
                                const std::filesystem::path& state_dir, const std::string& id, uid_t task_host_uid,
                                gid_t task_host_gid, bool have_mount_setattr);

// `tierbox gc`: a runner that died between mounting a layer and detaching
// it (a few milliseconds of Parent 3) left the tmpfs and its directory under
// state_dir/root-layers/. Each one whose id is not in live_ids and that is
// older than a minute (a live runner's is gone within milliseconds) is
// detached and removed. Returns what it removed, one line each.
std::vector<std::string> remove_leftover_root_layers(const std::filesystem::path& state_dir,
                                                     const std::vector<std::string>& live_ids);

// Pure: how many directories may be made ahead in a layer of size_bytes:
// one per KiB (at least 1,024), at most 65,536. They are made by the runner,
// so their kernel memory (about 1 KiB each: an inode and a dentry, measured
// 65,623 of them at +124 MB of slab with the lookups) is charged to the
// runner's cgroup, not the task's: bounded so, a hostile image with a
// million directories holds about limits.disk more outside the container's
// memory limit, never 64 MiB under a 1M layer.
std::size_t mirrored_directory_budget(std::uint64_t size_bytes);

// Pure: the layer tmpfs's options for size bytes: the size, and inodes
// bounded with it (one per KiB, at least 16k, as the staged layer's) plus
// extra_inodes (the directories made ahead).
std::string root_layer_tmpfs_options(std::uint64_t size_bytes, std::uint64_t extra_inodes = 0);

}  // namespace tierbox::stages
