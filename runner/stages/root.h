// Child side: the new root itself. The child's mount namespace is first made
// private (nothing propagates to or from the host), the new root is built on a
// fresh tmpfs, entered with pivot_root, and the old root is detached, so no
// path, /proc link or fd leads back to the host's filesystem.
#pragma once

#include <cstdint>

#include "stages/child_failure.h"

namespace tierbox::stages {

// mount --make-rprivate /
bool make_mounts_private(ChildFailure& failure) noexcept;
// Mounts the root tmpfs on /tmp of the (private) mount namespace and changes
// into it; the build then works relative to ".". /tmp is only a place to hang
// the tmpfs until pivot_root: host sources were opened by the parent before
// clone, so covering the host's /tmp hides nothing the build needs.
bool enter_new_root(std::uint64_t size_bytes, ChildFailure& failure) noexcept;
// pivot_root(".", "."), then detach the old root stacked on top of it.
bool pivot_into_new_root(ChildFailure& failure) noexcept;
// The root tmpfs becomes read-only: the task can write only its tmpfs mounts
// and the workspace when the tier allows.
bool make_root_read_only(ChildFailure& failure) noexcept;

}  // namespace tierbox::stages
