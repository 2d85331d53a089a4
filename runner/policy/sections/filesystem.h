// What the new root holds: `mounts`, `workspace` and `shm_size` (the tmpfs at
// /dev/shm). Checked as a whole once the `extends` chain is applied: no mount
// over what tierbox builds itself, no duplicate target, nothing below a
// symlink, and a workspace that fits among the mounts.
#pragma once

#include <cstdint>
#include <string>

namespace tierbox::policy {

enum class MountType { bind, tmpfs, symlink };

// One entry of `mounts`.
struct MountSpec {
  MountType type = MountType::bind;
  std::string source;          // bind: absolute host path
  std::string target;          // absolute path inside the sandbox
  bool writable = false;       // bind, tmpfs
  bool optional = false;       // bind: skipped when the source does not exist
  std::uint64_t size_bytes = 0;  // tmpfs
  std::uint32_t mode = 0755;     // tmpfs
  std::string link;            // symlink: what the link points to
  std::string origin;          // "file.json:/mounts/3", for messages
};

struct WorkspaceSpec {
  std::string target = "/workspace";
  bool writable = false;
};

const char* to_string(MountType type);

}  // namespace tierbox::policy
