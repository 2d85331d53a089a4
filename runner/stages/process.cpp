#include "stages/process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "common/errors.h"

#ifndef CLOSE_RANGE_UNSHARE
#include <linux/close_range.h>
#endif

namespace tierbox::stages {

bool set_parent_death_signal(ChildFailure& failure) noexcept {
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) == 0) return true;
  return failure.fail_errno("prctl(PR_SET_PDEATHSIG, SIGKILL)");
}

bool start_new_session(ChildFailure& failure) noexcept {
  if (::setsid() >= 0) return true;
  return failure.fail_errno("setsid");
}

bool set_no_new_privs(ChildFailure& failure) noexcept {
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0) return true;
  return failure.fail_errno("prctl(PR_SET_NO_NEW_PRIVS, 1)");
}

bool join_new_session_keyring(ChildFailure& failure) noexcept {
  // KEYCTL_JOIN_SESSION_KEYRING (1) with no name: a new anonymous keyring.
  if (::syscall(SYS_keyctl, 1, nullptr) >= 0) return true;
  return failure.fail_errno("keyctl(KEYCTL_JOIN_SESSION_KEYRING, NULL)");
}

bool apply_rlimits(const policy::RlimitSetting* rlimits, std::size_t count, ChildFailure& failure) noexcept {
  for (std::size_t i = 0; i < count; ++i) {
    const auto& limit = rlimits[i];
    struct rlimit value {static_cast<rlim_t>(limit.soft), static_cast<rlim_t>(limit.hard)};
    if (::setrlimit(static_cast<__rlimit_resource>(limit.resource), &value) != 0) {
      failure.record(errno).add("setrlimit(resource ").add_number(limit.resource).add(", soft ")
          .add_number(static_cast<std::int64_t>(limit.soft)).add(", hard ")
          .add_number(static_cast<std::int64_t>(limit.hard)).add(")");
      return false;
    }
  }
  return true;
}

bool close_fds_except(const int* keep, std::size_t keep_count, ChildFailure& failure) noexcept {
  unsigned first = 3;
  for (std::size_t i = 0; i <= keep_count; ++i) {
    const unsigned next_keep = i < keep_count ? static_cast<unsigned>(keep[i]) : ~0U;
    if (i < keep_count && keep[i] < 3) continue;
    if (next_keep > first) {
      const unsigned last = i < keep_count ? next_keep - 1 : ~0U;
      if (::close_range(first, last, 0) != 0) {
        failure.record(errno).add("close_range(").add_number(first).add(", ").add_number(last).add(")");
        return false;
      }
    }
    if (i < keep_count) first = next_keep + 1;
  }
  return true;
}

void check_standard_fds(const std::array<int, 3>& fds) {
  for (std::size_t index = 0; index < fds.size(); ++index) {
    const int fd = fds[index];
    struct stat st {};
    // main() puts /dev/null on a closed 0-2; the daemon passes open fds.
    if (::fstat(fd, &st) != 0)
      throw_sys_error("fstat(fd " + std::to_string(fd) + " for the task's fd " + std::to_string(index) + ")");
    // A received O_PATH fd is refused as well: fstat of one to a directory says
    // directory, and one to anything else is of no use as stdio.
    const int flags = ::fcntl(fd, F_GETFL);
    if (S_ISDIR(st.st_mode))
      throw Error("fd " + std::to_string(index) +
                      " is a directory; it would give the task a way out of its root (fix: redirect it to a file, pipe or /dev/null)",
                  exit_code::runner_failed);
    if (flags >= 0 && (flags & O_PATH) == O_PATH)
      throw Error("fd " + std::to_string(index) +
                      " is an O_PATH fd; it names a file without opening it, of no use as stdio, and one to a directory "
                      "would give the task a way out of its root (fix: redirect it to a file, pipe or /dev/null)",
                  exit_code::runner_failed);
  }
}

void set_process_title(char* area, std::size_t area_size, const char* title) noexcept {
  if (!area || area_size == 0) return;
  std::memset(area, 0, area_size);
  std::strncpy(area, title, area_size - 1);
  ::prctl(PR_SET_NAME, title, 0, 0, 0);
}

}  // namespace tierbox::stages
