// What a staged run changed: its upper layer read against the real
// workspace (docs/staged-writes.md). The overlay was made without redirects,
// metacopy or an index (stages/staged_overlay.h), so the upper layer holds
// only:
//   - whole files and symlinks (new, or copied up and perhaps changed),
//   - directories (new; copied up as the parents of a change; or opaque:
//     trusted.overlay.opaque "y", a directory removed and made again),
//   - whiteouts: character devices 0/0, a removed lower entry.
// A file copied up but left as it was (opened for writing, nothing written)
// is not a change: contents and mode are compared.
//
// Both trees are read through fds, never by path: openat with O_NOFOLLOW,
// so a symlink in either tree is read as a symlink and never followed.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "common/unique_fd.h"

namespace tierbox::staged {

enum class EntryType { none, file, directory, symlink, other };

struct EntryState {
  EntryType type = EntryType::none;
  mode_t mode = 0;            // permission bits (07777)
  std::uint64_t size = 0;
  std::string sha256;         // file: of the content
  std::string link;           // symlink: its target
  std::int64_t ctime_ns = 0;  // real workspace only: for conflicts
  std::string other;          // other: "FIFO", "socket", "character device", ...
};

enum class ChangeKind { added, modified, deleted, mode_changed, refused };

struct Change {
  std::string path;    // relative to the workspace, "a/b"
  ChangeKind kind = ChangeKind::added;
  EntryState before;   // the real workspace now (none for added)
  EntryState after;    // what the task left (none for deleted)
  std::string reason;  // refused: why it never lands (a FIFO, a device, ...)
  bool text = false;   // both sides (or the one there is) look like text: a diff can be shown
};

struct ChangeSet {
  std::vector<Change> changes;  // sorted by path
  // sha256 of the canonical JSON of every change's path, kind, before and
  // after (types, modes, hashes, link targets): a grant or approval binds to
  // this, so what lands is exactly what was approved.
  std::string digest;
  [[nodiscard]] std::size_t count(ChangeKind kind) const;
  [[nodiscard]] std::uint64_t bytes_written() const;  // sizes of added and modified files
};

const char* to_string(ChangeKind kind);
const char* to_string(EntryType type);  // "none", "file", "directory", "symlink", "other"
EntryType parse_entry_type(const std::string& text);  // none for an unknown name

// The state of dir/name, never following a symlink (type, mode, size, ctime;
// a file's sha256, a link's target); none when absent. where names it in
// errors; text, when given, is set to whether a file looks like text.
EntryState read_entry(int dir, const std::string& name, const std::string& where, bool* text = nullptr);

// Reads upper against workspace (both directories on this host). paths:
// when not empty, only changes at or below these (relative) paths.
ChangeSet collect_changes(const std::string& upper, const std::string& workspace,
                          const std::vector<std::string>& paths = {});

// Pure: the digest of a list of changes (ChangeSet::digest).
std::string change_set_digest(const std::vector<Change>& changes);
// Pure: whether a symlink at path (relative to the workspace) pointing to
// target stays inside the workspace, read lexically: absolute targets and
// ones that climb above the root do not.
bool link_stays_inside(const std::string& path, const std::string& target);
// Pure: whether path (relative) is at or below one of the filters.
bool path_selected(const std::string& path, const std::vector<std::string>& filters);

nlohmann::json to_json(const ChangeSet& set);
// "A  src/new.c", "M  README", "D  old.txt", "m  run.sh (0644 -> 0755)", "!  fifo (a FIFO never lands)".
std::string change_line(const Change& change);

// A unified diff of a text change (reads both files again); "" for others.
std::string unified_diff(const Change& change, const std::string& upper, const std::string& workspace);

// The real workspace's directory, opened by the path the run recorded
// (canonical: no symlink in it) without following any symlink on the way
// (openat2 RESOLVE_NO_SYMLINKS). Whoever controls a directory on that path
// (the requester, through the daemon) could otherwise swap in a symlink
// after the run and have root read or write where it points.
UniqueFd open_workspace_root(const std::string& workspace);

}  // namespace tierbox::staged
