// The parent's side of the sync channel (sync.h, docs/launch-sequence.md):
// making the channel and init's status pipe, sending each sync point,
// receiving the child's report within the wall-clock limit, and describing
// the child's failure and step timings for the user.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/unique_fd.h"
#include "launch/sync.h"

namespace tierbox::launch {

struct Channel {
  UniqueFd parent_end;
  UniqueFd child_end;
};
Channel make_sync_channel();

struct Pipe {
  UniqueFd read_end;
  UniqueFd write_end;
};
Pipe make_status_pipe();

// False when the child is gone; its failure message is then waiting to be read.
bool send_to_child(int fd, SyncKind kind, const std::vector<int>& fds = {});

// The next message from the child, or nullopt at EOF. Bounded by the
// wall-clock deadline, so a child stuck in setup cannot hang the runner.
std::optional<SyncMessage> receive_from_child(int fd, std::chrono::steady_clock::time_point deadline);

// The one line the user reads about a child that failed.
std::string describe_child_failure(const SyncMessage& message);

// `run -v`: the child's step timings, carried by #3.
void log_child_timings(const SyncMessage& ready);

// Sync #1b: the task's fds 0-2, then the run's own trees in the order of
// their mount ops (policy::run_trees), at most kMaxSyncFds per message; each
// message says how many fds come in all and which trees are missing
// (optional and absent). False when the child is gone.
bool send_run_inputs(int fd, const std::array<int, 3>& stdio, const std::vector<int>& trees, std::uint64_t missing);

}  // namespace tierbox::launch
