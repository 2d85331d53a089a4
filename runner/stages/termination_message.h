// Parent side of a container's termination-message file
// (LaunchPlan::termination_message; docs/kubernetes.md, "The termination
// message"): the engine binds a host file (the kubelet's
// /var/lib/kubelet/pods/UID/containers/NAME/HASH) at /dev/termination-log
// for the task to write its last words into, and reads it after the
// container ended. The task never gets that file: a bind of it would be a
// writable window onto the node's disk, unbounded in size. It gets a file of
// its own instead, on a tmpfs the runner makes for this container alone,
// of the plan's size (4096 bytes: what the kubelet reads; past it, ENOSPC),
// owned by the task (mode 0600, so no one else outside the sandbox may
// write it); once the container's init has exited, the runner copies its
// content into the engine's file, which it opened at create.
//
// The tmpfs is made detached (fsopen, fsmount) and the file's tree cloned
// from it by fd where the kernel allows a clone of a detached mount (Linux
// 6.15+): nothing of it is ever on a host mount table. Before (Debian 12's
// 6.1: open_tree(OPEN_TREE_CLONE) of a detached mount is EINVAL), the tmpfs
// is mounted under STATE_DIR/termination-messages/ID (private, 0700) for
// the moment the clone takes, then detached and its directory removed (a
// runner dead in between: `tierbox gc`). Either way the container's
// mountinfo shows the file's path inside that tmpfs ("/termination-log"),
// never a host path.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "common/unique_fd.h"
#include "policy/launch_plan.h"

namespace tierbox::stages {

// Does nothing (an empty fd) when the plan has none. Otherwise makes the
// tmpfs and the file (owned by task_host_uid/gid), puts the file's detached
// tree in trees at the plan's termination_message prepared mount, logs how,
// and returns the runner's fd of the file (read at the end). The mounted way
// is taken where the detached one does not work, or where the environment
// has TIERBOX_TEST_MOUNTED_TERMINATION_MESSAGE (the tests' way to check it
// on a newer kernel). Throws SysError naming the call.
UniqueFd make_termination_message_file(const policy::LaunchPlan& plan, std::vector<UniqueFd>& trees,
                                       const std::filesystem::path& state_dir, const std::string& id,
                                       uid_t task_host_uid, gid_t task_host_gid, bool have_mount_setattr);

// Once the container's init has exited: copies the task's file (content)
// into the plan's engine_fd and logs it; a failure is logged as an error (the
// container's status stays its own).
void deliver_termination_message(const policy::LaunchPlan& plan, int content);

// Copies at most size_bytes of content into engine_fd from its start, and
// truncates the engine's file to what was copied. Returns the bytes copied.
// Throws SysError naming the call.
std::uint64_t copy_termination_message(int content, int engine_fd, std::uint64_t size_bytes);

// `tierbox gc`: what a runner dead between mounting the tmpfs and removing
// it left under state_dir/termination-messages/ (as remove_leftover_root_layers).
std::vector<std::string> remove_leftover_termination_messages(const std::filesystem::path& state_dir,
                                                              const std::vector<std::string>& live_ids);

// Pure: the tmpfs's options: size_bytes, two inodes (its root and the
// file), its root 0700.
std::string termination_message_tmpfs_options(std::uint64_t size_bytes);

}  // namespace tierbox::stages
