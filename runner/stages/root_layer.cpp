#include "stages/root_layer.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <optional>

#include "common/errors.h"
#include "common/files.h"
#include "stages/staged_overlay.h"
#include "stages/user_namespace.h"

namespace tierbox::stages {
namespace {

void make_dir(const std::filesystem::path& dir, mode_t mode) {
  if (::mkdir(dir.c_str(), mode) != 0 && errno != EEXIST)
    throw_sys_error("mkdir(" + quote(dir.string()) + ", 0" + std::to_string(mode) + ")");
}

// The layer's tmpfs, mounted for as long as the overlays are being made:
// detached from the host's mount table and its directory removed on every
// way out (the overlays keep the filesystem itself).
class MountedLayer {
 public:
  MountedLayer(std::filesystem::path dir, std::uint64_t size_bytes) : dir_(std::move(dir)) {
    make_private_dirs(dir_.parent_path(), "root layer: ");
    make_dir(dir_, 0700);
    const auto options = root_layer_tmpfs_options(size_bytes);
    // nosuid, nodev: the layer is only read through the overlays, whose own
    // flags (nosuid, nodev) govern the task; not noexec, which the task's
    // programs copied up from the image would inherit.
    if (::mount("tierbox-root-layer", dir_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, options.c_str()) != 0) {
      ::rmdir(dir_.c_str());
      throw_sys_error("mount(tmpfs -> " + quote(dir_.string()) + ", MS_NOSUID|MS_NODEV, " + quote(options) + ")");
    }
    // Private: a lower tree attached below it for a moment (the path
    // method) must not propagate into other mount namespaces. (A throwing
    // constructor runs no destructor: undone here.)
    if (::mount(nullptr, dir_.c_str(), nullptr, MS_PRIVATE, nullptr) != 0) {
      const int error = errno;
      ::umount2(dir_.c_str(), MNT_DETACH);
      ::rmdir(dir_.c_str());
      throw SysError(error, "mount(" + quote(dir_.string()) + ", MS_PRIVATE)");
    }
  }
  MountedLayer(const MountedLayer&) = delete;
  MountedLayer& operator=(const MountedLayer&) = delete;
  ~MountedLayer() {
    ::umount2(dir_.c_str(), MNT_DETACH);
    ::rmdir(dir_.c_str());
  }
  [[nodiscard]] const std::filesystem::path& dir() const { return dir_; }

 private:
  std::filesystem::path dir_;
};

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

}  // namespace

std::string root_layer_tmpfs_options(std::uint64_t size_bytes) {
  return "mode=0700,size=" + std::to_string(size_bytes) +
         ",nr_inodes=" + std::to_string(std::max<std::uint64_t>(size_bytes >> 10, 16384));
}

RootLayerReport make_root_layer(const policy::LaunchPlan& plan, std::vector<UniqueFd>& trees,
                                const std::filesystem::path& state_dir, const std::string& id, uid_t task_host_uid,
                                gid_t task_host_gid, bool have_mount_setattr) {
  RootLayerReport report;
  if (!plan.root_layer) return report;
  const auto& layer_plan = *plan.root_layer;
  MountedLayer layer(state_dir / "root-layers" / id, layer_plan.size_bytes);
  for (const char* part : {"upper", "work", "lower"}) make_dir(layer.dir() / part, 0700);
  std::optional<UniqueFd> userns;
  if (have_mount_setattr)
    userns = create_idmap_user_namespace(layer_plan.image_owner_uid, layer_plan.image_owner_gid, task_host_uid,
                                         task_host_gid);
  for (std::size_t i = 0; i < plan.prepared_mounts.size() && i < trees.size(); ++i) {
    const auto& mount = plan.prepared_mounts[i];
    if (!mount.layered || !trees[i]) continue;
    if (userns && idmap_tree(trees[i].get(), userns->get(), mount.source)) ++report.idmapped;
    // The overlay's root directory takes the upper one's owner and mode:
    // the lower's, as the (id-mapped) tree shows it.
    struct stat root {};
    if (::fstat(trees[i].get(), &root) != 0) throw_sys_error("fstat(tree of " + quote(mount.source) + ")");
    const auto name = std::to_string(i);
    const auto upper = layer.dir() / "upper" / name;
    make_dir(upper, 0700);
    if (::chown(upper.c_str(), root.st_uid, root.st_gid) != 0 || ::chmod(upper.c_str(), root.st_mode & 07777) != 0)
      throw_sys_error("chown/chmod(" + quote(upper.string()) + ", " + std::to_string(root.st_uid) + ")");
    make_dir(layer.dir() / "work" / name, 0700);
    make_dir(layer.dir() / "lower" / name, 0700);
    trees[i] = make_overlay(std::move(trees[i]), layer.dir() / "lower" / name, upper, layer.dir() / "work" / name);
    ++report.overlays;
  }
  return report;
}

}  // namespace tierbox::stages
