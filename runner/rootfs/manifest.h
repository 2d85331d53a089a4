// The manifest of a root filesystem image: every entry's path, type, mode,
// owner, size and content digest (symlinks: their target), and one digest
// over all of it, which names the image in the store and pins it in a tier.
// Pure: scanning a tree into a manifest is tree_scan.h.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace tierbox::rootfs {

enum class EntryKind { directory, file, symlink };

struct ManifestEntry {
  std::string path;  // relative to the image's root, "usr/bin/sh"; never empty, no "." or ".."
  EntryKind kind = EntryKind::file;
  std::uint32_t mode = 0;  // permission bits only (07777)
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  std::uint64_t size = 0;  // files
  std::string sha256;      // files: of the content
  std::string link;        // symlinks: the target, as stored
};

struct Manifest {
  std::vector<ManifestEntry> entries;  // sorted by path
};

const char* to_string(EntryKind kind);

nlohmann::json to_json(const Manifest& manifest);
// Throws Error naming `origin` and the entry when the document is not a manifest.
Manifest manifest_from_json(const nlohmann::json& document, const std::string& origin);
// "sha256:<hex>" of the canonical JSON of the entries: equal trees, equal digests.
std::string manifest_digest(const Manifest& manifest);

// One way a tree differs from its manifest.
struct Difference {
  enum class Kind { modified, added, removed };
  Kind kind = Kind::modified;
  std::string path;
  std::string detail;  // modified: which attributes ("sha256, size")
};

const char* to_string(Difference::Kind kind);
std::vector<Difference> compare(const Manifest& expected, const Manifest& actual);

// A relative path inside an image, as an archive names it, made canonical:
// "./usr//bin/" -> "usr/bin". nullopt for an absolute name, one with "..",
// or an empty one: such a name would land outside the image.
std::optional<std::string> normalize_image_path(const std::string& name);

// The entries directly below `directory` ("" for the image's root).
std::vector<const ManifestEntry*> children_of(const Manifest& manifest, const std::string& directory);

}  // namespace tierbox::rootfs
