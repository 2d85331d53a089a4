#include "stages/prepared_mounts.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>

#include "common/errors.h"
#include "common/filesystems.h"
#include "stages/mounts.h"
#include "stages/user_namespace.h"

namespace tierbox::stages {
namespace {

std::string attr_names(std::uint64_t attr) {
  return describe_flags(attr, {{MOUNT_ATTR_RDONLY, "MOUNT_ATTR_RDONLY"},
                               {MOUNT_ATTR_NOSUID, "MOUNT_ATTR_NOSUID"},
                               {MOUNT_ATTR_NODEV, "MOUNT_ATTR_NODEV"},
                               {MOUNT_ATTR_NOEXEC, "MOUNT_ATTR_NOEXEC"},
                               {MOUNT_ATTR_IDMAP, "MOUNT_ATTR_IDMAP"}});
}

// An image's entry: from the tree's fd, no symlink followed on the way
// (PreparedMount::image_tree), then cloned by that fd.
UniqueFd open_image_entry(const policy::PreparedMount& mount, unsigned flags) {
  const auto& tree = mount.image_tree;
  if (mount.source.size() <= tree.size() + 1 || mount.source.compare(0, tree.size(), tree) != 0 ||
      mount.source[tree.size()] != '/')
    throw Error("internal: image entry " + quote(mount.source) + " is not below " + quote(tree), exit_code::runner_failed);
  const auto relative = mount.source.substr(tree.size() + 1);
  UniqueFd root(::open(tree.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) throw_sys_error("open(" + quote(tree) + ", O_PATH|O_DIRECTORY)");
  struct open_how how {};
  how.flags = O_PATH | O_CLOEXEC;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  UniqueFd entry(static_cast<int>(::syscall(SYS_openat2, root.get(), relative.c_str(), &how, sizeof how)));
  if (!entry)
    throw_sys_error("openat2(" + quote(tree) + ", " + quote(relative) +
                    ", O_PATH, RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS|RESOLVE_NO_MAGICLINKS)");
  UniqueFd cloned(::open_tree(entry.get(), "", flags | AT_EMPTY_PATH));
  if (!cloned) throw_sys_error("open_tree(" + quote(mount.source) + " by fd, OPEN_TREE_CLONE|AT_EMPTY_PATH)");
  return cloned;
}

UniqueFd open_tree_or_throw(const std::string& source, unsigned flags, bool optional) {
  UniqueFd tree(::open_tree(AT_FDCWD, source.c_str(), flags));
  if (!tree && optional && errno == ENOENT) return tree;
  if (!tree)
    throw_sys_error("open_tree(" + quote(source) + ", " +
                    describe_flags(flags, {{OPEN_TREE_CLONE, "OPEN_TREE_CLONE"},
                                           {OPEN_TREE_CLOEXEC, "OPEN_TREE_CLOEXEC"},
                                           {AT_RECURSIVE, "AT_RECURSIVE"}}) +
                    ")");
  return tree;
}

void set_attributes(int tree, const std::string& source, std::uint64_t attr, unsigned flags, int userns_fd) {
  struct mount_attr request {};
  request.attr_set = attr;
  request.propagation = MS_PRIVATE;
  request.userns_fd = static_cast<std::uint64_t>(userns_fd < 0 ? 0 : userns_fd);
  if (::mount_setattr(tree, "", AT_EMPTY_PATH | flags, &request, sizeof request) != 0)
    throw_sys_error("mount_setattr(tree of " + quote(source) + ", " + attr_names(attr) +
                    (flags & AT_RECURSIVE ? ", AT_RECURSIVE" : "") + ")");
}

// Sets attr with an idmapping of from_uid/from_gid to the task's host ids.
// what: the flag and path, for the error; how: what the idmapping gives.
void set_idmapped(int tree, const std::string& source, std::uint64_t attr, uid_t from_uid, gid_t from_gid,
                  uid_t task_host_uid, gid_t task_host_gid, const std::string& what, const std::string& how) {
  auto userns = create_idmap_user_namespace(from_uid, from_gid, task_host_uid, task_host_gid);
  try {
    set_attributes(tree, source, attr | MOUNT_ATTR_IDMAP, 0, userns.get());
  } catch (const SysError& error) {
    // EINVAL here is the filesystem refusing an id-mapped mount: say which,
    // and what works, rather than leave the caller with the raw errno.
    struct statfs fs {};
    if (error.err() != EINVAL || ::fstatfs(tree, &fs) != 0) throw;
    throw Error(what + ": its filesystem (" + filesystem_name(static_cast<std::uint64_t>(fs.f_type)) +
                    ") cannot be mounted id-mapped, which " + how + " (fix: " +
                    (what.rfind("--bind-rw", 0) == 0 ? "bind a directory on ext4, xfs or btrfs, or use --bind; "
                                                      : "use a workspace on ext4, xfs or btrfs; ") +
                    error.what() + ")",
                exit_code::runner_failed);
  }
}

// A caller's --bind-rw through the daemon (mount.idmap_from_uid): the top
// directory (or file) alone, as the workspace, id-mapped so the caller's
// ids are the task's. Never mounted otherwise: without the mapping the
// task's files there would belong to the run's slot uid, which a later run
// of another user may get.
UniqueFd prepare_caller_bind(const policy::PreparedMount& mount, uid_t task_host_uid, gid_t task_host_gid,
                             bool have_mount_setattr) {
  const std::string what = mount.origin.empty() ? "--bind-rw " + quote(mount.source) : mount.origin;
  if (!have_mount_setattr)
    throw Error(what + ": this kernel has no mount_setattr (Linux 5.12), which a writable bind through the daemon "
                       "needs to make the task's files there yours (fix: use --bind, or a newer kernel)",
                exit_code::runner_failed);
  auto tree = open_tree_or_throw(mount.source, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC, false);
  // The path was read back from the fd the caller's client opened; a path
  // swapped since (a symlink planted by the caller) would mount what root
  // can reach.
  struct stat opened {};
  if (::fstat(tree.get(), &opened) != 0) throw_sys_error("fstat(tree of " + quote(mount.source) + ")");
  if (mount.inode != 0 && (opened.st_dev != mount.device || opened.st_ino != mount.inode))
    throw Error(what + " changed while the launch was being prepared (fix: run again)", exit_code::refused);
  set_idmapped(tree.get(), mount.source, prepared_mount_attributes(mount), *mount.idmap_from_uid, *mount.idmap_from_gid,
               task_host_uid, task_host_gid, what, "makes what the task creates there yours");
  return tree;
}

UniqueFd prepare_workspace(const policy::PreparedMount& mount, const policy::LaunchPlan& plan, uid_t task_host_uid,
                           gid_t task_host_gid, bool have_mount_setattr) {
  // Only the workspace directory itself, not what is mounted below it: a
  // submount there is not part of the caller's repository.
  auto tree = open_tree_or_throw(mount.source, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC, false);
  const auto& workspace = *plan.workspace;
  // The directory must be the one the policy checked: a symlink swapped into
  // the path since then (by whoever controls it) would mount an unchecked
  // tree, e.g. a home directory full of secrets.
  struct stat opened {};
  if (::fstat(tree.get(), &opened) != 0) throw_sys_error("fstat(tree of " + quote(mount.source) + ")");
  if (workspace.inode != 0 && (opened.st_dev != workspace.device || opened.st_ino != workspace.inode))
    throw Error("--workspace " + quote(mount.source) + " changed while the launch was being prepared (fix: run again)",
                exit_code::refused);
  if (!have_mount_setattr) return tree;
  set_idmapped(tree.get(), mount.source, prepared_mount_attributes(mount), workspace.owner_uid, workspace.owner_gid,
               task_host_uid, task_host_gid, "--workspace " + quote(mount.source),
               "maps the task to the workspace's owner");
  return tree;
}

}  // namespace

std::vector<int> PreparedMounts::raw_fds() const {
  std::vector<int> fds;
  fds.reserve(trees.size());
  for (const auto& tree : trees) fds.push_back(tree.get());
  return fds;
}

bool kernel_has_mount_setattr() {
  // EBADF (bad fd) means the syscall exists; ENOSYS that it does not.
  return ::syscall(SYS_mount_setattr, -1, "", 0, nullptr, 0) != 0 && errno != ENOSYS;
}

PreparedMounts prepare_mounts(const policy::LaunchPlan& plan, uid_t task_host_uid, gid_t task_host_gid,
                              bool have_mount_setattr, const std::vector<bool>* only) {
  PreparedMounts prepared;
  for (std::size_t i = 0; i < plan.prepared_mounts.size(); ++i) {
    const auto& mount = plan.prepared_mounts[i];
    // The termination-message file is made by the launcher, not opened here
    // (stages/termination_message.h).
    if ((only && (i >= only->size() || !(*only)[i])) || mount.kind == policy::PreparedMount::Kind::termination_message) {
      prepared.trees.emplace_back();
      continue;
    }
    if (mount.kind == policy::PreparedMount::Kind::workspace) {
      prepared.trees.push_back(prepare_workspace(mount, plan, task_host_uid, task_host_gid, have_mount_setattr));
      continue;
    }
    if (mount.idmap_from_uid && mount.idmap_from_gid) {
      prepared.trees.push_back(prepare_caller_bind(mount, task_host_uid, task_host_gid, have_mount_setattr));
      continue;
    }
    // Without mount_setattr the submounts are left out (they could not be
    // made read-only); the child remounts the top one after attaching it.
    unsigned flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (have_mount_setattr ? AT_RECURSIVE : 0U);
    auto tree = mount.image_tree.empty() ? open_tree_or_throw(mount.source, flags, mount.optional)
                                         : open_image_entry(mount, flags);
    // A caller's bind through the daemon: the path was read back from the
    // fd its client opened with the caller's rights; a path swapped since
    // (a symlink planted by the caller) would mount what root can reach.
    if (tree && mount.inode != 0) {
      struct stat opened {};
      if (::fstat(tree.get(), &opened) != 0) throw_sys_error("fstat(tree of " + quote(mount.source) + ")");
      if (opened.st_dev != mount.device || opened.st_ino != mount.inode)
        throw Error("--bind " + quote(mount.source) + " changed while the launch was being prepared (fix: run again)",
                    exit_code::refused);
    }
    if (tree && have_mount_setattr)
      set_attributes(tree.get(), mount.source, prepared_mount_attributes(mount), AT_RECURSIVE, -1);
    prepared.trees.push_back(std::move(tree));
  }
  return prepared;
}

}  // namespace tierbox::stages
