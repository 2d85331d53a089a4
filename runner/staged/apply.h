// Bringing a staged run's changes into the real workspace, and taking them
// back out (docs/staged-writes.md).
//
// Safety, for every entry:
// - the workspace is reached through one directory fd and openat2 with
//   RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS|RESOLVE_NO_MAGICLINKS|RESOLVE_NO_XDEV:
//   no symlink (planted by the task or anyone) is ever followed, and nothing
//   lands outside the workspace's own filesystem;
// - only regular files, directories and symlinks that stay inside the
//   workspace land (changes.h refuses FIFOs, sockets, devices and escaping
//   links); new files carry no xattrs, so no file capabilities, and their
//   mode loses setuid, setgid (and sticky on files); they belong to the
//   workspace's owner;
// - each file lands atomically: written to a temporary name in its own
//   directory, fsynced, renamed over the old one;
// - the real entry must still be what the run started from: one whose ctime
//   is not older than the run's start is a conflict, named, and nothing lands;
// - before anything is overwritten or deleted, it is saved under backup/,
//   and the journal (journal.json, fsynced) lists every entry: `gc` undoes an
//   apply a crash interrupted, `rollback` undoes a finished one.
#pragma once

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "staged/changes.h"
#include "staged/store.h"

namespace tierbox::staged {

// Pure: one line per entry that changed in the real workspace since the run
// started ("src/a.c: changed in the workspace since the run started (ctime
// 2026-...)"); empty when none did.
// verified: entries an earlier apply of this run checked and that were
// restored since (rollback, gc), by path, as they were then; such an entry
// is no conflict while its content is still that (its ctime is newer: the
// restore wrote it).
std::vector<std::string> find_conflicts(const ChangeSet& set, const StagedRun& run,
                                        const std::map<std::string, EntryState>& verified = {});

// The entries a rolled-back or undone apply restored (for find_conflicts);
// empty when the run has no such journal.
std::map<std::string, EntryState> restored_entries(const StagedPaths& paths);

// Pure: the mode an entry lands with (setuid, setgid dropped; sticky kept
// on directories only).
mode_t landed_mode(const EntryState& state);

struct ApplyReport {
  std::vector<std::string> lines;  // what landed, one line each
  nlohmann::json files;            // [{path, kind, before_sha256, after_sha256}] for the audit record
};

// Lands set (already checked: governance, conflicts) and marks the run
// "applied". Throws Error on the first failure, leaving the journal in state
// "applying" for gc, which then undoes it. before_entry (tests): called
// before each entry lands, with its index.
ApplyReport apply_changes(const StagedPaths& paths, StagedRun& run, const ChangeSet& set,
                          const std::function<void(std::size_t)>& before_entry = {});

// Undoes a finished apply; refuses (Error naming every file) when an entry
// changed again since. The layer is staged again (it may be applied anew).
std::vector<std::string> rollback_apply(const StagedPaths& paths, StagedRun& run);

// For gc: an apply left "applying" (a crash) is undone entry by entry (each
// entry that landed is restored, one that did not is left) and marked
// "undone"; returns what it did, "" when there was nothing to recover.
std::string recover_interrupted_apply(const StagedPaths& paths, StagedRun& run);

// The run's real workspace, opened without following a symlink on its path
// and still owned by the owner recorded at launch; throws Refusal otherwise.
// Everything an apply, a rollback or `changes` does to it goes through this.
UniqueFd open_workspace(const StagedRun& run);

}  // namespace tierbox::staged
