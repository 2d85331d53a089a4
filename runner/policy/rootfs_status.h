// What `profile check` and `profile list` say about a tier's `rootfs`: the
// store must hold the image, and a pinned digest must still be the image's,
// so a changed image is re-certified like a changed profile. Pure.
#pragma once

#include <optional>
#include <string>

#include "policy/sections/filesystem.h"
#include "policy/sections/metadata.h"

namespace tierbox::policy {

struct RootfsStatus {
  bool error = false;   // the launch would be refused: the pin no longer matches
  std::string message;  // one line, with the fix
};

// store_digest: the digest the store holds under the tier's image name,
// nullopt when it holds none. nullopt for a host tier, or a pinned image that
// matches. An unpinned tier is flagged as changed when the store's image was
// made (store_created, RFC 3339; "" when unknown) after the tier's
// reviewed_on: nobody has reviewed the tier with this image.
std::optional<RootfsStatus> rootfs_status(const RootfsSpec& spec, const std::optional<std::string>& store_digest,
                                          const std::string& store_root, const std::string& store_created = "",
                                          const std::optional<Date>& reviewed_on = std::nullopt);

}  // namespace tierbox::policy
