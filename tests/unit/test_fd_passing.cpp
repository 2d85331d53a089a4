// common/fd_passing: fds cross a socket pair close-on-exec, and a message
// that brings more fds (or bytes) than the receiver has room for is refused
// with nothing left open. Each refusal has its control: the same exchange
// within the limit succeeds.
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include <cerrno>
#include <filesystem>
#include <utility>
#include <vector>

#include "common/fd_passing.h"
#include "common/unique_fd.h"

using namespace tierbox;

namespace {

struct Pair {
  UniqueFd a, b;
  explicit Pair(int type) {
    int fds[2];
    BOOST_REQUIRE(::socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, fds) == 0);
    a.reset(fds[0]);
    b.reset(fds[1]);
  }
};

std::size_t open_fd_count() {
  std::size_t count = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) ++count;
  return count;
}

bool same_file(int x, int y) {
  struct stat first {}, second {};
  return ::fstat(x, &first) == 0 && ::fstat(y, &second) == 0 && first.st_dev == second.st_dev &&
         first.st_ino == second.st_ino;
}

// Sends "m" with count fds (each an fd of /dev/null) over pair.a, returns them.
std::vector<UniqueFd> send_null_fds(const Pair& pair, std::size_t count) {
  std::vector<UniqueFd> sent;
  std::vector<int> raw;
  for (std::size_t i = 0; i < count; ++i) {
    sent.emplace_back(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    raw.push_back(sent.back().get());
  }
  BOOST_REQUIRE(send_with_fds(pair.a.get(), "m", 1, raw.data(), raw.size()) == 1);
  return sent;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(fd_passing)

BOOST_AUTO_TEST_CASE(fds_arrive_close_on_exec_within_the_limit) {
  Pair pair(SOCK_SEQPACKET);
  const auto sent = send_null_fds(pair, 3);
  int fds[3] = {-1, -1, -1};
  std::size_t count = 0;
  char byte = 0;
  BOOST_REQUIRE(receive_with_fds(pair.b.get(), &byte, 1, fds, 3, &count) == 1);
  BOOST_TEST(byte == 'm');
  BOOST_REQUIRE(count == 3u);
  for (int i = 0; i < 3; ++i) {
    UniqueFd received(fds[i]);
    BOOST_TEST(same_file(received.get(), sent[i].get()));
    BOOST_TEST((::fcntl(received.get(), F_GETFD) & FD_CLOEXEC) != 0);  // MSG_CMSG_CLOEXEC
  }
}

BOOST_AUTO_TEST_CASE(more_fds_than_room_is_refused_and_closes_them) {
  // Two fds for a receiver with room for one: CMSG_SPACE rounds an odd
  // count up, so the kernel would deliver both without MSG_CTRUNC; the
  // helper still refuses. Three for room for two: the kernel truncates.
  const std::pair<std::size_t, std::size_t> cases[] = {{2, 1}, {3, 2}};  // {sent, room}
  for (const auto& [sent_count, room] : cases) {
    Pair pair(SOCK_SEQPACKET);
    const auto sent = send_null_fds(pair, sent_count);
    const auto before = open_fd_count();
    int fds[2] = {-1, -1};
    std::size_t count = 99;
    char byte = 0;
    errno = 0;
    BOOST_TEST(receive_with_fds(pair.b.get(), &byte, 1, fds, room, &count) == -1);
    BOOST_TEST(errno == EMSGSIZE);
    BOOST_TEST(count == 0u);
    BOOST_TEST(fds[0] == -1);
    BOOST_TEST(open_fd_count() == before);  // nothing received was left open
  }
  // Control: the same exchange with room for all of them succeeds.
  Pair pair(SOCK_SEQPACKET);
  const auto sent = send_null_fds(pair, 2);
  int fds[2] = {-1, -1};
  std::size_t count = 0;
  char byte = 0;
  BOOST_TEST(receive_with_fds(pair.b.get(), &byte, 1, fds, 2, &count) == 1);
  BOOST_TEST(count == 2u);
  UniqueFd first(fds[0]), second(fds[1]);
}

BOOST_AUTO_TEST_CASE(a_longer_seqpacket_message_than_the_buffer_is_refused) {
  Pair pair(SOCK_SEQPACKET);
  BOOST_REQUIRE(send_with_fds(pair.a.get(), "abcd", 4, nullptr, 0) == 4);
  char buffer[4];
  std::size_t count = 0;
  errno = 0;
  BOOST_TEST(receive_with_fds(pair.b.get(), buffer, 3, nullptr, 0, &count) == -1);  // MSG_TRUNC
  BOOST_TEST(errno == EMSGSIZE);
  // Control: a buffer that holds it.
  BOOST_REQUIRE(send_with_fds(pair.a.get(), "abcd", 4, nullptr, 0) == 4);
  BOOST_TEST(receive_with_fds(pair.b.get(), buffer, 4, nullptr, 0, &count) == 4);
}

BOOST_AUTO_TEST_CASE(too_many_fds_to_send_and_a_gone_peer_are_errors) {
  Pair pair(SOCK_STREAM);
  std::vector<int> many(kMaxFdsPerMessage + 1, 0);
  errno = 0;
  BOOST_TEST(send_with_fds(pair.a.get(), "m", 1, many.data(), many.size()) == -1);
  BOOST_TEST(errno == E2BIG);
  pair.b.reset();
  errno = 0;
  // MSG_NOSIGNAL: EPIPE, not a SIGPIPE that would end the test program.
  BOOST_TEST(send_with_fds(pair.a.get(), "m", 1, nullptr, 0) == -1);
  BOOST_TEST(errno == EPIPE);
}

BOOST_AUTO_TEST_SUITE_END()
