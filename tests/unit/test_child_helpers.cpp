// Helpers the child uses after clone (no allocation), the sync protocol, and
// the error text the parent prints.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include <cstring>

#include "common/errors.h"
#include "common/process_title.h"
#include "common/fixed_text.h"
#include "launch/init.h"
#include "launch/supervisor.h"
#include "launch/sync.h"
#include "stages/process.h"
#include "stages/time_namespace.h"

using namespace tierbox;

BOOST_AUTO_TEST_SUITE(child_helpers)

BOOST_AUTO_TEST_CASE(fixed_text_truncates_instead_of_overflowing) {
  char buffer[8];
  FixedText text(buffer, sizeof buffer);
  text.add("abc").add_number(-42).add("overflow");
  BOOST_TEST(std::string(buffer) == "abc-42o");
  char numbers[32];
  FixedText(numbers, sizeof numbers).add_number(0).add(" ").add_number(9223372036854775807LL);
  BOOST_TEST(std::string(numbers) == "0 9223372036854775807");
}

BOOST_AUTO_TEST_CASE(time_offsets_start_the_sandbox_clocks_at_one_second) {
  // The host has been up 52091.7 s (monotonic) and 52100.2 s (boot time,
  // which also counts suspends): inside, both read 1 s plus the fraction.
  char buffer[128];
  const struct timespec monotonic {52091, 700'000'000}, boottime {52100, 200'000'000};
  const auto length = stages::format_time_offsets(monotonic, boottime, {}, buffer, sizeof buffer);
  BOOST_TEST(std::string(buffer, length) == "monotonic -52090 0\nboottime -52099 0\n");
  // The kernel refuses offsets that put a clock below zero: a host up for
  // less than a second gets a positive offset instead.
  const struct timespec young {0, 400'000'000};
  stages::format_time_offsets(young, young, {}, buffer, sizeof buffer);
  BOOST_TEST(std::string(buffer) == "monotonic 1 0\nboottime 1 0\n");
  // Read inside a time namespace of tierbox's own caller (offsets +100.5 s
  // and -20 s): its offsets come off first, as the kernel applies offsets to
  // the host's clocks.
  const stages::ClockOffsets caller{100'500'000'000, -20'000'000'000};
  stages::format_time_offsets(monotonic, boottime, caller, buffer, sizeof buffer);
  BOOST_TEST(std::string(buffer) == "monotonic -51990 0\nboottime -52119 0\n");
  // A buffer too small for the text is refused, not cut short.
  char small[20];
  BOOST_TEST(stages::format_time_offsets(monotonic, boottime, {}, small, sizeof small) == 0u);
}

BOOST_AUTO_TEST_CASE(time_offsets_are_read_as_the_kernel_shows_them) {
  stages::ClockOffsets offsets;
  const std::string host = "monotonic           0         0\nboottime            0         0\n";
  BOOST_TEST(stages::parse_time_offsets(host.data(), host.size(), offsets));
  BOOST_TEST(offsets.monotonic_ns == 0);
  const std::string sandbox = "monotonic      -56351         0\nboottime       -56351 500000000\n";
  BOOST_TEST(stages::parse_time_offsets(sandbox.data(), sandbox.size(), offsets));
  BOOST_TEST(offsets.monotonic_ns == -56'351'000'000'000);
  BOOST_TEST(offsets.boottime_ns == -56'350'500'000'000);
  for (const std::string bad : {"", "monotonic 1 0\n", "monotonic 1 0\nboottime x 0\n",
                                "monotonic 1 0\nboottime 1 1000000000\n", "monotonic 1 0\nrealtime 1 0\n",
                                "monotonic 1\nboottime 1 0\n"})
    BOOST_TEST(!stages::parse_time_offsets(bad.data(), bad.size(), offsets), bad);
}

BOOST_AUTO_TEST_CASE(child_failure_records_call_and_errno) {
  stages::ChildFailure failure;
  errno = EACCES;
  BOOST_TEST(!failure.fail_errno("chdir", "/workspace"));
  BOOST_TEST(failure.err == EACCES);
  BOOST_TEST(std::string(failure.detail) == "chdir(\"/workspace\")");
}

BOOST_AUTO_TEST_CASE(close_fds_keeps_exactly_the_listed_ones) {
  // In a child process: the test runner's own fds must not be touched.
  pid_t pid = ::fork();
  if (pid == 0) {
    int a = ::open("/dev/null", O_RDONLY);  // no O_CLOEXEC: as if inherited
    int b = ::open("/dev/null", O_RDONLY);
    int c = ::open("/dev/null", O_RDONLY);
    int keep[] = {b};
    stages::ChildFailure failure;
    if (!stages::close_fds_except(keep, 1, failure)) ::_exit(10);
    bool ok = ::fcntl(a, F_GETFD) == -1 && ::fcntl(b, F_GETFD) != -1 && ::fcntl(c, F_GETFD) == -1 &&
              ::fcntl(0, F_GETFD) != -1 && ::fcntl(2, F_GETFD) != -1;
    for (int fd = 3; fd < 1024; ++fd)
      if (fd != b && ::fcntl(fd, F_GETFD) != -1) ok = false;
    ::_exit(ok ? 0 : 11);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  BOOST_TEST(WIFEXITED(status));
  BOOST_TEST(WEXITSTATUS(status) == 0);
}

BOOST_AUTO_TEST_CASE(sync_messages_cross_a_seqpacket_pair_whole) {
  int fds[2];
  BOOST_REQUIRE(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) == 0);
  launch::SyncMessage message;
  message.kind = launch::SyncKind::ids_mapped;
  BOOST_TEST(launch::send_sync(fds[0], message));
  BOOST_TEST(launch::receive_sync(fds[1], launch::SyncKind::ids_mapped));
  message.kind = launch::SyncKind::network_ready;
  BOOST_TEST(launch::send_sync(fds[0], message));
  // The wrong sync point is a protocol error, not silently accepted.
  BOOST_TEST(!launch::receive_sync(fds[1], launch::SyncKind::ids_mapped));
  BOOST_TEST(errno == EPROTO);
  ::close(fds[0]);
  BOOST_TEST(!launch::receive_sync(fds[1], launch::SyncKind::network_ready));
  BOOST_TEST(errno == EPIPE);
  ::close(fds[1]);
}

