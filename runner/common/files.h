// Writing root's own state files: private directories made on first use,
// whole writes, and files replaced atomically (the run registry, control
// state, approval requests, trusted keys). `context` goes before the failed
// call in the SysError's message (e.g. "audit log: ").
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace tierbox {

// mkdir -p with mode 0700 for every component it creates; components that
// exist are kept as they are.
void make_private_dirs(const std::filesystem::path& dir, std::string_view context = {});

// write(2) until all of text is written (EINTR retried); what names the
// file in the error.
void write_all(int fd, std::string_view text, const std::string& what, std::string_view context = {});

enum class Durability { none, fsync };

// Writes FILE.tmp with exactly mode, then renames it over file: readers see
// the old content or the new, never a part. With Durability::fsync the data
// is on disk before the rename.
void write_file_atomically(const std::filesystem::path& file, const std::string& content, unsigned mode,
                           Durability durability);

}  // namespace tierbox
