#include "stages/root_layer.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>

#include "common/errors.h"
#include "common/files.h"
#include "stages/private_tmpfs.h"
#include "stages/staged_overlay.h"
#include "stages/user_namespace.h"

namespace tierbox::stages {
namespace {

// At most this many directories are made ahead in a layer whose lower trees
// cannot be id-mapped (each is an inode of the layer, beside its own bound;
// mirrored_directory_budget bounds them by the layer's size too).
constexpr std::size_t kMaxMirroredDirectories = 65536;
// ...and no deeper than this below an image directory: each level holds
// three fds and a directory stream's buffer while the next is made, so an
// image of one chain of directories 100,000 deep would take the runner's
// fds (EMFILE: the container refused) or, with the engines' high fd limits,
// gigabytes of its memory. Deeper directories keep the image's owners.
constexpr std::size_t kMaxMirroredDepth = 128;
// The layer's name on a mount table (gc and tests look for it).
constexpr const char* kLayerSource = "tierbox-root-layer";

void make_dir_at(int layer, const std::string& relative, mode_t mode, const std::string& where) {
  if (::mkdirat(layer, relative.c_str(), mode) != 0 && errno != EEXIST)
    throw_sys_error("mkdirat(" + where + ", " + quote(relative) + ", 0" + std::to_string(mode) + ")");
}

// Whether this kernel's overlayfs takes a layer by fd (Linux 6.13+): asked
// with the layer's own upper/ directory, in a context that is then dropped.
bool overlay_takes_layer_fds(int layer) {
  UniqueFd upper(::openat(layer, "upper", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!upper) throw_sys_error("openat(root layer, \"upper\", O_DIRECTORY)");
  UniqueFd context(::fsopen("overlay", FSOPEN_CLOEXEC));
  if (!context) throw_sys_error("fsopen(\"overlay\", FSOPEN_CLOEXEC) (the layer needs overlayfs: modprobe overlay)");
  if (::fsconfig(context.get(), FSCONFIG_SET_FD, "upperdir", nullptr, upper.get()) == 0) return true;
  if (errno == EINVAL || errno == EOPNOTSUPP) return false;
  throw_sys_error("fsconfig(overlay, FSCONFIG_SET_FD, \"upperdir\", root layer upper)");
}

// The layer's inodes: its own bound, plus the directories made ahead
// (reconfigured through fspick, which takes a detached mount as well).
void set_inodes(int layer, std::uint64_t size_bytes, std::uint64_t extra_inodes) {
  const auto options = root_layer_tmpfs_options(size_bytes, extra_inodes);
  const auto inodes = options.substr(options.find("nr_inodes=") + 10);
  UniqueFd context(::fspick(layer, "", FSPICK_EMPTY_PATH | FSPICK_CLOEXEC));
  if (!context) throw_sys_error("fspick(root layer, FSPICK_EMPTY_PATH)");
  if (::fsconfig(context.get(), FSCONFIG_SET_STRING, "nr_inodes", inodes.c_str(), 0) != 0 ||
      ::fsconfig(context.get(), FSCONFIG_CMD_RECONFIGURE, nullptr, nullptr, 0) != 0)
    throw_sys_error("fsconfig(root layer, nr_inodes=" + inodes + ", FSCONFIG_CMD_RECONFIGURE)");
}

// The image root's owner becomes the task in tree, where its filesystem
// takes an idmapping; false where it does not (EINVAL: overlayfs, tmpfs
// before 6.3), and the tree is left as it was.
bool idmap_tree(int tree, int userns, const std::string& source) {
  struct mount_attr request {};
  request.attr_set = MOUNT_ATTR_IDMAP;
  request.userns_fd = static_cast<std::uint64_t>(userns);
  if (::mount_setattr(tree, "", AT_EMPTY_PATH, &request, sizeof request) == 0) return true;
  if (errno == EINVAL) return false;
  throw_sys_error("mount_setattr(tree of " + quote(source) + ", MOUNT_ATTR_IDMAP)");
}

// Who owns a directory made in an upper layer ahead of the task.
struct DirectoryOwners {
  uid_t image_owner = 0;       // the image root's owner on disk
  uid_t task_uid_on_disk = 0;  // the tier's uid as an image stores it (a rootful engine does not shift ids)
  uid_t task_host_uid = 0;
  gid_t task_host_gid = 0;
};

void own_like(int directory, const struct stat& lower, const DirectoryOwners& owners, const std::string& where) {
  const bool task = lower.st_uid == owners.image_owner || lower.st_uid == owners.task_uid_on_disk;
  if (::fchown(directory, task ? owners.task_host_uid : lower.st_uid, task ? owners.task_host_gid : lower.st_gid) != 0 ||
      ::fchmod(directory, lower.st_mode & 07777) != 0)
    throw_sys_error("fchown/fchmod(" + quote(where) + ")");
}

struct CloseDir {
  void operator()(DIR* dir) const { ::closedir(dir); }
};

// Where a lower tree cannot be id-mapped (overlayfs: containerd's and
// podman's snapshotters), its directories are made in upper ahead, as
// copy-up would make them but owned by the task where the image's root
// user or the task's uid owns them: the task may then make, replace and
// remove entries in them (its files keep their owners, so one is rewritten
// in place only where its mode lets everyone). A merged directory takes its
// owner and mode from the upper one. Stops (false) when budget runs out;
// goes no deeper than kMaxMirroredDepth;
// stays on device (what is mounted below the tree is not the overlay's).
bool mirror_directories(int lower, int upper, dev_t device, const DirectoryOwners& owners, std::size_t& budget,
                        const std::string& where, std::size_t depth = 0) {
  UniqueFd own(::openat(lower, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!own) throw_sys_error("openat(" + quote(where) + ", O_DIRECTORY)");
  std::unique_ptr<DIR, CloseDir> listing(::fdopendir(own.get()));
  if (!listing) throw_sys_error("fdopendir(" + quote(where) + ")");
  (void)own.release();  // the DIR holds it now
  while (const dirent* entry = ::readdir(listing.get())) {
    const std::string name = entry->d_name;
    if (name == "." || name == ".." || (entry->d_type != DT_DIR && entry->d_type != DT_UNKNOWN)) continue;
    struct stat st {};
    if (::fstatat(lower, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode) || st.st_dev != device)
      continue;
    if (budget == 0) return false;
    --budget;
    const auto path = where + "/" + name;
    if (::mkdirat(upper, name.c_str(), 0700) != 0 && errno != EEXIST) throw_sys_error("mkdirat(" + quote(path) + ", 0700)");
    UniqueFd upper_child(::openat(upper, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    UniqueFd lower_child(::openat(lower, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!upper_child || !lower_child) throw_sys_error("openat(" + quote(path) + ", O_DIRECTORY|O_NOFOLLOW)");
    own_like(upper_child.get(), st, owners, path);
    if (depth + 1 < kMaxMirroredDepth &&
        !mirror_directories(lower_child.get(), upper_child.get(), device, owners, budget, path, depth + 1))
      return false;
  }
  return true;
}

}  // namespace

std::vector<std::string> remove_leftover_root_layers(const std::filesystem::path& state_dir,
                                                     const std::vector<std::string>& live_ids) {
  return remove_leftover_private_tmpfs(state_dir / "root-layers", live_ids, "root layer");
}

std::size_t mirrored_directory_budget(std::uint64_t size_bytes) {
  return static_cast<std::size_t>(std::min<std::uint64_t>(kMaxMirroredDirectories, std::max<std::uint64_t>(size_bytes >> 10, 1024)));
}

std::string root_layer_tmpfs_options(std::uint64_t size_bytes, std::uint64_t extra_inodes) {
  return "mode=0700,size=" + std::to_string(size_bytes) +
         ",nr_inodes=" + std::to_string(std::max<std::uint64_t>(size_bytes >> 10, 16384) + extra_inodes);
}

RootLayerReport make_root_layer(const policy::LaunchPlan& plan, std::vector<UniqueFd>& trees,
                                const std::filesystem::path& state_dir, const std::string& id, uid_t task_host_uid,
                                gid_t task_host_gid, bool have_mount_setattr) {
  RootLayerReport report;
  if (!plan.root_layer) return report;
  const auto& layer_plan = *plan.root_layer;
  // Linux 6.13+: a detached tmpfs, never on any mount table, its directories
  // handed to overlayfs by fd. Before: mounted under state_dir a moment.
  // Room for the directories made ahead (mirror_directories); the inodes
  // they did not take are given back once they are made. nosuid, nodev:
  // the layer is only read through the overlays, whose own flags (nosuid,
  // nodev) govern the task; not noexec, which the task's programs copied up
  // from the image would inherit.
  const auto options = root_layer_tmpfs_options(layer_plan.size_bytes, mirrored_directory_budget(layer_plan.size_bytes));
  std::unique_ptr<MountedTmpfs> mounted;
  UniqueFd layer = detached_tmpfs(kLayerSource, options, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
  const std::string where = "root layer of " + id;
  for (const char* part : {"upper", "work", "lower"}) make_dir_at(layer.get(), part, 0700, where);
  if (!overlay_takes_layer_fds(layer.get())) {
    mounted = std::make_unique<MountedTmpfs>(state_dir / "root-layers" / id, kLayerSource, MS_NOSUID | MS_NODEV, options,
                                             "root layer");
    layer = UniqueFd(::open(mounted->dir().c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!layer) throw_sys_error("open(" + quote(mounted->dir().string()) + ", O_DIRECTORY)");
    for (const char* part : {"upper", "work", "lower"}) make_dir_at(layer.get(), part, 0700, where);
  }
  report.detached = !mounted;
  std::optional<UniqueFd> userns;
  if (have_mount_setattr)
    userns = create_idmap_user_namespace(layer_plan.image_owner_uid, layer_plan.image_owner_gid, task_host_uid,
                                         task_host_gid);
  const DirectoryOwners owners{layer_plan.image_owner_uid, plan.task_uid, task_host_uid, task_host_gid};
  std::size_t budget = mirrored_directory_budget(layer_plan.size_bytes);
  for (std::size_t i = 0; i < plan.prepared_mounts.size() && i < trees.size(); ++i) {
    const auto& mount = plan.prepared_mounts[i];
    if (!mount.layered || !trees[i]) continue;
    const bool idmapped = userns && idmap_tree(trees[i].get(), userns->get(), mount.source);
    if (idmapped) ++report.idmapped;
    // The overlay's root directory takes the upper one's owner and mode:
    // the lower's, as the (id-mapped) tree shows it, or as own_like gives it.
    struct stat root {};
    if (::fstat(trees[i].get(), &root) != 0) throw_sys_error("fstat(tree of " + quote(mount.source) + ")");
    const auto name = std::to_string(i);
    const auto upper = "upper/" + name;
    const auto work = "work/" + name;
    make_dir_at(layer.get(), upper, 0700, where);
    make_dir_at(layer.get(), work, 0700, where);
    UniqueFd upper_fd(::openat(layer.get(), upper.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    UniqueFd work_fd(::openat(layer.get(), work.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!upper_fd || !work_fd) throw_sys_error("openat(" + where + ", " + quote(upper) + ", O_DIRECTORY)");
    if (idmapped) {
      if (::fchown(upper_fd.get(), root.st_uid, root.st_gid) != 0 || ::fchmod(upper_fd.get(), root.st_mode & 07777) != 0)
        throw_sys_error("fchown/fchmod(" + where + " " + quote(upper) + ", " + std::to_string(root.st_uid) + ")");
    } else {
      own_like(upper_fd.get(), root, owners, where + " " + upper);
      const auto before = budget;
      if (!report.mirror_cut)
        report.mirror_cut = !mirror_directories(trees[i].get(), upper_fd.get(), root.st_dev, owners, budget, mount.source);
      report.mirrored_directories += before - budget;
    }
    if (!mounted) {
      trees[i] = make_overlay_from_fds(trees[i], upper_fd.get(), work_fd.get());
      if (!trees[i]) throw Error("root layer: the kernel took the layer's upper directory by fd but not the image's "
                                 "tree (\"lowerdir+\")", exit_code::runner_failed);
    } else {
      make_dir_at(layer.get(), "lower/" + name, 0700, where);
      trees[i] = make_overlay(std::move(trees[i]), mounted->dir() / "lower" / name, mounted->dir() / upper,
                              mounted->dir() / work);
    }
    ++report.overlays;
  }
  set_inodes(layer.get(), layer_plan.size_bytes, report.mirrored_directories);
  return report;
}

}  // namespace tierbox::stages
