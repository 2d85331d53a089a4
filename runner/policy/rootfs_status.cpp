#include "policy/rootfs_status.h"

namespace tierbox::policy {

std::optional<RootfsStatus> rootfs_status(const RootfsSpec& spec, const std::optional<std::string>& store_digest,
                                          const std::string& store_root, const std::string& store_created,
                                          const std::optional<Date>& reviewed_on) {
  if (!spec.is_image()) return std::nullopt;
  const std::string field = "rootfs \"" + spec.text() + "\": ";
  if (!store_digest)
    return RootfsStatus{false, field + "the image store " + store_root + " has no image " + spec.image +
                                   "; every launch fails until it is built (fix: tierbox rootfs build " + spec.image +
                                   ", or tierbox rootfs import " + spec.image + " FILE)"};
  if (spec.pinned_digest.empty()) {
    const auto made = parse_date(store_created.substr(0, 10));
    const std::string changed = made && reviewed_on && *made > *reviewed_on
                                    ? "; the image changed since the tier was last reviewed: made " + made->str() +
                                          ", reviewed_on " + reviewed_on->str() + " (re-certify it, docs/rootfs.md)"
                                    : "";
    return RootfsStatus{false, field + "not pinned: runs whatever the store holds as " + spec.image + " (now " +
                                   *store_digest + changed + "; fix: pin it, \"image:" + spec.image + "@" +
                                   *store_digest + "\")"};
  }
  if (spec.pinned_digest != *store_digest)
    return RootfsStatus{true, field + "the image changed since it was pinned: the store's " + spec.image + " is " +
                                  *store_digest + " (fix: tierbox rootfs verify " + spec.image +
                                  ", review the change, re-pin the tier; docs/rootfs.md)"};
  return std::nullopt;
}

}  // namespace tierbox::policy
