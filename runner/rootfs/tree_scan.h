// The syscall side of manifests: scanning an image's tree into a Manifest,
// and sealing a freshly built tree (root-owned, nothing writable, no setuid).
// Only directories, regular files and symlinks may be in an image: a device
// node, fifo or socket is refused (a device node in a root filesystem is a
// way to the host's disks if any mount ever lacks nodev).
#pragma once

#include <filesystem>

#include "rootfs/manifest.h"

namespace tierbox::rootfs {

// Never follows a symlink; throws Error naming the first entry of another type.
Manifest scan_tree(const std::filesystem::path& root);

// The entries directly in root/directory ("" for root itself), by path,
// paths relative to root, files not hashed: what a launch needs to lay out
// an image's root without reading its whole manifest.
std::vector<ManifestEntry> scan_directory(const std::filesystem::path& root, const std::string& directory);

// chown 0:0 every entry (the store is root's), directories 0755, files
// without write bits and without setuid/setgid (the sandbox mounts the image
// nosuid anyway; stripping makes the manifest say so). The root stays 0755.
void seal_tree(const std::filesystem::path& root);

}  // namespace tierbox::rootfs
