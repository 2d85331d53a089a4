#include "oci/engine_file.h"

#include <fcntl.h>
#include <sys/stat.h>

#include "common/errors.h"

namespace tierbox::oci {

UniqueFd open_engine_termination_file(const policy::TerminationMessage& message) {
  const auto what = "mounts (" + message.target + ").source " + quote(message.engine_file);
  const std::string fix = " (fix: give the bind of " + message.target +
                          " a regular file as its source, as the kubelet does, or leave the mount out)";
  UniqueFd fd(::open(message.engine_file.c_str(), O_WRONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (!fd)
    throw Refusal(what + ": the engine's termination-message file: open(O_WRONLY|O_NOFOLLOW|O_NOCTTY|O_NONBLOCK): " +
                  errno_text(errno) + fix);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) throw_sys_error("fstat(" + quote(message.engine_file) + ")");
  if (!S_ISREG(st.st_mode))
    throw Refusal(what + ": the engine's termination-message file is not a regular file" + fix);
  // Written with pwrite at the end; O_NONBLOCK means nothing for a regular file.
  return fd;
}

}  // namespace tierbox::oci
