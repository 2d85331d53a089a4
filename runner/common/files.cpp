#include "common/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "common/errors.h"
#include "common/unique_fd.h"

namespace tierbox {

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
  const auto temporary = file.string() + ".tmp";
  UniqueFd fd(::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode));
  if (!fd) throw_sys_error("open(" + quote(temporary) + ", O_WRONLY|O_CREAT|O_TRUNC)");
  // The umask may have taken bits from mode at open.
  if (::fchmod(fd.get(), mode) != 0) throw_sys_error("fchmod(" + quote(temporary) + ")");
  write_all(fd.get(), content, temporary);
  if (durability == Durability::fsync && ::fsync(fd.get()) != 0) throw_sys_error("fsync(" + quote(temporary) + ")");
  fd.reset();
  if (::rename(temporary.c_str(), file.c_str()) != 0)
    throw_sys_error("rename(" + quote(temporary) + " -> " + quote(file.string()) + ")");
}

}  // namespace tierbox
