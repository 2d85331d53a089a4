// Child side: builds the sandbox's new root by carrying out the plan's
// MountOps, in order, relative to the current directory (the root tmpfs).
// Mounts as data, one switch applying them (the bubblewrap way), through the
// MountSyscalls interface so tests/unit/test_mounts.cpp can check every call.
//
// Read-only trees are made read-only on the detached copy, before it is ever
// attached, with mount_setattr(AT_RECURSIVE): there is no moment when a
// submount is visible and writable. On kernels without mount_setattr the
// trees are opened without submounts and remounted read-only after attaching.
#pragma once

#include <cstddef>
#include <cstdint>

#include "policy/launch_plan.h"
#include "stages/child_failure.h"
#include "stages/mount_syscalls.h"

namespace tierbox::stages {

struct BuildRootInput {
  const policy::LaunchPlan* plan = nullptr;
  const int* prepared_fds = nullptr;  // one per plan->prepared_mounts; -1: optional and missing
  bool have_mount_setattr = true;
  // The ops carried out: plan->mount_ops[first_op, end_op) (the per-tier
  // part before the request's inputs arrive, the per-run part after them).
  std::size_t first_op = 0;
  std::size_t end_op = SIZE_MAX;
};

// No allocation, no exceptions: safe in the child after clone.
bool build_root(const BuildRootInput& input, MountSyscalls& sys, ChildFailure& failure) noexcept;

// The MOUNT_ATTR_* flags a prepared mount gets (also used by the parent).
std::uint64_t prepared_mount_attributes(const policy::PreparedMount& mount) noexcept;
// The MS_* flags of the same, for the remount fallback.
unsigned long prepared_mount_remount_flags(const policy::PreparedMount& mount) noexcept;

}  // namespace tierbox::stages
