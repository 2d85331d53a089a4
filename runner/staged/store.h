// Where a staged run's layer and its bookkeeping live, and the record that
// says whose it is (docs/staged-writes.md).
//
//   STATE_DIR/staged/            0700 root: sandboxes and other users never see it
//   STATE_DIR/staged/RUN/run.json     the StagedRun below (written before the sandbox exists)
//   STATE_DIR/staged/RUN/layer/       a tmpfs of limits.disk bytes, private mount:
//                                     upper/ (the task's writes; the placeholders of
//                                     protected paths until the run is settled), work/ (overlayfs's),
//                                     lower/ (where the workspace is attached while
//                                     the overlay is made; empty afterwards)
//   GOVERNANCE_DIR/staged/RUN/journal.json  the apply journal (staged/apply.h)
//   GOVERNANCE_DIR/staged/RUN/backup/        what an apply overwrote or deleted, for rollback
//
// The journal and the saved copies are on persistent storage (/var/lib by
// default), unlike the layer (STATE_DIR is /run, a tmpfs, on most hosts):
// after a power loss in the middle of an apply the workspace on disk is
// half-changed, and only a journal that survived can undo it.
//
// The layer is a tmpfs rather than a directory on disk: its size is the
// task's disk limit on any host (ext4 without quota options has no other
// per-task limit), and the host's disk is not written at all.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "common/files.h"

namespace tierbox::staged {

// A placeholder of a missing protected path, made in the layer's upper
// directory before the overlay (stages/staged_overlay.h) and removed from it
// when the ended run is settled (staged/operations.h): the task sees it
// read-only, and it is never one of the task's changes.
struct LayerPlaceholder {
  std::string path;  // relative to the workspace, "a/b"
  bool directory = false;
  std::string content;  // a file's
};

struct StagedRun {
  std::string run_id;
  std::string tier;
  std::string workspace;   // canonical host path of the real workspace
  std::string started_at;  // RFC 3339
  // CLOCK_REALTIME_COARSE at the launch, in ns: a real file whose ctime is
  // not older changed since the run started (a conflict at apply). The
  // coarse clock is the one file timestamps come from, so a change made
  // after this instant never carries an older ctime.
  std::int64_t baseline_ns = 0;
  uid_t requester_uid = 0;
  std::string requester;
  std::optional<uid_t> sudo_uid;
  uid_t workspace_uid = 0;  // what applied files are owned by
  gid_t workspace_gid = 0;
  uid_t layer_uid = 0;      // the task's host uid: the owner of what it wrote
  std::uint64_t size_bytes = 0;  // the layer's tmpfs; 0: the kernel's default (half of RAM)
  std::vector<LayerPlaceholder> placeholders;
  // running (written once, before the layer is mounted; "starting" in
  // records of older versions means the same), staged (the run ended; again
  // after a rollback), applying, applied. The launch never writes "staged":
  // a running run whose runner is gone or no longer lists it has ended, and
  // the first command that opens it (or gc) records that
  // (staged/operations.h settle_ended_run), so the end of a run costs no
  // write here.
  std::string state = "running";
};

nlohmann::json to_json(const StagedRun& run);
StagedRun staged_run_from_json(const nlohmann::json& json, const std::string& file);

struct StagedPaths {
  std::filesystem::path dir;
  std::filesystem::path journal_dir;  // "" : dir
  [[nodiscard]] std::filesystem::path record() const { return dir / "run.json"; }
  [[nodiscard]] std::filesystem::path layer() const { return dir / "layer"; }
  [[nodiscard]] std::filesystem::path upper() const { return dir / "layer" / "upper"; }
  [[nodiscard]] std::filesystem::path work() const { return dir / "layer" / "work"; }
  [[nodiscard]] std::filesystem::path lower() const { return dir / "layer" / "lower"; }
  [[nodiscard]] std::filesystem::path journal() const { return journals() / "journal.json"; }
  [[nodiscard]] std::filesystem::path backup() const { return journals() / "backup"; }
  [[nodiscard]] std::filesystem::path journals() const { return journal_dir.empty() ? dir : journal_dir; }
};

std::filesystem::path staged_root(const std::filesystem::path& state_dir);
// Throws Error when run_id is not a run id (it names a directory).
// governance_dir: where the journal goes ("": beside the layer).
StagedPaths staged_paths(const std::filesystem::path& state_dir, const std::string& run_id,
                         const std::filesystem::path& governance_dir = {});

// Durability::none at launch and when a run is settled (the record
// describes a tmpfs layer that a power loss takes with it); fsync for the
// states of an apply.
void write_staged_run(const StagedPaths& paths, const StagedRun& run, Durability durability = Durability::fsync);
// Throws Error (exit 1 class: a usage error) naming the run when there is none.
StagedRun read_staged_run(const StagedPaths& paths);
// Every staged run's record, oldest first; unreadable ones skipped.
std::vector<StagedRun> list_staged_runs(const std::filesystem::path& state_dir);

// The xattr a placeholder carries (stages/placeholders.h makes the same
// mark in real trees); only root can set a trusted.* xattr.
inline constexpr const char* kPlaceholderMark = "trusted.tierbox.placeholder";

// Removes the placeholders from the run's upper directory, last first, each
// only while it is still the marked, unchanged entry that was made; absent
// ones are skipped. Their parent directories stay: made with the lower
// directories' modes, they are no change (staged/changes.h).
void remove_layer_placeholders(const StagedPaths& paths, const std::vector<LayerPlaceholder>& placeholders);

// Unmounts the layer (if mounted) and removes the run's directory.
void discard_staged_run(const StagedPaths& paths);

}  // namespace tierbox::staged
