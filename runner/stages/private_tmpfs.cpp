#include "stages/private_tmpfs.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

#include "common/errors.h"
#include "common/files.h"

namespace tierbox::stages {
namespace {

std::string mount_flag_names(unsigned long flags) {
  std::string names;
  for (const auto& [flag, name] : {std::pair{MS_NOSUID, "MS_NOSUID"}, {MS_NODEV, "MS_NODEV"}, {MS_NOEXEC, "MS_NOEXEC"}})
    if (flags & flag) names += (names.empty() ? "" : "|") + std::string(name);
  return names.empty() ? "0" : names;
}

std::string attribute_names(unsigned attributes) {
  std::string names;
  for (const auto& [attribute, name] : {std::pair{MOUNT_ATTR_NOSUID, "MOUNT_ATTR_NOSUID"},
                                        {MOUNT_ATTR_NODEV, "MOUNT_ATTR_NODEV"}, {MOUNT_ATTR_NOEXEC, "MOUNT_ATTR_NOEXEC"}})
    if (attributes & attribute) names += (names.empty() ? "" : "|") + std::string(name);
  return names.empty() ? "0" : names;
}

}  // namespace

UniqueFd detached_tmpfs(const std::string& source, const std::string& options, unsigned attributes) {
  UniqueFd context(::fsopen("tmpfs", FSOPEN_CLOEXEC));
  if (!context) throw_sys_error("fsopen(\"tmpfs\", FSOPEN_CLOEXEC)");
  if (::fsconfig(context.get(), FSCONFIG_SET_STRING, "source", source.c_str(), 0) != 0)
    throw_sys_error("fsconfig(tmpfs, FSCONFIG_SET_STRING, \"source\", " + quote(source) + ")");
  std::size_t start = 0;
  while (start < options.size()) {
    const auto comma = std::min(options.find(',', start), options.size());
    const auto option = options.substr(start, comma - start);
    const auto equals = option.find('=');
    const auto key = option.substr(0, equals);
    const auto value = option.substr(equals + 1);
    if (::fsconfig(context.get(), FSCONFIG_SET_STRING, key.c_str(), value.c_str(), 0) != 0)
      throw_sys_error("fsconfig(tmpfs, FSCONFIG_SET_STRING, " + quote(key) + ", " + quote(value) + ")");
    start = comma + 1;
  }
  if (::fsconfig(context.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0)
    throw_sys_error("fsconfig(tmpfs " + quote(options) + ", FSCONFIG_CMD_CREATE)");
  UniqueFd mount(::fsmount(context.get(), FSMOUNT_CLOEXEC, attributes));
  if (!mount) throw_sys_error("fsmount(tmpfs, FSMOUNT_CLOEXEC, " + attribute_names(attributes) + ")");
  return mount;
}

MountedTmpfs::MountedTmpfs(std::filesystem::path dir, const std::string& source, unsigned long flags,
                           const std::string& options, const std::string& what)
    : dir_(std::move(dir)) {
  make_private_dirs(dir_.parent_path(), what + ": ");
  if (::mkdir(dir_.c_str(), 0700) != 0 && errno != EEXIST) throw_sys_error("mkdir(" + quote(dir_.string()) + ", 0700)");
  if (::mount(source.c_str(), dir_.c_str(), "tmpfs", flags, options.c_str()) != 0) {
    const int error = errno;
    ::rmdir(dir_.c_str());
    throw SysError(error, "mount(tmpfs -> " + quote(dir_.string()) + ", " + mount_flag_names(flags) + ", " +
                              quote(options) + ")");
  }
  // Private: a tree attached below it for a moment must not propagate into
  // other mount namespaces. (A throwing constructor runs no destructor:
  // undone here.)
  if (::mount(nullptr, dir_.c_str(), nullptr, MS_PRIVATE, nullptr) != 0) {
    const int error = errno;
    ::umount2(dir_.c_str(), MNT_DETACH);
    ::rmdir(dir_.c_str());
    throw SysError(error, "mount(" + quote(dir_.string()) + ", MS_PRIVATE)");
  }
}

MountedTmpfs::~MountedTmpfs() {
  ::umount2(dir_.c_str(), MNT_DETACH);
  ::rmdir(dir_.c_str());
}

std::vector<std::string> remove_leftover_private_tmpfs(const std::filesystem::path& parent,
                                                       const std::vector<std::string>& live_ids, const std::string& what) {
  std::vector<std::string> removed;
  std::error_code ec;
  const auto now = std::filesystem::file_time_type::clock::now();
  for (const auto& entry : std::filesystem::directory_iterator(parent, ec)) {
    const auto id = entry.path().filename().string();
    if (std::find(live_ids.begin(), live_ids.end(), id) != live_ids.end()) continue;
    std::error_code time_ec;
    const auto changed = std::filesystem::last_write_time(entry.path(), time_ec);
    if (time_ec || now - changed < std::chrono::minutes(1)) continue;
    // EINVAL: not mounted (its directory only). UMOUNT_NOFOLLOW: an entry
    // that is a link is never followed (the directory is root's alone).
    ::umount2(entry.path().c_str(), MNT_DETACH | UMOUNT_NOFOLLOW);
    if (::rmdir(entry.path().c_str()) == 0) removed.push_back(what + " " + entry.path().string());
  }
  return removed;
}

}  // namespace tierbox::stages
