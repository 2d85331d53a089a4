// The image store: content-addressed images under the runner's rootfs
// directory (tierbox.json "rootfs_dir", default /var/lib/tierbox/rootfs),
// root's alone (0700), each image immutable once committed:
//
//   images/<hex>/tree/           the root filesystem (root-owned, nothing writable)
//   images/<hex>/manifest.json   every entry (rootfs/manifest.h); <hex> is its digest
//   names/<NAME>.json            {"name", "digest", "source", "stripped": [...]}
//   tmp/                         imports and builds in progress
//
// Reading (what a launch and `profile check` need) is here; writing
// (import, build, remove) is in image_import.h, linked only into the
// tierbox-rootfs tool, which carries libarchive.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "rootfs/manifest.h"

namespace tierbox::rootfs {

struct ImageName {
  std::string name;
  std::string digest;  // "sha256:<hex>"
  std::string source;  // what it was imported or built from
  std::vector<std::string> stripped;  // setuid/setgid bits removed at import
  std::string created;  // when the name was pointed at this digest (RFC 3339 UTC); "" in older stores
};

class Store {
 public:
  explicit Store(std::filesystem::path root) : root_(std::move(root)) {}
  [[nodiscard]] const std::filesystem::path& root() const { return root_; }
  [[nodiscard]] std::filesystem::path image_dir(const std::string& digest) const;
  [[nodiscard]] std::filesystem::path tree(const std::string& digest) const { return image_dir(digest) / "tree"; }
  [[nodiscard]] std::filesystem::path name_file(const std::string& name) const;

  // nullopt when no image has that name.
  [[nodiscard]] std::optional<ImageName> find(const std::string& name) const;
  [[nodiscard]] std::vector<ImageName> list() const;
  // The image's manifest; throws Error when it is missing or its digest is
  // not the one the image is stored under (the manifest was changed).
  [[nodiscard]] Manifest manifest(const std::string& digest) const;
  // The same check without parsing: the manifest file holds exactly the
  // canonical JSON its digest is taken over (commit_image writes it so, no
  // final newline), so hashing the file is enough (6 ms for debian's 2.5 MB against 60 ms or more for the
  // parse). A manifest of another form (an older store's, indented) is
  // parsed and checked as manifest() does. Throws the same Error.
  void check_manifest(const std::string& digest) const;

 private:
  std::filesystem::path root_;
};

// 1-64 of [A-Za-z0-9._-], not starting with '.' or '-'.
bool is_valid_image_name(const std::string& name);
// "sha256:<64 hex>" -> "<64 hex>"; nullopt when not of that form.
std::optional<std::string> digest_hex(const std::string& digest);

// Every way the image's tree (and its manifest) differs from what was
// committed: the manifest's own digest first, then each entry.
struct Verification {
  std::string digest;                // the name's digest
  std::string manifest_digest;       // of the manifest file as it is now
  std::vector<Difference> differences;
  [[nodiscard]] bool intact() const { return digest == manifest_digest && differences.empty(); }
};
Verification verify_image(const Store& store, const ImageName& image);

}  // namespace tierbox::rootfs
