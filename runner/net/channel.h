// The channel between the runner and its network helper (tierbox-net): a
// SOCK_SEQPACKET socketpair, one JSON text per packet, so a message is
// never split or merged; a packet may carry one fd (SCM_RIGHTS), which is
// how the sandbox's network namespace reaches the helper. The helper gets
// its end as fd 3.
#pragma once

#include <string>

#include "common/unique_fd.h"

namespace tierbox::net {

inline constexpr int kHelperChannelFd = 3;
inline constexpr std::size_t kMaxMessageBytes = 128 * 1024;

// False (errno set) when the peer is gone or the send failed.
bool send_message(int socket, const std::string& text, int fd_to_pass = -1);

struct ReceivedMessage {
  bool end_of_file = false;  // the peer closed its end
  std::string text;
  UniqueFd fd;               // the fd that came with it, if any
};

// Waits up to timeout_ms (-1: no limit). Throws std::runtime_error naming the
// failed call, or "timed out".
ReceivedMessage receive_message(int socket, int timeout_ms);

}  // namespace tierbox::net
