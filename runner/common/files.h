// Writing root's own state files: private directories made on first use,
// whole writes, and files replaced atomically (the run registry, control
// state, approval requests, trusted keys). `context` goes before the failed
// call in the SysError's message (e.g. "audit log: ").
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <string_view>

#include "common/unique_fd.h"

namespace tierbox {

// "a directory", "a FIFO", "a character device", ... for st_mode.
std::string file_type_name(mode_t mode);

// Opens path for reading and refuses anything but a regular file (exit 125,
// what and the path named): a FIFO would block the open or the read forever,
// /dev/zero never ends, a directory reads as empty. The open is O_NONBLOCK so
// that a FIFO without a writer cannot hold it. Also for the files a user
// names on the command line (profiles, grants, keys, the audit log to verify).
UniqueFd open_regular_file(const std::string& path, std::string_view what);

// open_regular_file, then the file's bytes: all of them, or the first
// limit + 1 or more when it is longer (the caller refuses those).
std::string read_regular_file(const std::string& path, std::string_view what, std::size_t limit);

// mkdir -p with mode 0700 for every component it creates; components that
// exist are kept as they are.
void make_private_dirs(const std::filesystem::path& dir, std::string_view context = {});

// write(2) until all of text is written (EINTR retried); what names the
// file in the error.
void write_all(int fd, std::string_view text, const std::string& what, std::string_view context = {});

enum class Durability { none, fsync };

// Writes FILE.tmp.RANDOM with exactly mode, then renames it over file:
// readers see the old content or the new, never a part, and two writers of
// the same file at once each rename a whole file of their own (the last
// wins; with one shared FILE.tmp, one truncated the other's and its rename
// failed with ENOENT). With Durability::fsync the data is on disk before the
// rename. The temporary file is removed when anything fails.
void write_file_atomically(const std::filesystem::path& file, const std::string& content, unsigned mode,
                           Durability durability);

}  // namespace tierbox
