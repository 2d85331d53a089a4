#include "launch/exec_start.h"

#include <errno.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

namespace tierbox::launch {

void reset_signals(std::uint64_t ignored) noexcept {
  struct KernelSigaction {
    void (*handler)(int);
    unsigned long flags;
    void (*restorer)();
    std::uint64_t mask;
  } default_action{SIG_DFL, 0, nullptr, 0};
  for (int signal_number = 1; signal_number <= 64; ++signal_number) {
    if (!(ignored & (1ULL << (signal_number - 1)))) continue;
    ::syscall(SYS_rt_sigaction, signal_number, &default_action, nullptr, sizeof(std::uint64_t));
  }
  std::uint64_t none = 0;
  ::syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, nullptr, sizeof none);
}

int exec_searching(const char* search_path, const char* file, char* const argv[], char* const envp[]) noexcept {
  if (std::strchr(file, '/')) {
    ::execve(file, argv, envp);
    return errno;
  }
  const char* path = search_path;
  int result = ENOENT;
  char candidate[4096];  // PATH_MAX: a longer candidate is skipped, as glibc does
  const std::size_t file_length = std::strlen(file);
  while (true) {
    const char* end = std::strchr(path, ':');
    const std::size_t dir_length = end ? static_cast<std::size_t>(end - path) : std::strlen(path);
    if (dir_length + 1 + file_length + 1 <= sizeof candidate) {
      std::size_t length = 0;
      if (dir_length == 0) candidate[length++] = '.';
      std::memcpy(candidate + length, path, dir_length);
      length += dir_length;
      candidate[length++] = '/';
      std::memcpy(candidate + length, file, file_length + 1);
      ::execve(candidate, argv, envp);
      if (errno == EACCES) result = EACCES;
      else if (errno != ENOENT && errno != ENOTDIR) return errno;
    }
    if (!end) return result;
    path = end + 1;
  }
}

}  // namespace tierbox::launch
