#include "stages/secrets.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

namespace tierbox::stages {
namespace {

bool write_all(int fd, const std::string& value) noexcept {
  std::size_t done = 0;
  while (done < value.size()) {
    const ssize_t n = ::write(fd, value.data() + done, value.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

bool write_secret(int dir, const policy::SecretFile& file, uid_t uid, gid_t gid, ChildFailure& failure) noexcept {
  // O_EXCL|O_NOFOLLOW: the directory is new and ours, but never write
  // through a name that already exists.
  const int fd = ::openat(dir, file.name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0400);
  if (fd < 0) return failure.fail_errno("openat(secrets, O_CREAT|O_EXCL)", file.name.c_str());
  bool ok = write_all(fd, file.value);
  if (!ok) failure.fail_errno("write secret", file.name.c_str());
  if (ok && ::fchown(fd, uid, gid) != 0) ok = failure.fail_errno("fchown secret to the task user", file.name.c_str());
  ::close(fd);
  return ok;
}

}  // namespace

bool write_secrets(const policy::SecretsPlan& secrets, uid_t task_uid, gid_t task_gid, ChildFailure& failure) noexcept {
  const char* target = secrets.target.c_str();
  const int dir = ::open(target, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dir < 0) return failure.fail_errno("open secrets directory", target);
  bool ok = true;
  for (const auto& file : secrets.files)
    if (ok) ok = write_secret(dir, file, task_uid, task_gid, failure);
  if (ok && ::fchown(dir, task_uid, task_gid) != 0) ok = failure.fail_errno("fchown secrets directory", target);
  if (ok && ::fchmod(dir, 0500) != 0) ok = failure.fail_errno("fchmod 0500 secrets directory", target);
  ::close(dir);
  if (!ok) return false;
  if (::mount(nullptr, target, nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0)
    return failure.fail_errno("mount(MS_REMOUNT|MS_BIND|MS_RDONLY) secrets directory", target);
  return true;
}

}  // namespace tierbox::stages
