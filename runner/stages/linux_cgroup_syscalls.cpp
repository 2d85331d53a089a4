#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>

#include "common/errors.h"
#include "stages/cgroup_syscalls.h"

namespace tierbox::stages {

std::optional<std::string> LinuxCgroupSyscalls::read_file(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    // ENODEV: the cgroup was removed between finding and opening it (a
    // concurrent run's teardown, seen by gc): as gone as a missing file.
    if (errno == ENOENT || errno == ENODEV) return std::nullopt;
    throw_sys_error("open(" + quote(path) + ", O_RDONLY)");
  }
  std::string text;
  char buffer[4096];
  while (true) {
    const ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    // A cgroup removed under us reads as ENODEV: the same as a missing file.
    if (n < 0 && errno == ENODEV) return std::nullopt;
    if (n < 0) throw_sys_error("read(" + quote(path) + ")");
    if (n == 0) return text;
    text.append(buffer, static_cast<std::size_t>(n));
  }
}

int LinuxCgroupSyscalls::write_file(const std::string& path, std::string_view text) {
  // No O_CREAT: a limit file that does not exist is a limit this host cannot
  // enforce, never a file to make. O_TRUNC so a fixture's plain file holds
  // exactly what was written (cgroupfs ignores it).
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC));
  if (!fd) return errno;
  ssize_t n;
  do {
    n = ::write(fd.get(), text.data(), text.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0) return errno;
  return static_cast<std::size_t>(n) == text.size() ? 0 : EIO;
}

int LinuxCgroupSyscalls::make_directory(const std::string& path) {
  return ::mkdir(path.c_str(), 0755) == 0 ? 0 : errno;
}

int LinuxCgroupSyscalls::remove_directory(const std::string& path) {
  return ::rmdir(path.c_str()) == 0 ? 0 : errno;
}

UniqueFd LinuxCgroupSyscalls::open_directory(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!fd) throw_sys_error("open(" + quote(path) + ", O_PATH|O_DIRECTORY)");
  return fd;
}

UniqueFd LinuxCgroupSyscalls::open_for_writing(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) throw_sys_error("open(" + quote(path) + ", O_WRONLY)");
  return fd;
}

std::vector<std::string> LinuxCgroupSyscalls::list_directories(const std::string& path) {
  std::vector<std::string> names;
  DIR* dir = ::opendir(path.c_str());
  if (!dir) return names;
  while (const auto* entry = ::readdir(dir)) {
    if (entry->d_type != DT_DIR || entry->d_name[0] == '.') continue;
    names.emplace_back(entry->d_name);
  }
  ::closedir(dir);
  return names;
}

std::optional<std::chrono::seconds> LinuxCgroupSyscalls::age(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  return std::chrono::seconds(std::time(nullptr) - st.st_mtime);
}

int LinuxCgroupSyscalls::kill_process(pid_t pid, int signal_number) {
  return ::kill(pid, signal_number) == 0 ? 0 : errno;
}

void LinuxCgroupSyscalls::pause(std::chrono::microseconds duration) {
  struct timespec wait {
    static_cast<time_t>(duration.count() / 1'000'000), static_cast<long>(duration.count() % 1'000'000) * 1000
  };
  while (::nanosleep(&wait, &wait) != 0 && errno == EINTR) {
  }
}

}  // namespace tierbox::stages
