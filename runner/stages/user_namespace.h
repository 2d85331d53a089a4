// The user namespace: who the sandbox's processes are, inside and on the host.
//
// Two ids are mapped, never host root:
//   inside 0         -> host `setup_root` (the child while it builds the
//                       sandbox; owns the root tmpfs, never runs task code)
//   inside task uid  -> host `task` (unprivileged, one per concurrent run)
// Everything else shows as the overflow id (nobody) inside. The gid map
// mirrors the uid map. Supplementary groups are dropped (setgroups(0)), so the
// host's root group never reaches the sandbox.
#pragma once

#include <sys/types.h>

#include "common/unique_fd.h"
#include "stages/child_failure.h"

namespace tierbox::stages {

struct IdMapping {
  uid_t inside_task_uid = 1000;
  gid_t inside_task_gid = 1000;
  uid_t host_setup_root = 0;  // host uid and gid of inside 0
  uid_t host_task = 0;        // host uid and gid of the task
};

// Parent: writes /proc/PID/uid_map and gid_map. Throws SysError.
void write_id_maps(pid_t pid, const IdMapping& mapping);

// Parent: a user namespace whose only mapping is from_uid -> to_uid (and the
// gids alike), for an idmapped mount: the workspace's owner on disk becomes
// the task's host uid, and files the task creates belong to the owner.
UniqueFd create_idmap_user_namespace(uid_t from_uid, gid_t from_gid, uid_t to_uid, gid_t to_gid);

// Child: become inside root (mapped), with no supplementary groups.
bool become_setup_root(ChildFailure& failure) noexcept;
// Child: no user namespace can be created inside this one (the sysctl is
// per user namespace and limits its descendants). Without a nested user
// namespace the task can never regain capabilities, whatever syscalls the
// tier's seccomp filter allows; bubblewrap's --disable-userns does the same.
bool forbid_nested_user_namespaces(ChildFailure& failure) noexcept;

// Child: become the task user; this clears the permitted and effective
// capability sets (the kernel does so on leaving uid 0 without KEEPCAPS).
bool become_task_user(uid_t uid, gid_t gid, ChildFailure& failure) noexcept;

}  // namespace tierbox::stages
