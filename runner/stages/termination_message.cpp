#include "stages/termination_message.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>

#include "common/errors.h"
#include "common/files.h"
#include "common/logging.h"
#include "stages/private_tmpfs.h"

namespace tierbox::stages {
namespace {

constexpr const char* kFileName = "termination-log";
constexpr const char* kSource = "tierbox-termination-message";  // its name on a mount table (gc, tests)

// The index of the plan's termination-message tree.
std::size_t tree_index(const policy::LaunchPlan& plan) {
  for (std::size_t i = 0; i < plan.prepared_mounts.size(); ++i)
    if (plan.prepared_mounts[i].kind == policy::PreparedMount::Kind::termination_message) return i;
  throw Error("internal: the plan has a termination message but no tree for it", exit_code::runner_failed);
}

// The task's file in directory (the tmpfs's root), owned by the task, 0600.
UniqueFd make_file(int directory, uid_t uid, gid_t gid, const std::string& where) {
  UniqueFd file(::openat(directory, kFileName, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!file) throw_sys_error("openat(" + where + ", " + quote(kFileName) + ", O_RDWR|O_CREAT|O_EXCL|O_NOFOLLOW, 0600)");
  if (::fchown(file.get(), uid, gid) != 0 || ::fchmod(file.get(), 0600) != 0)
    throw_sys_error("fchown/fchmod(" + where + "/" + kFileName + ", " + std::to_string(uid) + ", 0600)");
  return file;
}

void seal(int tree, bool have_mount_setattr) {
  if (!have_mount_setattr) return;  // the child's remount (prepared_mount_remount_flags) applies instead
  struct mount_attr request {};
  request.attr_set = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
  request.propagation = MS_PRIVATE;
  if (::mount_setattr(tree, "", AT_EMPTY_PATH, &request, sizeof request) != 0)
    throw_sys_error("mount_setattr(termination-message tree, MOUNT_ATTR_NOSUID|MOUNT_ATTR_NODEV|MOUNT_ATTR_NOEXEC)");
}

}  // namespace

std::string termination_message_tmpfs_options(std::uint64_t size_bytes) {
  return "mode=0700,size=" + std::to_string(size_bytes) + ",nr_inodes=4";
}

UniqueFd make_termination_message_file(const policy::LaunchPlan& plan, std::vector<UniqueFd>& trees,
                                       const std::filesystem::path& state_dir, const std::string& id,
                                       uid_t task_host_uid, gid_t task_host_gid, bool have_mount_setattr) {
  if (!plan.termination_message) return UniqueFd();
  const auto index = tree_index(plan);
  if (index >= trees.size()) trees.resize(index + 1);
  const auto& message = *plan.termination_message;
  const std::string where = "termination-message tmpfs of " + id;
  if (std::getenv("TIERBOX_TEST_MOUNTED_TERMINATION_MESSAGE") == nullptr) {
    auto tmpfs = detached_tmpfs(kSource, termination_message_tmpfs_options(message.size_bytes),
                                MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
    auto content = make_file(tmpfs.get(), task_host_uid, task_host_gid, where);
    UniqueFd tree(::open_tree(tmpfs.get(), kFileName, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC));
    if (tree) {
      seal(tree.get(), have_mount_setattr);
      trees[index] = std::move(tree);
      logging::step("termination message: {} on a detached tmpfs of {} bytes", message.target, message.size_bytes);
      return content;
    }
    // EINVAL: this kernel clones no detached mount (before 6.15).
    if (errno != EINVAL) throw_sys_error("open_tree(" + where + ", " + quote(kFileName) + ", OPEN_TREE_CLONE)");
  }
  // Before 6.15 a clone is made only from a mount of the caller's
  // namespace: mounted under the state directory for as long as it takes.
  const MountedTmpfs mounted(state_dir / "termination-messages" / id, kSource, MS_NOSUID | MS_NODEV | MS_NOEXEC,
                             termination_message_tmpfs_options(message.size_bytes), "termination message");
  UniqueFd directory(::open(mounted.dir().c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!directory) throw_sys_error("open(" + quote(mounted.dir().string()) + ", O_DIRECTORY|O_NOFOLLOW)");
  auto content = make_file(directory.get(), task_host_uid, task_host_gid, where);
  UniqueFd tree(::open_tree(directory.get(), kFileName, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC));
  if (!tree) throw_sys_error("open_tree(" + quote(mounted.dir().string()) + ", " + quote(kFileName) + ", OPEN_TREE_CLONE)");
  seal(tree.get(), have_mount_setattr);
  trees[index] = std::move(tree);
  logging::step("termination message: {} on a tmpfs of {} bytes (mounted under the state directory while its file "
                "was cloned)", message.target, message.size_bytes);
  return content;
}

void deliver_termination_message(const policy::LaunchPlan& plan, int content) {
  if (!plan.termination_message || content < 0) return;
  const auto& message = *plan.termination_message;
  try {
    const auto copied = copy_termination_message(content, message.engine_fd, message.size_bytes);
    logging::step("termination message: {} bytes copied to {}", copied, message.engine_file);
  } catch (const std::exception& error) {
    logging::error("termination message: not copied to {}: {}", message.engine_file, error.what());
  }
}

std::uint64_t copy_termination_message(int content, int engine_fd, std::uint64_t size_bytes) {
  std::string text(size_bytes, '\0');
  std::size_t have = 0;
  while (have < text.size()) {
    const ssize_t n = ::pread(content, text.data() + have, text.size() - have, static_cast<off_t>(have));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_sys_error("pread(the task's termination message)");
    if (n == 0) break;
    have += static_cast<std::size_t>(n);
  }
  std::size_t written = 0;
  while (written < have) {
    const ssize_t n = ::pwrite(engine_fd, text.data() + written, have - written, static_cast<off_t>(written));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_sys_error("pwrite(the engine's termination-message file, " + std::to_string(have) + " bytes)");
    written += static_cast<std::size_t>(n);
  }
  if (::ftruncate(engine_fd, static_cast<off_t>(have)) != 0)
    throw_sys_error("ftruncate(the engine's termination-message file, " + std::to_string(have) + ")");
  return have;
}

std::vector<std::string> remove_leftover_termination_messages(const std::filesystem::path& state_dir,
                                                              const std::vector<std::string>& live_ids) {
  return remove_leftover_private_tmpfs(state_dir / "termination-messages", live_ids, "termination-message tmpfs");
}

}  // namespace tierbox::stages
