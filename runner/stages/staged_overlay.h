// Parent side of a staged workspace (docs/staged-writes.md): the run's layer
// and the overlay the task sees as its workspace.
//
// The overlay is made here, by the runner (root in the host's user
// namespace), before clone, and handed to the child as the workspace's
// detached tree: the child attaches it in the sandbox's own mount namespace
// like any prepared tree. Made from inside the sandbox's user namespace it
// would need overlayfs's "userxattr" and user.* xattrs on the upper layer,
// which tmpfs has only since Linux 6.6 (Debian 12 runs 6.1); made here it
// uses trusted.* xattrs, which every supported kernel has.
//
// The lower layer is the workspace's id-mapped tree (prepared_mounts.h):
// the task sees its files as its own, and copy-up gives the copies the
// task's host uid. Linux 6.13 and later take it by fd ("lowerdir+" with
// FSCONFIG_SET_FD); before, overlay layers are only paths in the caller's
// mount namespace, so the tree is attached for a moment at layer/lower,
// inside the run's private layer tmpfs (nothing propagates from there), and
// detached again once the overlay holds its own clone of it.
//
// The placeholders of the workspace's missing protected paths are made in
// upper/ (create_layer_placeholders), never in the real workspace.
#pragma once

#include <sys/types.h>

#include <filesystem>

#include "common/unique_fd.h"
#include "policy/launch_plan.h"
#include "staged/store.h"

namespace tierbox::stages {

// The options the overlay is made with: no redirects, no metacopy, no index,
// so the upper layer holds only whole copies, new files, whiteouts and
// opaque directories (what staged/changes.h reads).
struct OverlayOptions {
  std::string lowerdir;
  std::string upperdir;
  std::string workdir;
};
// Pure: the key=value pairs handed to fsconfig, in order. Throws Error when
// a path holds a character overlayfs's option parser splits on (',' ':' '\\').
std::vector<std::pair<std::string, std::string>> overlay_parameters(const OverlayOptions& options);

// Writes the staged run's record (state "running", its only write at
// launch), mounts the layer tmpfs (plan.workspace->layer_size_bytes, 0: the
// kernel's default) and makes upper/ (owned by task_host_uid, the workspace
// root's mode) and work/.
void create_staged_layer(const staged::StagedPaths& paths, const staged::StagedRun& record, uid_t task_host_uid,
                         mode_t root_mode);

// Makes each placeholder in upper/ before the overlay exists: its missing
// parents as copy-up would (the mode and owner the lower directory shows
// through workspace_tree, the id-mapped workspace), then the entry itself
// (0644 file with its content or 0755 directory, owned like its parent,
// marked trusted.tierbox.placeholder). The sandbox mounts each read-only
// like any placeholder. Throws SysError naming the path.
void create_layer_placeholders(const staged::StagedPaths& paths, int workspace_tree,
                               const std::vector<staged::LayerPlaceholder>& placeholders);

// A detached overlay (nosuid, nodev) with lower_tree (a detached tree) as
// its lower layer, given by fd where the kernel takes one (Linux 6.13+),
// else attached at lower_mountpoint (an empty directory in a private mount
// of this mount namespace) until the overlay holds its own clone of it.
// upper and work: directories on one filesystem, in this mount namespace.
UniqueFd make_overlay(UniqueFd lower_tree, const std::filesystem::path& lower_mountpoint,
                      const std::filesystem::path& upper, const std::filesystem::path& work);

// The same overlay with every layer given by fd (Linux 6.13+: "upperdir",
// "workdir" and "lowerdir+" with FSCONFIG_SET_FD): upper and work may then
// be directories of a detached filesystem, and the overlay's options (its
// mountinfo line) name them by their path inside it ("/upper/0"), never by
// a host path. Invalid, with lower_tree left as it was, when this kernel
// takes no fd for a layer (the caller falls back to make_overlay).
UniqueFd make_overlay_from_fds(UniqueFd& lower_tree, int upper, int work);

// Replaces workspace_tree (the id-mapped workspace, detached) by a detached
// overlay with it as the lower layer (by fd where the kernel takes one, else
// through layer/lower); nosuid, nodev.
UniqueFd make_staged_overlay(const staged::StagedPaths& paths, UniqueFd workspace_tree);

// The whole stage, for the launcher: when the plan's workspace is staged,
// records the run (once, with the layer's placeholders), makes its layer
// and placeholders under state_dir and swaps the prepared
// workspace tree in trees for the overlay. Refuses without mount_setattr
// (the lower layer must be id-mapped). Returns the layer's directory, or ""
// when the workspace is not staged.
std::filesystem::path stage_workspace(const policy::LaunchPlan& plan, std::vector<UniqueFd>& trees,
                                      const std::filesystem::path& state_dir, uid_t task_host_uid,
                                      bool have_mount_setattr);

}  // namespace tierbox::stages
