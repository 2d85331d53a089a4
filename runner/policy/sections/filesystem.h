// What the new root holds: `mounts`, `workspace` and `shm_size` (the tmpfs at
// /dev/shm). Checked as a whole once the `extends` chain is applied: no mount
// over what tierbox builds itself, no duplicate target, nothing below a
// symlink, and a workspace that fits among the mounts.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
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
  // Not a profile field (never read from JSON): a caller's --bind through
  // the daemon, the device and inode of the source its client opened; the
  // mount checks them (0: not checked).
  dev_t opened_device = 0;
  ino_t opened_inode = 0;
  // Not a profile field either: a caller's --bind-rw through the daemon is
  // mounted id-mapped, these host ids (the caller's uid, the source's group)
  // becoming the task's, so what the task creates there is the caller's and
  // the caller's files are the task's own (docs/daemon.md).
  std::optional<uid_t> idmap_from_uid;
  std::optional<gid_t> idmap_from_gid;
};

// staged (with writable): the task writes a per-run overlay layer instead of
// the workspace; a person reviews the layer and applies it (docs/staged-writes.md).
struct WorkspaceSpec {
  std::string target = "/workspace";
  bool writable = false;
  bool staged = false;
};

// `container`: what the OCI runtime mode (docs/kubernetes.md) may give a
// container beyond the read-only root every tier gets. writable_root: a
// container whose config.json says `root.readonly: false` gets its root
// writable through a per-container overlay whose layer is a tmpfs of
// limits.disk (required with it): the image's files are never written, and
// the layer is gone with the container. Plain runs never read it.
struct ContainerSpec {
  bool writable_root = false;
};

// `rootfs`: what the new root is built from. "host" (the default): the
// tier's mounts alone, on an empty tmpfs (the shipped tiers bind the host's
// /usr). "image:NAME[@sha256:HEX]": the store's image NAME (rootfs/store.h),
// mounted read-only as the root's content; pinned, the launch is refused
// when the image's digest is another.
struct RootfsSpec {
  std::string image;          // "" for host
  std::string pinned_digest;  // "sha256:<hex>", "" when not pinned
  [[nodiscard]] bool is_image() const { return !image.empty(); }
  [[nodiscard]] std::string text() const {
    return image.empty() ? "host" : "image:" + image + (pinned_digest.empty() ? "" : "@" + pinned_digest);
  }
};

// nullopt when text is not "host" or "image:NAME[@sha256:<64 hex>]".
std::optional<RootfsSpec> parse_rootfs(const std::string& text);

const char* to_string(MountType type);

}  // namespace tierbox::policy
