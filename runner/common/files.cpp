#include "common/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "common/digest.h"
#include "common/errors.h"
#include "common/unique_fd.h"

namespace tierbox {

std::string file_type_name(mode_t mode) {
  if (S_ISREG(mode)) return "a regular file";
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISLNK(mode)) return "a symbolic link";
  return "an unknown file type";
}

UniqueFd open_regular_file(const std::string& path, std::string_view what) {
  const std::string prefix = std::string(what) + (what.empty() ? "" : " ") + quote(path) + ": ";
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (!fd) throw Error(prefix + "cannot open: " + errno_text(errno), exit_code::runner_failed);
  struct stat status {};
  if (::fstat(fd.get(), &status) != 0) throw Error(prefix + "fstat: " + errno_text(errno), exit_code::runner_failed);
  if (!S_ISREG(status.st_mode))
    throw Error(prefix + "is " + file_type_name(status.st_mode) + ", not a regular file (fix: name a file)",
                exit_code::runner_failed);
  return fd;
}

std::string read_regular_file(const std::string& path, std::string_view what, std::size_t limit) {
  const auto fd = open_regular_file(path, what);
  std::string text;
  char buffer[16384];
  while (true) {
    const ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      throw Error(std::string(what) + (what.empty() ? "" : " ") + quote(path) + ": read: " + errno_text(errno),
                  exit_code::runner_failed);
    if (n == 0) break;
    text.append(buffer, static_cast<std::size_t>(n));
    if (text.size() > limit) break;
  }
  return text;
}

void make_private_dirs(const std::filesystem::path& dir, std::string_view context) {
  std::filesystem::path path;
  for (const auto& part : dir) {
    path /= part;
    if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST)
      throw SysError(errno, std::string(context) + "mkdir(" + quote(path.string()) + ", 0700)");
  }
}

void write_all(int fd, std::string_view text, const std::string& what, std::string_view context) {
  std::size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw SysError(errno, std::string(context) + "write(" + quote(what) + ")");
    written += static_cast<std::size_t>(n);
  }
}

void write_file_atomically(const std::filesystem::path& file, const std::string& content, unsigned mode,
                           Durability durability) {
  const auto temporary = file.string() + ".tmp." + random_hex(6);
  UniqueFd fd(::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode));
  if (!fd) throw_sys_error("open(" + quote(temporary) + ", O_WRONLY|O_CREAT|O_EXCL)");
  try {
    // The umask may have taken bits from mode at open.
    if (::fchmod(fd.get(), mode) != 0) throw_sys_error("fchmod(" + quote(temporary) + ")");
    write_all(fd.get(), content, temporary);
    if (durability == Durability::fsync && ::fsync(fd.get()) != 0) throw_sys_error("fsync(" + quote(temporary) + ")");
    fd.reset();
    if (::rename(temporary.c_str(), file.c_str()) != 0)
      throw_sys_error("rename(" + quote(temporary) + " -> " + quote(file.string()) + ")");
  } catch (...) {
    ::unlink(temporary.c_str());
    throw;
  }
}

}  // namespace tierbox
