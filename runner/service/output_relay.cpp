#include "service/output_relay.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include "common/errors.h"
#include "common/logging.h"
#include "common/units.h"

namespace tierbox::service {
namespace {

UniqueFd dup_or_throw(int fd) {
  UniqueFd copy(::fcntl(fd, F_DUPFD_CLOEXEC, 3));
  if (!copy) throw_sys_error("fcntl(" + std::to_string(fd) + ", F_DUPFD_CLOEXEC)");
  return copy;
}

void write_fully(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // the caller's end is gone: nothing to pass it to
    data += n;
    size -= static_cast<std::size_t>(n);
  }
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

OutputRelay::OutputRelay(std::uint64_t limit) : limit_(limit) {
  saved_out_ = dup_or_throw(1);
  saved_err_ = dup_or_throw(2);
  int out[2];
  int err[2];
  if (::pipe2(out, O_CLOEXEC) != 0) throw_sys_error("pipe2(O_CLOEXEC) (stdout relay)");
  read_out_ = UniqueFd(out[0]);
  UniqueFd write_out(out[1]);
  if (::pipe2(err, O_CLOEXEC) != 0) throw_sys_error("pipe2(O_CLOEXEC) (stderr relay)");
  read_err_ = UniqueFd(err[0]);
  UniqueFd write_err(err[1]);
  // dup2 clears O_CLOEXEC on 1 and 2: the sandbox inherits them as stdio.
  if (::dup2(write_out.get(), 1) < 0 || ::dup2(write_err.get(), 2) < 0) {
    const int error = errno;
    ::dup2(saved_out_.get(), 1);
    ::dup2(saved_err_.get(), 2);
    throw SysError(error, "dup2(relay pipe, 1/2)");
  }
  if (const int copy = ::fcntl(saved_err_.get(), F_DUPFD_CLOEXEC, 3); copy >= 0) {
    log_stream_ = ::fdopen(copy, "w");
    if (log_stream_) logging::use_stream(log_stream_);
    else ::close(copy);
  }
  // The copying thread starts in restore(), once the sandbox exists: no
  // thread of the runner exists at clone (the child carries out glibc's
  // set*id and friends as a copy of a single-threaded process), and it
  // inherits the launcher's blocked signals (its signalfd stays the only
  // place they go). Until then nothing of the task has run: the pipes are
  // empty.
}

OutputRelay::~OutputRelay() {
  restore();
  if (thread_.joinable()) thread_.join();
  if (log_stream_) std::fclose(log_stream_);
}

void OutputRelay::restore() {
  if (restored_) return;
  restored_ = true;
  ::dup2(saved_out_.get(), 1);
  ::dup2(saved_err_.get(), 2);
  if (log_stream_) {
    std::fflush(log_stream_);
    logging::use_stream(stderr);
  }
  thread_ = std::thread([this] { relay(); });
}

OutputReport OutputRelay::finish() {
  restore();
  if (thread_.joinable()) thread_.join();
  return {limit_, bytes_.load(), cut_.load()};
}

void OutputRelay::relay() {
  struct pollfd fds[2] = {{read_out_.get(), POLLIN, 0}, {read_err_.get(), POLLIN, 0}};
  const int targets[2] = {saved_out_.get(), saved_err_.get()};
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
      write_fully(targets[i], buffer, pass);
      passed += pass;
      if (pass < static_cast<std::uint64_t>(n) && !cut_.exchange(true)) {
        const auto note = cut_note(limit_);
        write_fully(saved_err_.get(), note.data(), note.size());
      }
    }
  }
}

}  // namespace tierbox::service
