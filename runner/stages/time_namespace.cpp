#include "stages/time_namespace.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "common/fixed_text.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

namespace tierbox::stages {

namespace {

constexpr std::int64_t kNanosecondsPerSecond = 1'000'000'000;

std::int64_t nanoseconds(const struct timespec& time) {
  return static_cast<std::int64_t>(time.tv_sec) * kNanosecondsPerSecond + time.tv_nsec;
}

// The offset, in whole seconds, that makes a clock reading host_ns now read
// kSandboxClockStartSeconds (plus its fraction).
std::int64_t offset_seconds(std::int64_t host_ns) {
  std::int64_t seconds = host_ns / kNanosecondsPerSecond;
  if (host_ns < 0 && host_ns % kNanosecondsPerSecond != 0) --seconds;  // floor
  return -(seconds - kSandboxClockStartSeconds);
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n'; }

// The next token of text[at, length): its start and length; false at the end.
bool next_token(const char* text, std::size_t length, std::size_t& at, const char*& token, std::size_t& size) {
  while (at < length && is_space(text[at])) ++at;
  if (at >= length) return false;
  token = text + at;
  while (at < length && !is_space(text[at])) ++at;
  size = static_cast<std::size_t>(text + at - token);
  return true;
}

bool to_integer(const char* token, std::size_t size, std::int64_t& value) {
  std::size_t i = 0;
  const bool negative = size > 0 && token[0] == '-';
  if (negative) ++i;
  if (i >= size || size - i > 18) return false;
  value = 0;
  for (; i < size; ++i) {
    if (token[i] < '0' || token[i] > '9') return false;
    value = value * 10 + (token[i] - '0');
  }
  if (negative) value = -value;
  return true;
}

bool same(const char* token, std::size_t size, const char* word) {
  std::size_t i = 0;
  for (; i < size && word[i] != '\0'; ++i)
    if (token[i] != word[i]) return false;
  return i == size && word[i] == '\0';
}

}  // namespace

bool parse_time_offsets(const char* text, std::size_t length, ClockOffsets& out) noexcept {
  ClockOffsets parsed;
  bool monotonic = false, boottime = false;
  std::size_t at = 0;
  const char* token = nullptr;
  std::size_t size = 0;
  while (next_token(text, length, at, token, size)) {
    const char* name = token;
    const std::size_t name_size = size;
    std::int64_t seconds = 0, fraction = 0;
    if (!next_token(text, length, at, token, size) || !to_integer(token, size, seconds)) return false;
    if (!next_token(text, length, at, token, size) || !to_integer(token, size, fraction)) return false;
    if (fraction < 0 || fraction >= kNanosecondsPerSecond) return false;
    const std::int64_t value = seconds * kNanosecondsPerSecond + fraction;
    if (same(name, name_size, "monotonic")) {
      parsed.monotonic_ns = value;
      monotonic = true;
    } else if (same(name, name_size, "boottime")) {
      parsed.boottime_ns = value;
      boottime = true;
    } else {
      return false;
    }
  }
  if (!monotonic || !boottime) return false;
  out = parsed;
  return true;
}

std::size_t format_time_offsets(const struct timespec& monotonic_now, const struct timespec& boottime_now,
                                const ClockOffsets& current, char* buffer, std::size_t capacity) noexcept {
  // Whole seconds only: the kernel takes nanoseconds in [0, 1e9), and the
  // host clocks' fraction of a second tells the task nothing.
  FixedText text(buffer, capacity);
  text.add("monotonic ").add_number(offset_seconds(nanoseconds(monotonic_now) - current.monotonic_ns));
  text.add(" 0\nboottime ").add_number(offset_seconds(nanoseconds(boottime_now) - current.boottime_ns));
  text.add(" 0\n");
  std::size_t length = 0;
  while (buffer[length] != '\0') ++length;
  // FixedText truncates: a text that filled the buffer may be cut short.
  return length + 1 < capacity ? length : 0;
}

bool enter_time_namespace_for_children(ChildFailure& failure) noexcept {
  // The offsets of the namespace the child is in (the host's: zeros), read
  // before the unshare makes the file show the new one's.
  ClockOffsets current;
  char shown[256];
  const int current_fd = ::open("/proc/self/timens_offsets", O_RDONLY | O_CLOEXEC);
  if (current_fd >= 0) {
    const ssize_t n = ::read(current_fd, shown, sizeof shown);
    const int read_errno = errno;
    ::close(current_fd);
    if (n <= 0 || !parse_time_offsets(shown, static_cast<std::size_t>(n), current)) {
      failure.record(n < 0 ? read_errno : EINVAL).add("read(\"/proc/self/timens_offsets\"): not the offsets of a time namespace");
      return false;
    }
  }
  if (::unshare(CLONE_NEWTIME) != 0) {
    const int err = errno;
    auto text = failure.record(err).add("unshare(CLONE_NEWTIME)");
    if (err == EINVAL) text.add(": the kernel has no time namespaces (Linux 5.6+ with CONFIG_TIME_NS)");
    return false;
  }
  struct timespec monotonic {}, boottime {};
  if (::clock_gettime(CLOCK_MONOTONIC, &monotonic) != 0) return failure.fail_errno("clock_gettime(CLOCK_MONOTONIC)");
  if (::clock_gettime(CLOCK_BOOTTIME, &boottime) != 0) return failure.fail_errno("clock_gettime(CLOCK_BOOTTIME)");
  char offsets[128];
  const std::size_t length = format_time_offsets(monotonic, boottime, current, offsets, sizeof offsets);
  if (length == 0) {
    failure.record(EOVERFLOW).add("format_time_offsets: the offsets do not fit in 128 bytes");
    return false;
  }
  // Becoming root of the user namespace made the child non-dumpable, and the
  // /proc files of a non-dumpable process belong to the host's root, whom
  // the sandbox's user namespace does not map: not even its root may write
  // them. Dumpable for this one write, then not again.
  if (::prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) != 0) return failure.fail_errno("prctl(PR_SET_DUMPABLE, 1)");
  const int fd = ::open("/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC);
  const int open_errno = errno;
  bool written = false;
  int write_errno = 0;
  if (fd >= 0) {
    written = ::write(fd, offsets, length) == static_cast<ssize_t>(length);
    write_errno = errno;
    ::close(fd);
  }
  if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) return failure.fail_errno("prctl(PR_SET_DUMPABLE, 0)");
  if (fd < 0) {
    errno = open_errno;
    return failure.fail_errno("open", "/proc/self/timens_offsets");
  }
  if (!written) {
    // The offsets text has two lines; the error stays on one: the values only.
    failure.record(write_errno == 0 ? EIO : write_errno)
        .add("write(\"/proc/self/timens_offsets\", monotonic ")
        .add_number(offset_seconds(nanoseconds(monotonic) - current.monotonic_ns))
        .add(", boottime ")
        .add_number(offset_seconds(nanoseconds(boottime) - current.boottime_ns))
        .add(")");
    return false;
  }
  return true;
}

}  // namespace tierbox::stages
