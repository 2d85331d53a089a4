#include "stages/root.h"

#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/fixed_text.h"

namespace tierbox::stages {

bool make_mounts_private(ChildFailure& failure) noexcept {
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0) return true;
  failure.record(errno).add("mount(\"/\", MS_REC|MS_PRIVATE)");
  return false;
}

bool enter_new_root(std::uint64_t size_bytes, ChildFailure& failure) noexcept {
  char options[64];
  FixedText(options, sizeof options).add("mode=0755,size=").add_number(static_cast<std::int64_t>(size_bytes));
  if (::mount("tierbox-root", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, options) != 0) {
    failure.record(errno).add("mount(\"tmpfs\" -> \"/tmp\", ").add(options).add(")");
    return false;
  }
  if (::chdir("/tmp") != 0) return failure.fail_errno("chdir", "/tmp");
  return true;
}

bool pivot_into_new_root(ChildFailure& failure) noexcept {
  // The "pivot_root(".", ".")" idiom: the old root ends up mounted on top of
  // the new one at "/", where a lazy unmount detaches it. No directory for the
  // old root is needed, and none is left behind.
  if (::syscall(SYS_pivot_root, ".", ".") != 0) return failure.fail_errno("pivot_root", ".");
  if (::umount2(".", MNT_DETACH) != 0) {
    failure.record(errno).add("umount2(\".\" (the old root), MNT_DETACH)");
    return false;
  }
  if (::chdir("/") != 0) return failure.fail_errno("chdir", "/");
  return true;
}

bool make_root_read_only(ChildFailure& failure) noexcept {
  if (::mount(nullptr, "/", nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, nullptr) == 0)
    return true;
  failure.record(errno).add("mount(\"/\", MS_REMOUNT|MS_BIND|MS_RDONLY|MS_NOSUID|MS_NODEV)");
  return false;
}

}  // namespace tierbox::stages
