// Parent side of protected paths that do not exist at launch: an empty file or
// directory is created at the path in the host tree (the sandbox then mounts
// a read-only copy over it, so the task can neither write it nor create
// anything there), and removed after the run.
//
// The tree belongs to someone else (the workspace's owner, earlier tasks), so
// every lookup is beneath the tree's root without following symlinks, the
// placeholder is created with O_EXCL, owned like its parent directory, and
// marked with the xattr trusted.tierbox.placeholder (only root can set it).
//
// Several runs may share one workspace: each holds a shared flock on every
// placeholder it uses (made or found, by the mark), and a placeholder is
// removed only by the run that can take the exclusive lock, i.e. the last.
#pragma once

#include <sys/types.h>

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "common/unique_fd.h"
#include "policy/launch_plan.h"

namespace tierbox::stages {

struct HeldPlaceholder {
  std::string path;     // full host path, for messages and the run record
  UniqueFd parent;      // O_PATH of its directory
  std::string name;
  UniqueFd fd;          // the placeholder itself, flock(LOCK_SH) held
  bool directory = false;
  std::string content;  // a file placeholder's (removed only while it still holds exactly this)
  dev_t device = 0;
  ino_t inode = 0;
};

class Placeholders {
 public:
  Placeholders() = default;
  Placeholders(Placeholders&&) = default;
  Placeholders& operator=(Placeholders&&) = delete;
  Placeholders(const Placeholders&) = delete;
  Placeholders& operator=(const Placeholders&) = delete;
  // Removes what no other run still uses.
  ~Placeholders();

  std::vector<HeldPlaceholder> held;
  // {"path", "device", "inode", "directory", "content"} per placeholder, for gc.
  [[nodiscard]] nlohmann::json to_record() const;
};

// Creates (or adopts) every placeholder of the plan. Throws SysError naming
// the path when one cannot be made: the launch then fails closed.
Placeholders create_placeholders(const std::vector<policy::Placeholder>& planned);

// gc: removes the recorded placeholders of a dead run that no live run uses;
// one line per removal.
std::vector<std::string> remove_recorded_placeholders(const nlohmann::json& record);

}  // namespace tierbox::stages
