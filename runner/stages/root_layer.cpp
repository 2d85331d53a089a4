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
#include "stages/staged_overlay.h"
#include "stages/user_namespace.h"

namespace tierbox::stages {
namespace {

// At most this many directories are made ahead in a layer whose lower trees
// cannot be id-mapped (each is an inode of the layer, beside its own bound).
constexpr std::size_t kMaxMirroredDirectories = 65536;

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
    // Room for the directories made ahead (mirror_directories); the
    // inodes they did not take are given back once they are made.
    const auto options = root_layer_tmpfs_options(size_bytes, kMaxMirroredDirectories);
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
  // The layer's inodes: its own bound, plus the directories made ahead.
  void set_inodes(std::uint64_t size_bytes, std::uint64_t extra_inodes) const {
    const auto options = root_layer_tmpfs_options(size_bytes, extra_inodes);
    const auto inodes = options.substr(options.find("nr_inodes="));
    if (::mount(nullptr, dir_.c_str(), nullptr, MS_REMOUNT | MS_NOSUID | MS_NODEV, inodes.c_str()) != 0)
      throw_sys_error("mount(" + quote(dir_.string()) + ", MS_REMOUNT, " + quote(inodes) + ")");
  }

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
// stays on device (what is mounted below the tree is not the overlay's).
bool mirror_directories(int lower, int upper, dev_t device, const DirectoryOwners& owners, std::size_t& budget,
                        const std::string& where) {
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
    if (!mirror_directories(lower_child.get(), upper_child.get(), device, owners, budget, path)) return false;
  }
  return true;
}

}  // namespace

std::vector<std::string> remove_leftover_root_layers(const std::filesystem::path& state_dir,
                                                     const std::vector<std::string>& live_ids) {
  std::vector<std::string> removed;
  std::error_code ec;
  const auto now = std::filesystem::file_time_type::clock::now();
  for (const auto& entry : std::filesystem::directory_iterator(state_dir / "root-layers", ec)) {
    const auto id = entry.path().filename().string();
    if (std::find(live_ids.begin(), live_ids.end(), id) != live_ids.end()) continue;
    std::error_code time_ec;
    const auto changed = std::filesystem::last_write_time(entry.path(), time_ec);
    if (time_ec || now - changed < std::chrono::minutes(1)) continue;
    ::umount2(entry.path().c_str(), MNT_DETACH);  // EINVAL: not mounted (its directory only)
    if (::rmdir(entry.path().c_str()) == 0) removed.push_back("root layer " + entry.path().string());
  }
  return removed;
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
  MountedLayer layer(state_dir / "root-layers" / id, layer_plan.size_bytes);
  for (const char* part : {"upper", "work", "lower"}) make_dir(layer.dir() / part, 0700);
  std::optional<UniqueFd> userns;
  if (have_mount_setattr)
    userns = create_idmap_user_namespace(layer_plan.image_owner_uid, layer_plan.image_owner_gid, task_host_uid,
                                         task_host_gid);
  const DirectoryOwners owners{layer_plan.image_owner_uid, plan.task_uid, task_host_uid, task_host_gid};
  std::size_t budget = kMaxMirroredDirectories;
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
    const auto upper = layer.dir() / "upper" / name;
    make_dir(upper, 0700);
    UniqueFd upper_fd(::open(upper.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!upper_fd) throw_sys_error("open(" + quote(upper.string()) + ", O_DIRECTORY)");
    if (idmapped) {
      if (::fchown(upper_fd.get(), root.st_uid, root.st_gid) != 0 || ::fchmod(upper_fd.get(), root.st_mode & 07777) != 0)
        throw_sys_error("fchown/fchmod(" + quote(upper.string()) + ", " + std::to_string(root.st_uid) + ")");
    } else {
      own_like(upper_fd.get(), root, owners, upper.string());
      const auto before = budget;
      if (!report.mirror_cut)
        report.mirror_cut = !mirror_directories(trees[i].get(), upper_fd.get(), root.st_dev, owners, budget, mount.source);
      report.mirrored_directories += before - budget;
    }
    make_dir(layer.dir() / "work" / name, 0700);
    make_dir(layer.dir() / "lower" / name, 0700);
    trees[i] = make_overlay(std::move(trees[i]), layer.dir() / "lower" / name, upper, layer.dir() / "work" / name);
    ++report.overlays;
  }
  layer.set_inodes(layer_plan.size_bytes, report.mirrored_directories);
  return report;
}

}  // namespace tierbox::stages
