#include "stages/time_namespace.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "launch/fixed_text.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

namespace tierbox::stages {

std::size_t format_time_offsets(const struct timespec& monotonic_now, const struct timespec& boottime_now,
                                char* buffer, std::size_t capacity) noexcept {
  // Whole seconds only: the kernel takes nanoseconds in [0, 1e9), and the
  // host clocks' fraction of a second tells the task nothing.
  launch::FixedText text(buffer, capacity);
  text.add("monotonic ").add_number(-(static_cast<std::int64_t>(monotonic_now.tv_sec) - kSandboxClockStartSeconds));
  text.add(" 0\nboottime ").add_number(-(static_cast<std::int64_t>(boottime_now.tv_sec) - kSandboxClockStartSeconds));
  text.add(" 0\n");
  std::size_t length = 0;
  while (buffer[length] != '\0') ++length;
  // FixedText truncates: a text that filled the buffer may be cut short.
  return length + 1 < capacity ? length : 0;
}

bool enter_time_namespace_for_children(ChildFailure& failure) noexcept {
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
  const std::size_t length = format_time_offsets(monotonic, boottime, offsets, sizeof offsets);
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
        .add_number(-(static_cast<std::int64_t>(monotonic.tv_sec) - kSandboxClockStartSeconds))
        .add(", boottime ")
        .add_number(-(static_cast<std::int64_t>(boottime.tv_sec) - kSandboxClockStartSeconds))
        .add(")");
    return false;
  }
  return true;
}

}  // namespace tierbox::stages
