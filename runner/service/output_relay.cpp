#include "service/output_relay.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include "common/errors.h"
#include "common/thread_signals.h"
#include "common/units.h"

namespace tierbox::service {
namespace {

// False when the caller's end is gone (EPIPE: no one reads it any more);
// another error drops the chunk, as nothing can be passed on.
bool write_fully(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return !(n < 0 && errno == EPIPE);
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace

std::uint64_t bytes_to_pass(std::uint64_t passed, std::uint64_t n, std::uint64_t limit) {
  if (passed >= limit) return 0;
  return std::min(n, limit - passed);
}

std::string cut_note(std::uint64_t limit) {
  return "\ntierbox: output cut: the task wrote more than limits.output (" + format_size(limit) +
         ") to stdout and stderr; the rest is discarded\n";
}

OutputRelay::OutputRelay(std::uint64_t limit, int out, int err) : limit_(limit), out_(out), err_(err) {
  // O_CLOEXEC: the sandbox's child installs the write ends as its 1 and 2
  // (dup2 clears the flag there); nothing else the runner starts (the
  // network helper) inherits them, or EOF would wait for it.
  int out_pipe[2];
  int err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) throw_sys_error("pipe2(O_CLOEXEC) (stdout relay)");
  read_out_ = UniqueFd(out_pipe[0]);
  write_out_ = UniqueFd(out_pipe[1]);
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) throw_sys_error("pipe2(O_CLOEXEC) (stderr relay)");
  read_err_ = UniqueFd(err_pipe[0]);
  write_err_ = UniqueFd(err_pipe[1]);
  // The copying thread starts in start(), once the sandbox exists, so it
  // inherits the launcher's blocked signals (its signalfd stays the only
  // place they go). Until then nothing of the task has run: the pipes are
  // empty.
}

OutputRelay::~OutputRelay() {
  start();
  if (thread_.joinable()) thread_.join();
}

void OutputRelay::start() {
  if (started_) return;
  started_ = true;
  write_out_.reset();
  write_err_.reset();
  thread_ = std::thread([this] { relay(); });
}

OutputReport OutputRelay::finish() {
  start();
  if (thread_.joinable()) thread_.join();
  return {limit_, bytes_.load(), cut_.load()};
}

void OutputRelay::relay() {
  // The caller's end may be a pipe whose reader has gone (`tierbox run ...
  // | head -1`): the write must cost an EPIPE, not SIGPIPE, whose default
  // kills the whole process: the runner before it records the end, and in
  // the daemon every user's runs with it. Blocked on this thread only (a
  // write's SIGPIPE is directed at the writing thread and, blocked, stays
  // pending until the thread ends); tasks, started from other threads, keep
  // their default. Should blocking fail, nothing is passed on (fd -1).
  const bool may_write = block_sigpipe_on_this_thread() == 0;
  struct pollfd fds[2] = {{read_out_.get(), POLLIN, 0}, {read_err_.get(), POLLIN, 0}};
  const int targets[2] = {may_write ? out_ : -1, may_write ? err_ : -1};
  int open_streams = 2;
  std::uint64_t passed = 0;
  char buffer[1 << 16];
  while (open_streams > 0) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      const ssize_t n = ::read(fds[i].fd, buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        fds[i].fd = -1;
        --open_streams;
        continue;
      }
      bytes_ += static_cast<std::uint64_t>(n);
      const auto pass = bytes_to_pass(passed, static_cast<std::uint64_t>(n), limit_);
      if (!write_fully(targets[i], buffer, pass)) {
        // As without the relay: the task's next write to that stream gets
        // EPIPE (or SIGPIPE), rather than running on, its output unread
        // (`tierbox run -- yes | head -1` ends).
        (i == 0 ? read_out_ : read_err_).reset();
        fds[i].fd = -1;
        --open_streams;
        continue;
      }
      passed += pass;
      if (pass < static_cast<std::uint64_t>(n) && !cut_.exchange(true)) {
        const auto note = cut_note(limit_);
        (void)write_fully(targets[1], note.data(), note.size());
      }
    }
  }
}

}  // namespace tierbox::service
