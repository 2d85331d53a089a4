#include "stages/staged_overlay.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>

#include "common/errors.h"
#include "common/files.h"
#include "common/rfc3339.h"

namespace tierbox::stages {
namespace {

void make_dir(const std::filesystem::path& dir, mode_t mode) {
  if (::mkdir(dir.c_str(), mode) != 0 && errno != EEXIST)
    throw_sys_error("mkdir(" + quote(dir.string()) + ", 0" + std::to_string(mode) + ")");
}

// dir/relative beneath dir, never through a symlink (O_PATH); invalid when
// absent.
UniqueFd open_beneath(int dir, const std::string& relative) {
  struct open_how how {};
  how.flags = O_PATH | O_DIRECTORY | O_CLOEXEC;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  return UniqueFd(static_cast<int>(::syscall(SYS_openat2, dir, relative.c_str(), &how, sizeof how)));
}

// upper/relative as a directory, made like copy-up would make it (the lower
// directory's mode and the owner it shows through the id-mapped tree)
// where it is missing, component by component.
UniqueFd upper_directory(int upper, int lower, const std::string& relative, const std::string& where) {
  UniqueFd upper_dir(::fcntl(upper, F_DUPFD_CLOEXEC, 0));
  UniqueFd lower_dir(::fcntl(lower, F_DUPFD_CLOEXEC, 0));
  if (!upper_dir || !lower_dir) throw_sys_error("fcntl(" + quote(where) + ", F_DUPFD_CLOEXEC)");
  std::size_t start = 0;
  while (start < relative.size()) {
    const auto slash = relative.find('/', start);
    const auto name = relative.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    start = slash == std::string::npos ? relative.size() : slash + 1;
    auto lower_child = open_beneath(lower_dir.get(), name);
    struct stat st {};
    if (!lower_child || ::fstat(lower_child.get(), &st) != 0)
      throw_sys_error("openat2(workspace / " + quote(relative) + ", O_PATH|O_DIRECTORY, RESOLVE_NO_SYMLINKS)");
    auto upper_child = open_beneath(upper_dir.get(), name);
    if (!upper_child) {
      if (::mkdirat(upper_dir.get(), name.c_str(), 0700) != 0)
        throw_sys_error("mkdirat(" + quote(where + "/" + relative) + ", 0700)");
      upper_child = open_beneath(upper_dir.get(), name);
      if (!upper_child) throw_sys_error("openat2(" + quote(where + "/" + relative) + ", O_PATH|O_DIRECTORY)");
      // O_PATH fds take neither fchown nor fchmod: through the empty path.
      if (::fchownat(upper_child.get(), "", st.st_uid, st.st_gid, AT_EMPTY_PATH) != 0 ||
          ::fchmodat(upper_dir.get(), name.c_str(), st.st_mode & 07777, 0) != 0)
        throw_sys_error("fchownat/fchmodat(" + quote(where + "/" + relative) + ", " + std::to_string(st.st_uid) + ")");
    }
    upper_dir = std::move(upper_child);
    lower_dir = std::move(lower_child);
  }
  return upper_dir;
}

// A layer handed over by fd: a detached tree's fd is O_PATH (open_tree),
// which FSCONFIG_SET_FD takes only from Linux 6.15 ("fs: support O_PATH fds
// with FSCONFIG_SET_FD"); 6.13 and 6.14 refuse it with EBADF. The same
// directory reopened for reading is taken from 6.13, and names the same
// mount (the tree's own, id-mapped or not).
UniqueFd reopen_directory(int tree) {
  UniqueFd directory(::openat(tree, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!directory) throw_sys_error("openat(lower tree, \".\", O_RDONLY|O_DIRECTORY)");
  return directory;
}

void fsconfig_or_throw(int context, const std::string& key, const std::string& value) {
  if (::fsconfig(context, FSCONFIG_SET_STRING, key.c_str(), value.c_str(), 0) != 0)
    throw_sys_error("fsconfig(overlay, FSCONFIG_SET_STRING, " + quote(key) + ", " + quote(value) + ")");
}

UniqueFd overlay_context() {
  UniqueFd context(::fsopen("overlay", FSOPEN_CLOEXEC));
  if (!context) throw_sys_error("fsopen(\"overlay\", FSOPEN_CLOEXEC) (the layer needs overlayfs: modprobe overlay)");
  return context;
}

// "lowerdir+" by fd (lower_tree reopened: reopen_directory). False when
// this kernel takes no fd there (before 6.13: the caller falls back to a
// path); throws on any other failure.
bool set_lower_fd(int context, int lower_tree) {
  const auto lower = reopen_directory(lower_tree);
  if (::fsconfig(context, FSCONFIG_SET_FD, "lowerdir+", nullptr, lower.get()) == 0) return true;
  if (errno == EINVAL || errno == EOPNOTSUPP) return false;
  throw_sys_error("fsconfig(overlay, FSCONFIG_SET_FD, \"lowerdir+\", lower tree)");
}

// The overlay made from its configured context and mounted detached
// (nosuid, nodev); layers: what the error names.
UniqueFd create_overlay(int context, const std::string& layers) {
  if (::fsconfig(context, FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0)
    throw_sys_error("fsconfig(overlay " + layers + ", FSCONFIG_CMD_CREATE)");
  UniqueFd overlay(::fsmount(context, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV));
  if (!overlay) throw_sys_error("fsmount(overlay, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID|MOUNT_ATTR_NODEV)");
  return overlay;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> overlay_parameters(const OverlayOptions& options) {
  for (const auto* path : {&options.lowerdir, &options.upperdir, &options.workdir})
    if (path->find_first_of(",:\\") != std::string::npos)
      throw Error("staged workspace: the layer path " + quote(*path) +
                      " holds ',', ':' or '\\', which overlayfs splits options on (fix: a state_dir without them)",
                  exit_code::runner_failed);
  return {{"lowerdir", options.lowerdir},
          {"upperdir", options.upperdir},
          {"workdir", options.workdir},
          // Renamed directories are copied (EXDEV to the task, which mv
          // handles) instead of recorded as redirects; copy-up copies data
          // too; no inode index: the upper layer alone says what changed.
          {"redirect_dir", "off"},
          {"metacopy", "off"},
          {"index", "off"}};
}

void create_staged_layer(const staged::StagedPaths& paths, const staged::StagedRun& record, uid_t task_host_uid,
                         mode_t root_mode) {
  make_private_dirs(paths.dir, "staged workspace: ");
  staged::write_staged_run(paths, record, Durability::none);
  make_dir(paths.layer(), 0700);
  std::string options = "mode=0700";
  // The inodes are bounded with the bytes (one per KiB, at least 16k): a
  // tmpfs's default is half of RAM's pages, and empty files cost no bytes.
  if (record.size_bytes != 0)
    options += ",size=" + std::to_string(record.size_bytes) +
               ",nr_inodes=" + std::to_string(std::max<std::uint64_t>(record.size_bytes >> 10, 16384));
  // nosuid, nodev, noexec: the layer is only ever read through the overlay
  // (whose own flags govern the task) and by tierbox.
  if (::mount("tierbox-staged", paths.layer().c_str(), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, options.c_str()) != 0)
    throw_sys_error("mount(tmpfs -> " + quote(paths.layer().string()) + ", MS_NOSUID|MS_NODEV|MS_NOEXEC, " +
                    quote(options) + ")");
  // Private: the workspace attached below it for a moment must not
  // propagate into other mount namespaces.
  if (::mount(nullptr, paths.layer().c_str(), nullptr, MS_PRIVATE, nullptr) != 0)
    throw_sys_error("mount(" + quote(paths.layer().string()) + ", MS_PRIVATE)");
  make_dir(paths.upper(), root_mode & 07777);
  // The merged root takes the upper directory's owner and mode: the task's,
  // as the id-mapped workspace root shows it.
  if (::chown(paths.upper().c_str(), task_host_uid, task_host_uid) != 0 ||
      ::chmod(paths.upper().c_str(), root_mode & 07777) != 0)
    throw_sys_error("chown/chmod(" + quote(paths.upper().string()) + ", " + std::to_string(task_host_uid) + ")");
  make_dir(paths.work(), 0700);
  make_dir(paths.lower(), 0700);
}

void create_layer_placeholders(const staged::StagedPaths& paths, int workspace_tree,
                               const std::vector<staged::LayerPlaceholder>& placeholders) {
  if (placeholders.empty()) return;
  const std::string where = paths.upper().string();
  UniqueFd upper(::open(paths.upper().c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!upper) throw_sys_error("open(" + quote(where) + ", O_PATH|O_DIRECTORY)");
  for (const auto& placeholder : placeholders) {
    const auto slash = placeholder.path.rfind('/');
    const auto parent_path = slash == std::string::npos ? std::string() : placeholder.path.substr(0, slash);
    const auto name = slash == std::string::npos ? placeholder.path : placeholder.path.substr(slash + 1);
    const auto parent = upper_directory(upper.get(), workspace_tree, parent_path, where);
    const std::string path = where + "/" + placeholder.path;
    UniqueFd entry;
    if (placeholder.directory) {
      if (::mkdirat(parent.get(), name.c_str(), 0755) != 0) throw_sys_error("mkdirat(" + quote(path) + ", 0755)");
      entry = UniqueFd(::openat(parent.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    } else {
      entry = UniqueFd(::openat(parent.get(), name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
    }
    if (!entry) throw_sys_error("openat(" + quote(path) + ", O_CREAT|O_EXCL|O_NOFOLLOW)");
    if (!placeholder.directory) write_all(entry.get(), placeholder.content, path);
    struct stat owner {};
    if (::fstat(parent.get(), &owner) != 0 || ::fchown(entry.get(), owner.st_uid, owner.st_gid) != 0)
      throw_sys_error("fchown(" + quote(path) + ")");
    if (::fsetxattr(entry.get(), staged::kPlaceholderMark, "1", 1, 0) != 0)
      throw_sys_error(std::string("fsetxattr(") + quote(path) + ", " + staged::kPlaceholderMark + ")");
  }
}

namespace {

// Linux 6.13+: the lower layer handed over as the detached tree's fd
// ("lowerdir+" with FSCONFIG_SET_FD, reopened: reopen_directory), without
// attaching it anywhere.
// Invalid when this kernel takes no fd there (the caller falls back to a
// path); throws on any other failure.
UniqueFd overlay_with_lower_fd(int lower_tree, const std::filesystem::path& upper, const std::filesystem::path& work) {
  const auto context = overlay_context();
  if (!set_lower_fd(context.get(), lower_tree)) return UniqueFd();
  for (const auto& [key, value] : overlay_parameters({"", upper, work}))
    if (key != "lowerdir") fsconfig_or_throw(context.get(), key, value);
  return create_overlay(context.get(), "lowerdir+=lower tree upperdir=" + quote(upper.string()));
}

}  // namespace

UniqueFd make_overlay(UniqueFd lower_tree, const std::filesystem::path& lower_mountpoint,
                      const std::filesystem::path& upper, const std::filesystem::path& work) {
  // The overlay holds its own clone of the tree either way.
  if (auto overlay = overlay_with_lower_fd(lower_tree.get(), upper, work)) return overlay;
  const auto parameters = overlay_parameters({lower_mountpoint, upper, work});
  if (::move_mount(lower_tree.get(), "", AT_FDCWD, lower_mountpoint.c_str(), MOVE_MOUNT_F_EMPTY_PATH) != 0)
    throw_sys_error("move_mount(lower tree -> " + quote(lower_mountpoint.string()) + ", MOVE_MOUNT_F_EMPTY_PATH)");
  lower_tree.reset();
  // The attachment is only needed until fsconfig(CMD_CREATE) has taken the
  // overlay's private clone of it: detach it on every path out.
  struct DetachLower {
    const std::filesystem::path& lower;
    ~DetachLower() { ::umount2(lower.c_str(), MNT_DETACH); }
  } detach{lower_mountpoint};
  const auto context = overlay_context();
  for (const auto& [key, value] : parameters) fsconfig_or_throw(context.get(), key, value);
  return create_overlay(context.get(),
                        "lowerdir=" + quote(lower_mountpoint.string()) + " upperdir=" + quote(upper.string()));
}

UniqueFd make_overlay_from_fds(UniqueFd& lower_tree, int upper, int work) {
  const auto context = overlay_context();
  // upperdir first: a kernel that takes no fd for a layer (before 6.13)
  // refuses it with EINVAL, and nothing has been handed over yet.
  if (::fsconfig(context.get(), FSCONFIG_SET_FD, "upperdir", nullptr, upper) != 0) {
    if (errno == EINVAL || errno == EOPNOTSUPP) return UniqueFd();
    throw_sys_error("fsconfig(overlay, FSCONFIG_SET_FD, \"upperdir\", layer upper)");
  }
  if (::fsconfig(context.get(), FSCONFIG_SET_FD, "workdir", nullptr, work) != 0)
    throw_sys_error("fsconfig(overlay, FSCONFIG_SET_FD, \"workdir\", layer work)");
  if (!set_lower_fd(context.get(), lower_tree.get())) return UniqueFd();
  for (const auto& [key, value] : overlay_parameters({"", "", ""}))
    if (key != "lowerdir" && key != "upperdir" && key != "workdir") fsconfig_or_throw(context.get(), key, value);
  auto overlay = create_overlay(context.get(), "lowerdir+=lower tree upperdir=layer fd");
  lower_tree.reset();  // the overlay holds its own clone
  return overlay;
}

UniqueFd make_staged_overlay(const staged::StagedPaths& paths, UniqueFd workspace_tree) {
  return make_overlay(std::move(workspace_tree), paths.lower(), paths.upper(), paths.work());
}

std::filesystem::path stage_workspace(const policy::LaunchPlan& plan, std::vector<UniqueFd>& trees,
                                      const std::filesystem::path& state_dir, uid_t task_host_uid,
                                      bool have_mount_setattr) {
  if (!plan.workspace || !plan.workspace->staged) return {};
  if (!have_mount_setattr)
    throw Error("staged workspace: this kernel has no mount_setattr (Linux 5.12), which the overlay's id-mapped lower "
                "layer needs (fix: a newer kernel, or a tier without \"staged\")",
                exit_code::runner_failed);
  std::size_t index = 0;
  while (index < plan.prepared_mounts.size() && plan.prepared_mounts[index].kind != policy::PreparedMount::Kind::workspace)
    ++index;
  if (index >= trees.size()) throw Error("staged workspace: the plan prepares no workspace tree", exit_code::runner_failed);
  const auto& workspace = *plan.workspace;
  struct stat root {};
  if (::fstat(trees[index].get(), &root) != 0) throw_sys_error("fstat(tree of " + quote(workspace.host_path) + ")");

  staged::StagedRun record;
  record.run_id = plan.run_id;
  record.tier = plan.tier;
  record.workspace = workspace.host_path;
  record.started_at = rfc3339_utc(std::chrono::system_clock::now());
  struct timespec now {};
  ::clock_gettime(CLOCK_REALTIME_COARSE, &now);
  record.baseline_ns = static_cast<std::int64_t>(now.tv_sec) * 1000000000 + now.tv_nsec;
  record.requester_uid = plan.requester_uid;
  record.requester = plan.requester;
  record.sudo_uid = plan.requester_sudo_uid;
  record.workspace_uid = workspace.owner_uid;
  record.workspace_gid = workspace.owner_gid;
  record.layer_uid = task_host_uid;
  record.size_bytes = workspace.layer_size_bytes;
  for (const auto& placeholder : workspace.layer_placeholders)
    record.placeholders.push_back({placeholder.relative, placeholder.directory, placeholder.content});
  const auto paths = staged::staged_paths(state_dir, plan.run_id);
  create_staged_layer(paths, record, task_host_uid, root.st_mode);
  create_layer_placeholders(paths, trees[index].get(), record.placeholders);
  trees[index] = make_staged_overlay(paths, std::move(trees[index]));
  return paths.dir;
}

}  // namespace tierbox::stages
