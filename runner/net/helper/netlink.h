// A netlink socket (libmnl) for the network helper: requests with their
// acks, nftables batches, and dumps. Errors name what was being done, the
// errno and the kernel's own extended-ack text when it gives one:
//   add chain inet tierbox sandbox-0ad20000-egress: EEXIST (File exists)
#pragma once

#include <linux/netlink.h>

#include <cstdint>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>

struct mnl_socket;

namespace tierbox::net::helper {

class NetlinkError : public std::runtime_error {
 public:
  NetlinkError(const std::string& what, int err);
  [[nodiscard]] int err() const { return err_; }

 private:
  int err_;
};

// "EEXIST (File exists)".
std::string errno_text(int err);

class NetlinkSocket {
 public:
  // Opened in the calling process's current network namespace, and stays
  // in it: the helper opens one per namespace it works in.
  explicit NetlinkSocket(int protocol);
  ~NetlinkSocket();
  NetlinkSocket(const NetlinkSocket&) = delete;
  NetlinkSocket& operator=(const NetlinkSocket&) = delete;

  std::uint32_t next_sequence() { return sequence_++; }
  // After a batch that used sequence numbers up to (not including) end.
  void skip_to(std::uint32_t end) { sequence_ = end; }

  // Sends one buffer of requests that all carry NLM_F_ACK and collects their
  // acks (the kernel answers netlink requests synchronously, within the
  // send). Throws NetlinkError for the first failed request, described by
  // describe(sequence).
  void transact(const void* data, std::size_t length, const std::function<std::string(std::uint32_t)>& describe);
  // The same, but returns the errno of the first failure (0: all succeeded)
  // instead of throwing, for callers that accept some errors (ENOENT when
  // removing what may already be gone).
  int try_transact(const void* data, std::size_t length, std::string* failure_text = nullptr);

  // Sends a request whose answer is one or more messages (a dump, or a get),
  // calling on_message for each until the end. Throws NetlinkError.
  void query(const void* request, std::size_t length, const std::function<void(const nlmsghdr*)>& on_message,
             const std::string& what);

 private:
  struct Failure {
    int err = 0;
    std::uint32_t sequence = 0;
    std::string kernel_message;
  };
  Failure send_and_collect(const void* data, std::size_t length);

  mnl_socket* socket_ = nullptr;
  std::uint32_t port_id_ = 0;
  std::uint32_t sequence_ = 1;
};

}  // namespace tierbox::net::helper
