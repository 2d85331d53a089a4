#include "stages/mounts.h"

#include <fcntl.h>
#include <sys/mount.h>

#include <cstring>

namespace tierbox::stages {
namespace {

using Kind = policy::MountOp::Kind;

bool failed(ChildFailure& failure, int result, const char* call, const policy::MountOp& op,
            const char* second = nullptr) noexcept {
  auto text = failure.record(-result);
  text.add(call).add("(").add_quoted(op.target.c_str());
  if (second) text.add(", ").add(second);
  text.add(")");
  return false;
}

// After attaching a tree that could not be made read-only while detached.
bool remount_attached(const policy::MountOp& op, unsigned long flags, MountSyscalls& sys,
                      ChildFailure& failure) noexcept {
  int result = sys.mount(nullptr, op.target.c_str(), nullptr, MS_REMOUNT | MS_BIND | flags, nullptr);
  return result >= 0 || failed(failure, result, "mount", op, "MS_REMOUNT|MS_BIND");
}

bool attach_prepared(const BuildRootInput& input, const policy::MountOp& op, MountSyscalls& sys,
                     ChildFailure& failure) noexcept {
  const int fd = input.prepared_fds[op.prepared];
  if (fd < 0) return true;  // optional source that does not exist on this host
  const auto& prepared = input.plan->prepared_mounts[static_cast<std::size_t>(op.prepared)];
  int kind = sys.is_directory(fd);
  if (kind < 0) return failed(failure, kind, "fstat", op);
  int made = kind == 1 ? sys.make_directory(op.target.c_str(), 0755) : sys.make_file(op.target.c_str(), 0444);
  if (made < 0) return failed(failure, made, kind == 1 ? "mkdir" : "create mount point", op);
  int moved = sys.move_mount(fd, op.target.c_str());
  if (moved < 0) return failed(failure, moved, "move_mount", op, "MOVE_MOUNT_F_EMPTY_PATH");
  sys.close(fd);
  if (!input.have_mount_setattr)
    return remount_attached(op, prepared_mount_remount_flags(prepared), sys, failure);
  return true;
}

// Clones source (relative to the new root), applies attr to the detached copy
// and attaches it at op.target. A missing target is not an error: the entry
// does not exist on this kernel, so there is nothing to hide.
bool clone_read_only_onto(const char* source, unsigned tree_flags, std::uint64_t attr, unsigned long remount_flags,
                          const policy::MountOp& op, const BuildRootInput& input, MountSyscalls& sys,
                          ChildFailure& failure) noexcept {
  // Checked first: a stat is far cheaper than a clone that would go unused.
  int present = sys.exists(op.target.c_str());
  if (present == 0) return true;
  if (present < 0) return failed(failure, present, "fstatat", op);
  int fd = sys.open_tree(source, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | tree_flags);
  if (fd == -ENOENT) return true;
  if (fd < 0) return failed(failure, fd, "open_tree", op, "OPEN_TREE_CLONE");
  if (input.have_mount_setattr) {
    int set = sys.mount_setattr(fd, tree_flags & AT_RECURSIVE, attr, 0, MS_PRIVATE);
    if (set < 0) {
      sys.close(fd);
      return failed(failure, set, "mount_setattr", op, "MOUNT_ATTR_RDONLY");
    }
  }
  int moved = sys.move_mount(fd, op.target.c_str());
  sys.close(fd);
  if (moved == -ENOENT) return true;
  if (moved < 0) return failed(failure, moved, "move_mount", op);
  if (!input.have_mount_setattr) return remount_attached(op, remount_flags, sys, failure);
  return true;
}

// The detached tree that goes over a path inside a tree (see beneath()).
int stand_in_for(const policy::MountOp& op, int entry, MountSyscalls& sys) noexcept {
  switch (op.kind) {
    case Kind::hide_file_beneath: {
      int tree = sys.open_tree("dev/null", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
      if (tree < 0) return tree;
      int set = sys.mount_setattr(tree, 0, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, 0, MS_PRIVATE);
      if (set < 0) sys.close(tree);
      return set < 0 ? set : tree;
    }
    case Kind::hide_dir_beneath:
      return sys.empty_read_only_tmpfs();
    default: {
      // A clone of the entry itself, recursive (a host submount below stays
      // visible) and private like every stand-in: read-only for a protected
      // path; for a pin no attribute changes, so it keeps the tree's (its
      // writability, its id mapping) and only the mount point is new.
      const std::uint64_t attr =
          op.kind == Kind::pin_beneath ? 0 : MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
      int tree = sys.open_tree_of(entry, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
      if (tree < 0) return tree;
      int set = sys.mount_setattr(tree, AT_RECURSIVE, attr, 0, MS_PRIVATE);
      if (set < 0) sys.close(tree);
      return set < 0 ? set : tree;
    }
  }
}

// A stand-in over op.data inside the tree mounted at op.target. The tree's
// content is controlled by others (a previous task may have planted
// symlinks), so the entry is looked up with RESOLVE_BENEATH and no symlinks
// at all, and the stand-in is attached onto the fd, never onto a path.
bool beneath(const BuildRootInput& input, const policy::MountOp& op, MountSyscalls& sys, ChildFailure& failure) noexcept {
  // Needs the new mount API throughout; a kernel without mount_setattr
  // cannot protect these paths, so the launch fails (closed).
  if (!input.have_mount_setattr) return failed(failure, -ENOSYS, "mount_setattr", op, "needed for protected paths");
  int root = sys.open_path(AT_FDCWD, op.target.c_str(), false);
  if (root < 0) return failed(failure, root, "openat2", op, "RESOLVE_NO_SYMLINKS");
  int entry = sys.open_path(root, op.data.c_str(), true);
  sys.close(root);
  // A masked entry that vanished has nothing left to hide; a protected one
  // must be there (the parent made its placeholder), or the task could
  // create it.
  if (entry == -ENOENT && op.kind != Kind::read_only_beneath && op.kind != Kind::pin_beneath) return true;
  if (entry < 0) {
    auto text = failure.record(-entry);
    text.add("openat2(").add_quoted(op.target.c_str()).add(" / ").add_quoted(op.data.c_str()).add(", RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS)");
    return false;
  }
  int tree = stand_in_for(op, entry, sys);
  if (tree < 0) {
    sys.close(entry);
    return failed(failure, tree, "stand-in for", op, op.data.c_str());
  }
  int moved = sys.move_mount_onto(tree, entry);
  sys.close(tree);
  sys.close(entry);
  if (moved < 0) return failed(failure, moved, "move_mount onto", op, op.data.c_str());
  return true;
}

bool apply(const BuildRootInput& input, const policy::MountOp& op, MountSyscalls& sys,
           ChildFailure& failure) noexcept {
  const char* target = op.target.c_str();
  int result = 0;
  switch (op.kind) {
    case Kind::directory:
      result = sys.make_directory(target, op.mode);
      return result >= 0 || failed(failure, result, "mkdir", op);
    case Kind::attach_prepared:
      return attach_prepared(input, op, sys, failure);
    case Kind::tmpfs:
      result = sys.make_directory(target, 0755);
      if (result < 0) return failed(failure, result, "mkdir", op);
      result = sys.mount("tmpfs", target, "tmpfs", op.flags, op.data.c_str());
      return result >= 0 || failed(failure, result, "mount", op, "tmpfs");
    case Kind::proc:
      result = sys.mount("proc", target, "proc", op.flags, nullptr);
      return result >= 0 || failed(failure, result, "mount", op, "proc");
    case Kind::devpts:
      result = sys.mount("devpts", target, "devpts", op.flags, op.data.c_str());
      return result >= 0 || failed(failure, result, "mount", op, "devpts");
    case Kind::symlink:
      result = sys.make_symlink(op.data.c_str(), target);
      return result >= 0 || failed(failure, result, "symlink", op);
    case Kind::file:
      result = sys.write_file(target, op.data.data(), op.data.size(), op.mode);
      return result >= 0 || failed(failure, result, "write", op);
    case Kind::mask_with_null:
      return clone_read_only_onto("dev/null", 0, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC,
                                  MS_RDONLY | MS_NOSUID | MS_NOEXEC, op, input, sys, failure);
    case Kind::mask_with_empty_dir:
      if (sys.exists(target) == 0) return true;
      result = sys.mount("tmpfs", target, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                         "size=4k,nr_inodes=1,mode=0555");
      return result >= 0 || failed(failure, result, "mount", op, "empty read-only tmpfs");
    case Kind::read_only_rebind:
      // Without mount_setattr only the top mount can be made read-only, so
      // only the top mount is cloned.
      return clone_read_only_onto(target, input.have_mount_setattr ? AT_RECURSIVE : 0U, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
                                  MS_RDONLY | MS_NOSUID | MS_NODEV, op, input, sys, failure);
    case Kind::read_only_remount:
      result = sys.mount(nullptr, target, nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY | op.flags, nullptr);
      return result >= 0 || failed(failure, result, "mount", op, "MS_REMOUNT|MS_BIND|MS_RDONLY");
    case Kind::hide_file_beneath:
    case Kind::hide_dir_beneath:
    case Kind::read_only_beneath:
    case Kind::pin_beneath:
      return beneath(input, op, sys, failure);
  }
  failure.record(EINVAL).add("unknown mount op kind");
  return false;
}

}  // namespace

std::uint64_t prepared_mount_attributes(const policy::PreparedMount& mount) noexcept {
  std::uint64_t attr = MOUNT_ATTR_NOSUID;
  attr |= mount.allow_devices ? MOUNT_ATTR_NOEXEC : MOUNT_ATTR_NODEV;
  if (mount.read_only) attr |= MOUNT_ATTR_RDONLY;
  return attr;
}

unsigned long prepared_mount_remount_flags(const policy::PreparedMount& mount) noexcept {
  unsigned long flags = MS_NOSUID;
  flags |= mount.allow_devices ? MS_NOEXEC : MS_NODEV;
  // A layered tree arrives as its overlay (stages/root_layer.h), which is
  // writable; read_only is its lower layer's.
  if (mount.read_only && !mount.layered) flags |= MS_RDONLY;
  return flags;
}

bool build_root(const BuildRootInput& input, MountSyscalls& sys, ChildFailure& failure) noexcept {
  const auto& ops = input.plan->mount_ops;
  for (std::size_t i = input.first_op; i < ops.size() && i < input.end_op; ++i) {
    if (!apply(input, ops[i], sys, failure)) return false;
  }
  return true;
}

}  // namespace tierbox::stages
