// tierbox daemon: what a caller's task gets of the caller's fds besides
// stdio: fds passed on purpose (--pass-fd, by SCM_RIGHTS, at the caller's
// numbers), and a terminal (window size, SIGWINCH, and still no TIOCSTI).
// Callers are real unprivileged users made for the test; every refusal has
// its control.
#include <boost/test/unit_test.hpp>

#include <pty.h>
#include <sys/ioctl.h>
#include <termios.h>

#include "integration/caller_terminal.h"
#include "integration/daemon_fixture.h"

using namespace tierbox::testing;
using nlohmann::json;

namespace {

// fd moved to 100 or above: SpawnOptions::inherit_fds dup2s them one after
// the other, and a source at another's target number would be overwritten.
int out_of_the_way(int fd) {
  const int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, 100);
  BOOST_REQUIRE(moved >= 100);
  ::close(fd);
  return moved;
}

// A pipe holding text, its write end closed: the read end is what is passed.
int pipe_holding(const std::string& text) {
  int ends[2];
  BOOST_REQUIRE(::pipe2(ends, O_CLOEXEC) == 0);
  BOOST_REQUIRE(::write(ends[1], text.data(), text.size()) == static_cast<ssize_t>(text.size()));
  ::close(ends[1]);
  return out_of_the_way(ends[0]);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(daemon_io)

// The daemon's own fd numbers are shared by its sessions (3 and 4 are its
// socket and log there): the caller's fds still arrive at the numbers it
// named, and nothing of the daemon's at any other.
BOOST_AUTO_TEST_CASE(a_caller_passes_pipes_at_the_fd_numbers_it_names) {
  DaemonUsers users;
  Daemon daemon(users.group);
  daemon.start();
  const int three = pipe_holding("through-fd-3\n");
  const int nine = pipe_holding("through-fd-9\n");
  SpawnOptions options;
  options.inherit_fds = {{three, 3}, {nine, 9}};
  const auto ran = daemon.tierbox_as(users.alice, {"run", "--tier", "dmn-pass", "--pass-fd", "3", "--pass-fd", "9", "--",
                                                   "/bin/sh", "-c", "cat <&3; cat <&9; exec 3<&- 9<&-; ls /proc/self/fd"},
                                     options);
  BOOST_TEST(ran.status == 0, ran.err);
  // ls's own directory fd takes 3 once both are closed: nothing else is open.
  BOOST_TEST(ran.out == "through-fd-3\nthrough-fd-9\n0\n1\n2\n3\n", ran.out);
  const auto request = last_of(daemon.records(), "request");
  BOOST_TEST(request["user"]["uid"].get<uid_t>() == DaemonUsers::uid(users.alice));

  // Refused: a tier that allows no passed fds (untrusted: pass_fds 0); the
  // run above is the control.
  const auto untrusted = daemon.tierbox_as(users.alice, {"run", "--tier", "untrusted", "--pass-fd", "3", "--", "/bin/true"},
                                           options);
  BOOST_TEST(untrusted.status == 126, untrusted.err);
  BOOST_TEST(untrusted.err.find("allows passing 0 file descriptors (pass_fds)") != std::string::npos, untrusted.err);
  const auto refused = last_of(daemon.records(), "profile_refused");
  BOOST_TEST(refused.value("reason", "").find("--pass-fd") != std::string::npos, refused.dump());
  BOOST_TEST(refused["user"]["uid"].get<uid_t>() == DaemonUsers::uid(users.alice));
  ::close(three);
  ::close(nine);
}

BOOST_AUTO_TEST_CASE(a_directory_fd_or_one_the_caller_does_not_have_is_refused) {
  DaemonUsers users;
  Daemon daemon(users.group);
  daemon.start();
  const int directory = out_of_the_way(::open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  const int pipe = pipe_holding("control\n");
  SpawnOptions options;
  options.inherit_fds = {{directory, 7}, {pipe, 8}};
  // A directory fd leads out of the sandbox's root (CVE-2024-21626): the
  // daemon checks the fd it received, not its own fd of that number.
  const auto refused = daemon.tierbox_as(users.alice, {"run", "--tier", "dmn-pass", "--pass-fd", "7", "--", "/bin/true"},
                                         options);
  BOOST_TEST(refused.status == 126, refused.err);
  BOOST_TEST(refused.err.find("directory (or O_PATH) fd") != std::string::npos, refused.err);
  // An fd the caller does not have: one line from the client, nothing sent.
  const auto records_before = daemon.records().size();
  const auto missing = daemon.tierbox_as(users.alice, {"run", "--tier", "dmn-pass", "--pass-fd", "9", "--", "/bin/true"},
                                         options);
  BOOST_TEST(missing.status == 125, missing.err);
  BOOST_TEST(line_count(missing.err) == 1, missing.err);
  BOOST_TEST(missing.err.find("--pass-fd 9: not an open file descriptor of the caller") != std::string::npos, missing.err);
  BOOST_TEST(daemon.records().size() == records_before);
  // Control: the pipe at 8 passes.
  const auto passed = daemon.tierbox_as(users.alice, {"run", "--tier", "dmn-pass", "--pass-fd", "8", "--", "/bin/sh", "-c",
                                                      "cat <&8"},
                                        options);
  BOOST_TEST(passed.status == 0, passed.err);
  BOOST_TEST(passed.out == "control\n");
  ::close(directory);
  ::close(pipe);
}

// The caller's terminal as the task's stdio keeps working: the task reads the
// window size from it and what the caller types; and since the caller's
// client relays SIGWINCH and SIGINT (the kernel sends them to the terminal's
// foreground group, the client's), the task learns of a resize and gets a
// Ctrl-C, although it is in a session of its own (no controlling terminal).
BOOST_AUTO_TEST_CASE(a_terminal_keeps_working_window_size_resize_typing_and_ctrl_c) {
  DaemonUsers users;
  Daemon daemon(users.group);
  daemon.start();
  CallerTerminal terminal(daemon, users.alice,
                          {kTierbox, "run", "--", "/bin/sh", "-c",
                           "echo \"size $(stty size)\"; trap 'echo \"resized $(stty size)\"' WINCH; "
                           "trap 'echo interrupted; exit 3' INT; echo ready; read line; echo \"got $line\"; "
                           "while :; do sleep 0.1; done"},
                          33, 101);
  BOOST_REQUIRE_MESSAGE(terminal.wait_for("ready"), terminal.output());
  BOOST_TEST(terminal.output().find("size 33 101") != std::string::npos, terminal.output());
  terminal.type("typed by the caller\n");
  BOOST_TEST(terminal.wait_for("got typed by the caller"), terminal.output());
  terminal.resize(40, 120);
  BOOST_TEST(terminal.wait_for("resized 40 120"), terminal.output());
  terminal.type("\x03");  // Ctrl-C: the line discipline's SIGINT
  BOOST_TEST(terminal.wait_for("interrupted"), terminal.output());
  BOOST_TEST(terminal.wait() == 3, terminal.output());  // the task's own status: its trap chose it
}

// TIOCSTI (typing into the caller's terminal) stays refused through the
// daemon: the task's session has no controlling terminal, and seccomp
// refuses the request as well.
BOOST_AUTO_TEST_CASE(tiocsti_cannot_type_into_the_callers_terminal_through_the_daemon) {
  DaemonUsers users;
  Daemon daemon(users.group);
  daemon.start();
  Workspace workspace;
  // Alice's own: a caller's workspace must be its own (it is id-mapped to its owner).
  must({"/bin/chown", users.alice + ":users", workspace.str()});
  // Control: the caller itself, outside a sandbox, on this host.
  CallerTerminal outside(daemon, users.alice, {kProbe, "tiocsti"}, 24, 80);
  BOOST_TEST(outside.wait() == 0, outside.output());
  const auto outside_report = json::parse(outside.output().substr(outside.output().find('{')));
  CallerTerminal inside(daemon, users.alice, {kTierbox, "run", "--workspace", workspace.str(), "--", "./probe", "tiocsti"},
                        24, 80);
  BOOST_TEST(inside.wait() == 0, inside.output());
  const auto report = without_landlock_warnings(inside.output());
  const auto inside_report = json::parse(report.substr(report.find('{')));
  BOOST_TEST(inside_report["isatty"] == true);
  BOOST_TEST(inside_report["tiocsti"] != "ok", report);
  if (outside_report["tiocsti"] != "ok")
    BOOST_TEST_MESSAGE("note: this host refuses TIOCSTI everywhere (" << outside_report["tiocsti"] << "); the control is moot");
}

BOOST_AUTO_TEST_SUITE_END()
