// Unpacking archives into an image's tree, with libarchive (Debian's
// libarchive: tar in every flavour and compression, hard links, pax headers;
// far more than we would want to write and get right by hand). Every entry is
// checked before it is written: its name must stay inside the tree (no
// absolute name, no ".."), nothing is written through a symlink (libarchive's
// ARCHIVE_EXTRACT_SECURE_* checks), device nodes, fifos and sockets are
// refused, and setuid/setgid bits are stripped and recorded.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace tierbox::rootfs {

struct ExtractReport {
  std::vector<std::string> stripped;  // "usr/bin/passwd: setuid removed"
};

// The names in an archive, as written there (for telling an OCI layout from
// a root filesystem tarball, and for the whiteout pass).
std::vector<std::string> archive_names(const std::filesystem::path& archive);

// Extracts archive into tree (an existing directory). With apply_whiteouts
// (an OCI layer), ".wh.NAME" first removes NAME and ".wh..wh..opq" empties
// its directory, of what lower layers left there; neither is written.
void extract_archive(const std::filesystem::path& archive, const std::filesystem::path& tree, bool apply_whiteouts,
                     ExtractReport& report);

}  // namespace tierbox::rootfs
