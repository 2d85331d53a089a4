// Group commit for the audit log: the fsync that makes appended records
// durable runs outside the log's flock, on one syncer thread per process,
// and each fsync covers every write made before it began. Concurrent runs in
// the daemon thus share one fsync instead of queueing theirs behind the
// lock, and a launch can go on with its remaining setup while its start
// record goes to disk; only the task's execve waits for it (docs/audit.md,
// "When a record is durable").
//
// A write is in the file (the page cache) when append returns: every later
// appender reads the chain's tail from there, and a crash of the process
// loses nothing. What the fsync adds is survival of a crash of the machine;
// a caller that must not go on before that waits for its PendingSync.
#pragma once

#include <memory>
#include <string>

#include "common/unique_fd.h"

namespace tierbox::audit {

class PendingSync {
 public:
  PendingSync() = default;  // nothing to wait for
  // Blocks until the fsync that covers the write has returned; throws
  // SysError naming fsync and the file when it failed (the records are in
  // the file, but may not survive a crash of the machine: the caller must
  // not act as if they were durable).
  void wait();

  struct State;
  explicit PendingSync(std::shared_ptr<State> state) : state_(std::move(state)) {}

 private:
  std::shared_ptr<State> state_;
};

// Queues an fsync of fd for the syncer thread (started on first use) and
// returns at once. fd: the descriptor the write went through, opened before
// it, so a writeback error of that write is reported to this fsync (errseq).
PendingSync request_sync(UniqueFd fd, std::string file);

}  // namespace tierbox::audit
