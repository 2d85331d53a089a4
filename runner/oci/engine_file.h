// The engine's termination-message file (policy::TerminationMessage): opened
// by the runtime at create, the only thing the runner ever does with it is
// write the task's message into it once the container has ended
// (stages/termination_message.h). Syscalls; oci/spec.h decides which mount
// it is (pure).
#pragma once

#include "common/unique_fd.h"
#include "policy/request.h"

namespace tierbox::oci {

// Opens message.engine_file O_PATH|O_NOFOLLOW, checks it is a new
// termination-message file as the kubelet makes one (a regular file, empty,
// of one link, writable by all: mode 0666), and only then opens that inode
// O_WRONLY|O_NOCTTY|O_NONBLOCK through /proc/self/fd (a device or FIFO is
// never opened for writing). Throws Refusal with one line naming the mount
// and the fix: a symlink, a directory, a FIFO, a device, a socket, a missing
// file, or a file with content, links or a mode that keeps others from
// writing it is never the engine's termination-message file (the runner
// writes it as root under every tier).
UniqueFd open_engine_termination_file(const policy::TerminationMessage& message);

}  // namespace tierbox::oci
