// File descriptors passed with a message (SCM_RIGHTS), in one place: the
// daemon's wire, the network helper's channel, the launch sync socket, the
// container's exec server and its client, and the OCI console socket all
// pack and unpack the same control message. Safe in the launch child after
// clone and in the container's init: no allocation (a fixed control buffer
// on the stack, the caller's arrays), no exceptions, errno as the call left
// it, so each caller reports the failure in its own style, naming the call
// ("sendmsg(...)"/"recvmsg(...)") and errno.
#pragma once

#include <sys/types.h>

#include <cstddef>

namespace tierbox {

// The kernel's own limit per message (SCM_MAX_FD): more is EINVAL anyway.
// The control buffer is sized for it: about 1 KiB of stack.
inline constexpr std::size_t kMaxFdsPerMessage = 253;

// One sendmsg(MSG_NOSIGNAL) of size bytes with count fds attached (none when
// count is 0), retried on EINTR. MSG_NOSIGNAL: a peer that went away is
// EPIPE, not SIGPIPE. Returns the bytes sent (on a stream socket possibly
// fewer than size; the fds went with them), or -1 with errno (E2BIG: more
// than kMaxFdsPerMessage fds).
ssize_t send_with_fds(int socket, const void* data, std::size_t size, const int* fds, std::size_t count) noexcept;

// One recvmsg(MSG_CMSG_CLOEXEC | flags) of at most size bytes and max_fds
// fds, retried on EINTR; the fds land in fds[0 .. *count). Returns the bytes
// received (0: end of file) or -1 with errno. A truncated message is an
// error, EMSGSIZE: more fds than max_fds (MSG_CTRUNC: the kernel dropped the
// rest) or, on a datagram or SEQPACKET socket, more bytes than size
// (MSG_TRUNC). On every error the fds that came are closed, their slots set
// back to -1 and *count is 0, so nothing leaks and nothing is closed twice.
ssize_t receive_with_fds(int socket, void* data, std::size_t size, int* fds, std::size_t max_fds, std::size_t* count,
                         int flags = 0) noexcept;

}  // namespace tierbox
