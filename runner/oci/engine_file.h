// The engine's termination-message file (policy::TerminationMessage): opened
// by the runtime at create, the only thing the runner ever does with it is
// write the task's message into it once the container has ended
// (stages/termination_message.h). Syscalls; oci/spec.h decides which mount
// it is (pure).
#pragma once

#include "common/unique_fd.h"
#include "policy/request.h"

namespace tierbox::oci {

// Opens message.engine_file O_WRONLY|O_NOFOLLOW|O_CLOEXEC|O_NOCTTY (and
// O_NONBLOCK, so a FIFO without a reader fails instead of blocking create)
// and checks it is a regular file. Throws Refusal with one line naming the
// mount and the fix: a symlink, a directory, a FIFO, a device, a socket or
// a missing file is never the engine's termination-message file.
UniqueFd open_engine_termination_file(const policy::TerminationMessage& message);

}  // namespace tierbox::oci
