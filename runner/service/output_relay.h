// limits.output: the task's stdout and stderr go through the runner, which
// passes at most limit bytes of the two together to the caller's fds, then
// writes one line to the caller's stderr and discards the rest (the task
// keeps running: a cut stream is not a failure of the task; the wall time
// still bounds it). Without an output limit none of this exists and the task
// writes to the caller's fds itself (no copy, no thread).
//
// How: the relay makes two pipes whose write ends become the sandbox's fds 1
// and 2 (LaunchHooks::stdio), so neither the runner's own fds nor its log
// are touched (the daemon runs many tasks in one process; the runner's own
// messages never count against the task's limit and are never cut). Once the
// sandbox exists (start(), from the launch's before_start hook) the runner
// closes its copies of the write ends and a thread copies from the pipes to
// the caller's fds until both reach EOF, which is when the last process of
// the task has exited.
#pragma once

#include <atomic>
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
  // out, err: the caller's fds the task's output goes to (borrowed: they
  // outlive the relay).
  OutputRelay(std::uint64_t limit, int out, int err);
  ~OutputRelay();
  OutputRelay(const OutputRelay&) = delete;
  OutputRelay& operator=(const OutputRelay&) = delete;
  // The sandbox's fds 1 and 2 (valid until start()).
  [[nodiscard]] int task_stdout() const { return write_out_.get(); }
  [[nodiscard]] int task_stderr() const { return write_err_.get(); }
  // The sandbox holds the write ends: closes the runner's and starts copying
  // (idempotent).
  void start();
  // start(), waits for EOF on both pipes, and reports.
  OutputReport finish();

 private:
  void relay();
  std::uint64_t limit_;
  int out_;
  int err_;
  UniqueFd read_out_;
  UniqueFd read_err_;
  UniqueFd write_out_;
  UniqueFd write_err_;
  bool started_ = false;
  std::atomic<std::uint64_t> bytes_{0};
  std::atomic<bool> cut_{false};
  std::thread thread_;
};

}  // namespace tierbox::service
