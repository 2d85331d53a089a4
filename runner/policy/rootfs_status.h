// What `profile check` and `profile list` say about a tier's `rootfs`: the
// store must hold the image, and a pinned digest must still be the image's,
// so a changed image is re-certified like a changed profile. Pure.
#pragma once

#include <optional>
#include <string>

#include "policy/sections/filesystem.h"

namespace tierbox::policy {

struct RootfsStatus {
  bool error = false;   // the launch would be refused: the pin no longer matches
  std::string message;  // one line, with the fix
};

// store_digest: the digest the store holds under the tier's image name,
// nullopt when it holds none. nullopt for a host tier, or a pinned image that
// matches.
std::optional<RootfsStatus> rootfs_status(const RootfsSpec& spec, const std::optional<std::string>& store_digest,
                                          const std::string& store_root);

}  // namespace tierbox::policy
