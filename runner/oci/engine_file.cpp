#include "oci/engine_file.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <cstdio>

#include "common/errors.h"

namespace tierbox::oci {

UniqueFd open_engine_termination_file(const policy::TerminationMessage& message) {
  const auto what = "mounts (" + message.target + ").source " + quote(message.engine_file);
  const std::string fix = " (fix: give the bind of " + message.target +
                          " a new, empty regular file writable by all (0666), as the kubelet makes it, or leave the "
                          "mount out)";
  // O_PATH first: opening a device or a FIFO for writing acts before any
  // check could refuse it (a watchdog armed, a tape rewound, a writer
  // waiting), so only a checked regular file is opened for writing.
  UniqueFd path(::open(message.engine_file.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  if (!path)
    throw Refusal(what + ": the engine's termination-message file: open(O_PATH|O_NOFOLLOW): " + errno_text(errno) +
                  fix);
  struct stat st {};
  if (::fstat(path.get(), &st) != 0) throw_sys_error("fstat(" + quote(message.engine_file) + ")");
  if (!S_ISREG(st.st_mode))
    throw Refusal(what + ": the engine's termination-message file is not a regular file" + fix);
  // The runner writes this file as root, under every tier, even one that
  // binds nothing: a bind at /dev/NAME in config.json (a pod's hostPath
  // volume with that mountPath) must not make it write a host file the tier
  // would never have bound. The kubelet's is a new file for each container,
  // empty, of one link and mode 0666 (kuberuntime's makeMounts): a file
  // that is not so (/etc/shadow, an empty /etc/ld.so.preload a hostPath
  // FileOrCreate made 0644, a hard link to either) is not the engine's.
  if (st.st_size != 0 || st.st_nlink != 1 || (st.st_mode & S_IWOTH) == 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    throw Refusal(what + ": not a new termination-message file (" + std::to_string(st.st_size) + " bytes, " +
                  std::to_string(st.st_nlink) + " links, mode " + mode +
                  "): the runner would write the task's message into it as root" + fix);
  }
  // The very inode checked, opened for writing through its O_PATH fd.
  const auto proc = "/proc/self/fd/" + std::to_string(path.get());
  UniqueFd fd(::open(proc.c_str(), O_WRONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (!fd)
    throw Refusal(what + ": the engine's termination-message file: open(" + proc + ", O_WRONLY): " +
                  errno_text(errno) + fix);
  struct stat opened {};
  if (::fstat(fd.get(), &opened) != 0) throw_sys_error("fstat(" + quote(message.engine_file) + ")");
  if (opened.st_dev != st.st_dev || opened.st_ino != st.st_ino || !S_ISREG(opened.st_mode))
    throw Refusal(what + ": the engine's termination-message file changed while it was opened" + fix);
  // Written with pwrite at the end; O_NONBLOCK means nothing for a regular file.
  return fd;
}

}  // namespace tierbox::oci
