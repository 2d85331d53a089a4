#include "net/helper/netlink.h"

#include <libmnl/libmnl.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace tierbox::net::helper {
namespace {

// Enough for the acks of the largest batch (a few hundred messages).
constexpr int kReceiveBuffer = 1 << 20;

std::string kernel_message_of(const nlmsghdr* message) {
  if (!(message->nlmsg_flags & NLM_F_ACK_TLVS)) return "";
  const auto* error = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(message));
  unsigned offset = sizeof(nlmsgerr);
  if (!(message->nlmsg_flags & NLM_F_CAPPED)) offset += error->msg.nlmsg_len - sizeof(nlmsghdr);
  std::string text;
  mnl_attr_parse(
      message, offset,
      [](const nlattr* attribute, void* data) {
        if (mnl_attr_get_type(attribute) == NLMSGERR_ATTR_MSG)
          *static_cast<std::string*>(data) = mnl_attr_get_str(attribute);
        return MNL_CB_OK;
      },
      &text);
  return text;
}

}  // namespace

NetlinkError::NetlinkError(const std::string& what, int err) : std::runtime_error(what), err_(err) {}

std::string errno_text(int err) {
  const char* name = strerrorname_np(err);
  return std::string(name ? name : std::to_string(err)) + " (" + std::strerror(err) + ")";
}

NetlinkSocket::NetlinkSocket(int protocol) {
  socket_ = mnl_socket_open2(protocol, SOCK_CLOEXEC);
  if (!socket_) throw NetlinkError("socket(AF_NETLINK, " + std::to_string(protocol) + "): " + errno_text(errno), errno);
  const int on = 1;
  // Best effort: better error texts, and acks without a copy of the request.
  mnl_socket_setsockopt(socket_, NETLINK_EXT_ACK, const_cast<int*>(&on), sizeof on);
  mnl_socket_setsockopt(socket_, NETLINK_CAP_ACK, const_cast<int*>(&on), sizeof on);
  ::setsockopt(mnl_socket_get_fd(socket_), SOL_SOCKET, SO_RCVBUF, &kReceiveBuffer, sizeof kReceiveBuffer);
  if (mnl_socket_bind(socket_, 0, MNL_SOCKET_AUTOPID) < 0) {
    const int err = errno;
    mnl_socket_close(socket_);
    throw NetlinkError("bind(AF_NETLINK): " + errno_text(err), err);
  }
  port_id_ = mnl_socket_get_portid(socket_);
}

NetlinkSocket::~NetlinkSocket() {
  if (socket_) mnl_socket_close(socket_);
}

NetlinkSocket::Failure NetlinkSocket::send_and_collect(const void* data, std::size_t length) {
  if (mnl_socket_sendto(socket_, data, length) < 0) return {errno, 0, "sendto"};
  Failure first;
  std::vector<char> buffer(MNL_SOCKET_BUFFER_SIZE * 4);
  while (true) {
    const ssize_t received = ::recv(mnl_socket_get_fd(socket_), buffer.data(), buffer.size(), MSG_DONTWAIT);
    if (received < 0 && errno == EINTR) continue;
    if (received < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (received < 0) return {errno, 0, "recv"};
    int remaining = static_cast<int>(received);
    for (auto* message = reinterpret_cast<const nlmsghdr*>(buffer.data()); mnl_nlmsg_ok(message, remaining);
         message = mnl_nlmsg_next(message, &remaining)) {
      if (message->nlmsg_type != NLMSG_ERROR) continue;
      const auto* error = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(message));
      if (error->error != 0 && first.err == 0) first = {-error->error, message->nlmsg_seq, kernel_message_of(message)};
    }
  }
  return first;
}

void NetlinkSocket::transact(const void* data, std::size_t length,
                             const std::function<std::string(std::uint32_t)>& describe) {
  auto failure = send_and_collect(data, length);
  if (failure.err == 0) return;
  std::string text = failure.sequence ? describe(failure.sequence) : "netlink " + failure.kernel_message;
  text += ": " + errno_text(failure.err);
  if (failure.sequence && !failure.kernel_message.empty()) text += " (kernel: " + failure.kernel_message + ")";
  throw NetlinkError(text, failure.err);
}

int NetlinkSocket::try_transact(const void* data, std::size_t length, std::string* failure_text) {
  auto failure = send_and_collect(data, length);
  if (failure_text) *failure_text = failure.kernel_message;
  return failure.err;
}

void NetlinkSocket::query(const void* request, std::size_t length,
                          const std::function<void(const nlmsghdr*)>& on_message, const std::string& what) {
  if (mnl_socket_sendto(socket_, request, length) < 0) throw NetlinkError(what + ": sendto: " + errno_text(errno), errno);
  const auto sequence = static_cast<const nlmsghdr*>(request)->nlmsg_seq;
  const bool is_dump = static_cast<const nlmsghdr*>(request)->nlmsg_flags & NLM_F_DUMP;
  std::vector<char> buffer(MNL_SOCKET_BUFFER_SIZE * 4);
  while (true) {
    const ssize_t received = mnl_socket_recvfrom(socket_, buffer.data(), buffer.size());
    if (received < 0 && errno == EINTR) continue;
    if (received < 0) throw NetlinkError(what + ": recv: " + errno_text(errno), errno);
    int remaining = static_cast<int>(received);
    for (auto* message = reinterpret_cast<const nlmsghdr*>(buffer.data()); mnl_nlmsg_ok(message, remaining);
         message = mnl_nlmsg_next(message, &remaining)) {
      if (message->nlmsg_seq != sequence || message->nlmsg_pid != port_id_) continue;
      if (message->nlmsg_type == NLMSG_DONE) return;
      if (message->nlmsg_type == NLMSG_ERROR) {
        const int err = -static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(message))->error;
        if (err == 0) return;  // the ack of a get
        throw NetlinkError(what + ": " + errno_text(err), err);
      }
      on_message(message);
      if (!is_dump) return;
    }
  }
}

}  // namespace tierbox::net::helper
