// Writing the image store (rootfs/store.h): committing a tree as an image,
// importing a root filesystem tarball or an OCI image archive, removing a
// name. Linked only into tierbox-rootfs (libarchive stays out of the
// statically linked runner).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "rootfs/store.h"

namespace tierbox::rootfs {

// Creates the store's directories (0700, root's) if missing; refuses a
// store another user owns or others may enter.
void ensure_store(const Store& store);

// A directory under the store's tmp/ for an import or a build, removed
// when it goes out of scope (also after a failure).
class StagingDir {
 public:
  explicit StagingDir(const Store& store);
  ~StagingDir();
  StagingDir(const StagingDir&) = delete;
  StagingDir& operator=(const StagingDir&) = delete;
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }
  [[nodiscard]] std::filesystem::path tree() const { return path_ / "tree"; }

 private:
  std::filesystem::path path_;
};

// Seals staging.tree() (tree_scan.h), writes its manifest, moves it to
// images/<digest> (an identical image already there is kept) and points
// `name` at it.
ImageName commit_image(const Store& store, const std::string& name, StagingDir& staging, const std::string& source,
                       std::vector<std::string> stripped);

// A root filesystem tarball, or an OCI image archive (oci-layout and
// index.json at its top: its layers applied in order, with whiteouts).
ImageName import_archive(const Store& store, const std::string& name, const std::filesystem::path& file);

// The layer blobs of an unpacked OCI layout, lowest first: index.json's
// first manifest (through a nested index), each blob checked against its digest.
std::vector<std::filesystem::path> oci_layers(const std::filesystem::path& layout);

// Removes the name; the image itself once no other name refers to it.
void remove_image(const Store& store, const std::string& name);

}  // namespace tierbox::rootfs
