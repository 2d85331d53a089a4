// A tmpfs of the runner's own, for a file or a layer only a sandbox sees:
// made detached (never on a mount table) where the kernel lets the caller
// use it that way, else mounted private under the state directory for as
// long as it takes to hand its parts over (stages/root_layer.h,
// stages/termination_message.h).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "common/unique_fd.h"

namespace tierbox::stages {

// fsopen + fsconfig + fsmount: options are tmpfs's, comma-separated
// ("mode=0700,size=4096"); source is its name on mount tables once attached
// (gc and tests look for it); attributes are MOUNT_ATTR_* for fsmount.
UniqueFd detached_tmpfs(const std::string& source, const std::string& options, unsigned attributes);

// The tmpfs mounted at dir (made 0700, its parents made private, 0700, by
// make_private_dirs) with flags (MS_*) and options, private: detached and
// its directory removed on every way out; what was cloned from it keeps
// the filesystem itself.
class MountedTmpfs {
 public:
  MountedTmpfs(std::filesystem::path dir, const std::string& source, unsigned long flags, const std::string& options,
               const std::string& what);
  MountedTmpfs(const MountedTmpfs&) = delete;
  MountedTmpfs& operator=(const MountedTmpfs&) = delete;
  ~MountedTmpfs();
  [[nodiscard]] const std::filesystem::path& dir() const { return dir_; }

 private:
  std::filesystem::path dir_;
};

// tierbox gc: each directory in parent that no live run (live_ids: the
// names of its entries) owns and that is a minute old at least (a runner
// mounts its tmpfs there for milliseconds) is detached and removed; what
// was removed, each line prefixed with what.
std::vector<std::string> remove_leftover_private_tmpfs(const std::filesystem::path& parent,
                                                       const std::vector<std::string>& live_ids, const std::string& what);

}  // namespace tierbox::stages
