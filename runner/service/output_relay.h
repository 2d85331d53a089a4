// limits.output: the task's stdout and stderr go through the runner, which
// passes at most limit bytes of the two together to the caller's fds, then
// writes one line to the caller's stderr and discards the rest (the task
// keeps running: a cut stream is not a failure of the task; the wall time
// still bounds it). Without an output limit none of this exists and the task
// writes to the caller's fds itself (no copy, no thread).
//
// How: before the launch the runner's own fds 1 and 2 are pointed at two
// pipes (the sandbox inherits them at clone, like any stdio), and put back
// once the sandbox exists (restore(), from the launch's before_start hook);
// meanwhile the runner's log goes to a copy of the caller's stderr
// (logging::use_stream), so its own messages never count against the
// task's limit and are never cut. From restore() on a thread copies from the pipes until both reach EOF, which
// is when the last process of the task has exited.
#pragma once

#include <atomic>
#include <cstdio>
#include <cstdint>
#include <string>
#include <thread>

#include "common/unique_fd.h"

namespace tierbox::service {

struct OutputReport {
  std::uint64_t limit = 0;
  std::uint64_t bytes = 0;  // what the task wrote, both streams, cut part included
  bool cut = false;
};

// Pure: how many bytes of a chunk of size n to pass on when passed bytes
// already went out under limit.
std::uint64_t bytes_to_pass(std::uint64_t passed, std::uint64_t n, std::uint64_t limit);
// The line written to the caller's stderr where the stream is cut.
std::string cut_note(std::uint64_t limit);

class OutputRelay {
 public:
  explicit OutputRelay(std::uint64_t limit);
  ~OutputRelay();
  OutputRelay(const OutputRelay&) = delete;
  OutputRelay& operator=(const OutputRelay&) = delete;
  // Puts the caller's fds 1 and 2 back and starts copying (idempotent); the
  // sandbox keeps the pipes.
  void restore();
  // restore(), waits for EOF on both pipes, and reports.
  OutputReport finish();

 private:
  void relay();
  std::uint64_t limit_;
  UniqueFd saved_out_;
  UniqueFd saved_err_;
  std::FILE* log_stream_ = nullptr;  // the caller's stderr, for the runner's log meanwhile
  UniqueFd read_out_;
  UniqueFd read_err_;
  bool restored_ = false;
  std::atomic<std::uint64_t> bytes_{0};
  std::atomic<bool> cut_{false};
  std::thread thread_;
};

}  // namespace tierbox::service