BOOST_AUTO_TEST_CASE(argv_area_covers_contiguous_argv_and_environ) {
  char block[] = "tierbox\0run\0--\0SECRET=1\0HOME=/root\0";
  char* argv[] = {block, block + 8, block + 12, nullptr};
  char* envp[] = {block + 15, block + 24, nullptr};
  auto area = find_argv_area(3, argv, envp);
  BOOST_TEST(area.start == block);
  BOOST_TEST(area.size == sizeof block - 1);
  stages::set_process_title(area.start, area.size, "tierbox-init");
  BOOST_TEST(std::string(block) == "tierbox-init");
  BOOST_TEST(std::memchr(block + 13, 'S', sizeof block - 14) == nullptr);
}

BOOST_AUTO_TEST_CASE(sys_error_names_call_arguments_and_errno) {
  SysError error(EPERM, "mount(" + quote("/ws") + " -> " + quote("/sb/ws") + ", MS_BIND|MS_REC)");
  BOOST_TEST(std::string(error.what()) == "mount(\"/ws\" -> \"/sb/ws\", MS_BIND|MS_REC): EPERM (Operation not permitted)");
  BOOST_TEST(error.exit_status() == 125);
  BOOST_TEST(describe_flags(0x5, {{0x1, "A"}, {0x4, "C"}}) == "A|C");
  BOOST_TEST(describe_flags(0x18, {{0x8, "D"}}) == "D|0x10");
  BOOST_TEST(quote("a\"b\n") == "\"a\\\"b\\x0a\"");
}

// The runner ends its supervision on init's report and then waits for init's
// exit without a deadline; so a report must never leave a process running:
// a stand-in "init" that reports and then lingers is killed at once.
BOOST_AUTO_TEST_CASE(a_report_ends_supervision_and_an_init_that_lingers_after_it_is_killed) {
  int status_pipe[2];
  BOOST_REQUIRE(::pipe2(status_pipe, O_CLOEXEC) == 0);
  const pid_t child = ::fork();
  BOOST_REQUIRE(child >= 0);
  if (child == 0) {
    launch::TaskExit exit{W_EXITCODE(3, 0), 1, 1500, 250};
    if (::write(status_pipe[1], &exit, sizeof exit) != static_cast<ssize_t>(sizeof exit)) ::_exit(1);
    ::sleep(60);
    ::_exit(0);
  }
  ::close(status_pipe[1]);
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, child, 0));
  BOOST_REQUIRE(pidfd >= 0);
  launch::SignalRelay relay;
  auto result = launch::supervise(pidfd, &relay, status_pipe[0], std::chrono::steady_clock::now() + std::chrono::seconds(60),
                                  [] {});
  BOOST_TEST(!result.init_reaped);
  BOOST_REQUIRE(result.task_exit.has_value());
  BOOST_TEST(WEXITSTATUS(result.task_exit->status) == 3);
  BOOST_TEST(result.cpu_user_us == 1500u);
  BOOST_TEST(result.cpu_system_us == 250u);
  struct pollfd exited {pidfd, POLLIN, 0};
  const bool gone = ::poll(&exited, 1, 5000) == 1;
  BOOST_TEST(gone, "the stand-in init still runs 5 s after its report");
  if (!gone) ::kill(child, SIGKILL);
  launch::reap_init(pidfd, result);
  BOOST_TEST(result.init_reaped);
  BOOST_TEST(WIFSIGNALED(result.init_status));
  ::close(pidfd);
  ::close(status_pipe[0]);
}

// Without a report (init killed, say by the wall-clock limit), supervision
// lasts until init is gone and reaps it.
BOOST_AUTO_TEST_CASE(without_a_report_supervision_reaps_init) {
  int status_pipe[2];
  BOOST_REQUIRE(::pipe2(status_pipe, O_CLOEXEC) == 0);
  const pid_t child = ::fork();
  BOOST_REQUIRE(child >= 0);
  if (child == 0) ::_exit(9);
  ::close(status_pipe[1]);
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, child, 0));
  BOOST_REQUIRE(pidfd >= 0);
  launch::SignalRelay relay;
  auto result = launch::supervise(pidfd, &relay, status_pipe[0], std::chrono::steady_clock::now() + std::chrono::seconds(60),
                                  [] {});
  BOOST_TEST(result.init_reaped);
  BOOST_TEST(!result.task_exit.has_value());
  BOOST_TEST(WEXITSTATUS(result.init_status) == 9);
  ::close(pidfd);
  ::close(status_pipe[0]);
}

BOOST_AUTO_TEST_SUITE_END()
