// tierbox daemon: a rule requiring `confirm` asks the caller at its own
// controlling terminal, the fd its client passed as "tty" (docs/daemon.md,
// "The terminal"): the same question, answer rules, timeout and audit
// decision as the direct runner's, stdin never read for the answer. A "tty"
// fd that is not the caller's controlling terminal (another pty, a pty's
// master, a pipe, /dev/null) is refused before anything is written to it.
// Callers are real unprivileged users made for the test; every refusal has
// its control.
#include <boost/test/unit_test.hpp>

#include <sys/wait.h>

#include "integration/caller_terminal.h"
#include "integration/daemon_fixture.h"

using namespace tierbox::testing;
using nlohmann::json;

namespace {

const std::string kQuestion = "tierbox: run this task? [y/N]";

// The first decision record after records_before, once one is in the log
// (up to 30 s); the test stops if none came.
json wait_for_decision(const Daemon& daemon, std::size_t records_before) {
  for (int i = 0; i < 300; ++i) {
    const auto records = daemon.records();
    for (std::size_t j = records_before; j < records.size(); ++j)
      if (records[j].value("event", "") == "decision") return records[j];
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  BOOST_TEST_REQUIRE(false, "no decision record came");
  return json();
}

std::vector<std::string> run_confirm(const std::string& tier, const std::string& word) {
  return {kTierbox, "run", "--tier", tier, "--", "/bin/echo", word};
}

// Everything readable on fd now (it is made non-blocking): what was written
// to the other end, "" when nothing was.
std::string readable_now(int fd) {
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  std::string text;
  char buffer[4096];
  for (ssize_t n; (n = ::read(fd, buffer, sizeof buffer)) > 0;) text.append(buffer, static_cast<std::size_t>(n));
  return text;
}

struct Pty {
  int master = -1, slave = -1;
  Pty() {
    BOOST_REQUIRE(::openpty(&master, &slave, nullptr, nullptr, nullptr) == 0);
    ::fcntl(master, F_SETFD, FD_CLOEXEC);
    ::fcntl(slave, F_SETFD, FD_CLOEXEC);
  }
  ~Pty() {
    ::close(master);
    ::close(slave);
  }
};

// A hostile client, speaking the protocol itself: in a child of the test,
// in a new session (whose controlling terminal is controlling, when it is
// >= 0), as uid/gid, it sends a dmn-confirm run of /bin/echo with `passed`
// as its "tty" fd and reads the daemon's replies to the end. reply() is the
// last one.
class RawTtyClient {
 public:
  RawTtyClient(const Daemon& daemon, uid_t uid, gid_t gid, int passed, int controlling) {
    int out[2];
    BOOST_REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
    pid_ = ::fork();
    BOOST_REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      if (::setsid() < 0) ::_exit(2);
      if (controlling >= 0 && ::ioctl(controlling, TIOCSCTTY, 0) != 0) ::_exit(3);
      if (::setgroups(0, nullptr) != 0 || ::setresgid(gid, gid, gid) != 0 || ::setresuid(uid, uid, uid) != 0) ::_exit(4);
      const std::string body =
          R"({"tierbox": 1, "type": "run", "tier": "dmn-confirm", "argv": ["/bin/echo", "raw-ran"], "fds": ["tty"]})";
      std::string replies;
      if (const int failed = exchange_with_fd(daemon.socket(), body, passed, replies)) ::_exit(4 + failed);
      // The last frame.
      std::string last;
      for (std::size_t at = 0; at + 4 <= replies.size();) {
        const auto* bytes = reinterpret_cast<const unsigned char*>(replies.data() + at);
        const std::size_t length = (std::size_t{bytes[0]} << 24) | (bytes[1] << 16) | (bytes[2] << 8) | bytes[3];
        last = replies.substr(at + 4, length);
        at += 4 + length;
      }
      if (last.empty()) last = "{}";
      (void)!::write(out[1], last.data(), last.size());
      ::_exit(0);
    }
    ::close(out[1]);
    out_ = out[0];
  }
  ~RawTtyClient() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    ::close(out_);
  }
  json reply() {
    const auto text = read_until_eof(out_);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    BOOST_REQUIRE_MESSAGE(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the client child failed: " + std::to_string(status));
    return json::parse(text);
  }

 private:
  pid_t pid_ = -1;
  int out_ = -1;
};

// Reads master until text came (or 20 s passed); what was read.
std::string read_until(int master, const std::string& text) {
  std::string output;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (output.find(text) == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    pollfd ready{master, POLLIN, 0};
    if (::poll(&ready, 1, 200) <= 0) continue;
    char buffer[4096];
    const ssize_t n = ::read(master, buffer, sizeof buffer);
    if (n <= 0) break;
    output.append(buffer, static_cast<std::size_t>(n));
  }
  return output;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(daemon_confirm)

// The Python client (standard library only, docs/daemon.md) passes its
// terminal as the "tty" role too: asked there, `y` runs; with no terminal
// (setsid) the rule is refused, as for tierbox's own client.
BOOST_AUTO_TEST_CASE(the_python_client_confirms_at_its_terminal_too) {
  DaemonUsers users;
  Daemon daemon(users.group);
  daemon.start();
  const std::vector<std::string> python = {"/usr/bin/python3", std::string(kSourceDir) + "/tools/tierbox-client.py",
                                           "--tier", "dmn-confirm", "--", "/bin/echo", "python-ran"};
  {
    const auto before = daemon.records().size();
    CallerTerminal terminal(daemon, users.alice, python, 24, 80);
    BOOST_REQUIRE_MESSAGE(terminal.wait_for(kQuestion), terminal.output());
    terminal.type("y\n");
    BOOST_TEST(terminal.wait() == 0, terminal.output());
    BOOST_TEST(terminal.output().find("python-ran\r\n") != std::string::npos, terminal.output());
    const auto decision = wait_for_decision(daemon, before);
    BOOST_TEST(decision["decision"]["how"] == "confirm", decision.dump());
    BOOST_TEST(decision["decision"]["by"][0]["uid"].get<uid_t>() == DaemonUsers::uid(users.alice), decision.dump());
  }
  std::vector<std::string> detached = {"/usr/bin/setsid", "--wait"};
  detached.insert(detached.end(), python.begin(), python.end());
  const auto refused = daemon.as(users.alice, detached);
  BOOST_TEST(refused.status == 126, refused.out + refused.err);
  BOOST_TEST(refused.out.find("python-ran") == std::string::npos, refused.out);
}

BOOST_AUTO_TEST_CASE(the_caller_confirms_at_its_own_terminal_yes_runs_no_is_denied) {
  DaemonUsers users;
  Daemon daemon(users.group);
  daemon.start();
  const auto alice = DaemonUsers::uid(users.alice);
  {
    const auto before = daemon.records().size();
    CallerTerminal terminal(daemon, users.alice, run_confirm("dmn-confirm", "confirmed-ran"), 24, 80);
    BOOST_REQUIRE_MESSAGE(terminal.wait_for(kQuestion), terminal.output());
    // The plan summary the direct runner shows, on the caller's terminal.
    BOOST_TEST(terminal.output().find("command: \"/bin/echo\" \"confirmed-ran\"") != std::string::npos, terminal.output());
    BOOST_TEST(terminal.output().find("rule 'confirm'") != std::string::npos, terminal.output());
    BOOST_TEST(terminal.output().find("confirmed-ran\r\n") == std::string::npos, terminal.output());
    terminal.type("y\n");
    BOOST_TEST(terminal.wait() == 0, terminal.output());
    BOOST_TEST(terminal.output().find("confirmed-ran\r\n") != std::string::npos, terminal.output());
    const auto decision = wait_for_decision(daemon, before);
    BOOST_TEST(decision["outcome"] == "allowed", decision.dump());
    BOOST_TEST(decision["decision"]["how"] == "confirm", decision.dump());
    BOOST_TEST(decision["decision"]["by"][0]["uid"].get<uid_t>() == alice, decision.dump());
    BOOST_TEST(decision["user"]["uid"].get<uid_t>() == alice, decision.dump());
  }
  {
    const auto before = daemon.records().size();
    CallerTerminal terminal(daemon, users.alice, run_confirm("dmn-confirm", "denied-ran"), 24, 80);
    BOOST_REQUIRE_MESSAGE(terminal.wait_for(kQuestion), terminal.output());
    terminal.type("n\n");
    // The direct runner's status for a denial, and its line.
    BOOST_TEST(terminal.wait() == 126, terminal.output());
    BOOST_TEST(terminal.output().find("refused: rule 'confirm'") != std::string::npos, terminal.output());
    BOOST_TEST(terminal.output().find("not confirmed at the terminal") != std::string::npos, terminal.output());
    BOOST_TEST(terminal.output().find("denied-ran\r\n") == std::string::npos, terminal.output());
    const auto decision = wait_for_decision(daemon, before);
    BOOST_TEST(decision["outcome"] == "denied", decision.dump());
    BOOST_TEST(decision["decision"]["how"] == "confirm", decision.dump());
    BOOST_TEST(decision["decision"]["by"][0]["uid"].get<uid_t>() == alice, decision.dump());
  }
}

BOOST_AUTO_TEST_CASE(no_answer_within_the_rules_timeout_is_a_denial) {
  DaemonUsers users;
  Daemon daemon(users.group);
  daemon.start();
  const auto before = daemon.records().size();
  CallerTerminal terminal(daemon, users.alice, run_confirm("dmn-confirm-quick", "unanswered-ran"), 24, 80);
  BOOST_REQUIRE_MESSAGE(terminal.wait_for(kQuestion), terminal.output());
  BOOST_TEST(terminal.wait() == 126, terminal.output());
  BOOST_TEST(terminal.output().find("no answer at the terminal within 2s") != std::string::npos, terminal.output());
  BOOST_TEST(terminal.output().find("unanswered-ran\r\n") == std::string::npos, terminal.output());
  const auto decision = wait_for_decision(daemon, before);
  BOOST_TEST(decision["outcome"] == "denied", decision.dump());
  BOOST_TEST(decision["decision"]["how"] == "confirm", decision.dump());
}

BOOST_AUTO_TEST_CASE(stdin_never_answers_the_question) {
  DaemonUsers users;
  Daemon daemon(users.group);
  daemon.start();
  int ends[2];
  BOOST_REQUIRE(::pipe2(ends, O_CLOEXEC) == 0);
  BOOST_REQUIRE(::write(ends[1], "y\ny\n", 4) == 4);
  ::close(ends[1]);
  CallerTerminalOptions options;
  options.stdin_fd = ends[0];
  CallerTerminal terminal(daemon, users.alice, run_confirm("dmn-confirm", "stdin-ran"), options);
  ::close(ends[0]);
  BOOST_REQUIRE_MESSAGE(terminal.wait_for(kQuestion), terminal.output());
  terminal.type("n\n");
  BOOST_TEST(terminal.wait() == 126, terminal.output());
  BOOST_TEST(terminal.output().find("not confirmed at the terminal") != std::string::npos, terminal.output());
  BOOST_TEST(terminal.output().find("stdin-ran\r\n") == std::string::npos, terminal.output());
}

BOOST_AUTO_TEST_CASE(a_caller_without_a_controlling_terminal_is_refused_and_recorded) {
  DaemonUsers users;
  Daemon daemon(users.group);
  daemon.start();
  const auto before = daemon.records().size();
  SpawnOptions piped;
  piped.stdin_data = "y\ny\n";
  const auto detached = daemon.as(users.alice, {"/usr/bin/setsid", "-w", kTierbox, "run", "--tier", "dmn-confirm", "--",
                                                "/bin/echo", "detached-ran"}, piped);
  BOOST_TEST(detached.status == 126, detached.err);
  BOOST_TEST(line_count(detached.err) == 1, detached.err);
  BOOST_TEST(detached.err.find("no terminal to confirm at (the answer is read from /dev/tty, never stdin; for a "
                               "non-interactive run use a signed grant: --grant FILE)") != std::string::npos,
             detached.err);
  BOOST_TEST(detached.out.empty(), detached.out);
  const auto decision = wait_for_decision(daemon, before);
  BOOST_TEST(decision["outcome"] == "denied", decision.dump());
  BOOST_TEST(decision["decision"]["how"] == "confirm", decision.dump());
  BOOST_TEST(decision["user"]["uid"].get<uid_t>() == DaemonUsers::uid(users.alice), decision.dump());
}

BOOST_AUTO_TEST_CASE(a_tty_fd_that_is_not_the_callers_terminal_is_refused_and_never_written_to) {
  DaemonUsers users;
  Daemon daemon(users.group);
  daemon.start();
  const auto alice = DaemonUsers::uid(users.alice);
  const auto gid = *tierbox::group_id("users");
  const auto refused_naming_tty = [&](const json& reply, const std::string& why) {
    BOOST_TEST(reply.value("type", "") == "error", reply.dump());
    BOOST_TEST(reply.value("code", "") == "refused", reply.dump());
    BOOST_TEST(reply.value("message", "").find("\"tty\": " + why) != std::string::npos, reply.dump());
    BOOST_TEST(reply.value("message", "").find('\n') == std::string::npos, reply.dump());
  };
  const auto refusals_recorded = [&] {
    int count = 0;
    for (const auto& record : daemon.records())
      if (record.value("event", "") == "daemon" && record.dump().find("\\\"tty\\\"") != std::string::npos) ++count;
    return count;
  };
  // A pty that is no one's controlling terminal, from a caller without one.
  {
    Pty other;
    RawTtyClient client(daemon, alice, gid, other.slave, -1);
    refused_naming_tty(client.reply(), "the caller has no controlling terminal");
    BOOST_TEST(readable_now(other.master).empty());
  }
  // Another pty than the caller's own controlling terminal.
  {
    Pty own, other;
    RawTtyClient client(daemon, alice, gid, other.slave, own.slave);
    refused_naming_tty(client.reply(), "the fd is terminal ");
    BOOST_TEST(readable_now(other.master).empty());
    BOOST_TEST(readable_now(own.master).empty());
  }
  // The master of its own terminal: a terminal too (TCGETS), not the one.
  {
    Pty own;
    RawTtyClient client(daemon, alice, gid, own.master, own.slave);
    refused_naming_tty(client.reply(), "the fd is a pty's master side");
    BOOST_TEST(readable_now(own.master).empty());
  }
  // A pipe (opened for reading and writing, through /proc).
  {
    Pty own;
    int ends[2];
    BOOST_REQUIRE(::pipe2(ends, O_CLOEXEC) == 0);
    const int both = ::open(("/proc/self/fd/" + std::to_string(ends[1])).c_str(), O_RDWR | O_CLOEXEC);
    BOOST_REQUIRE(both >= 0);
    RawTtyClient client(daemon, alice, gid, both, own.slave);
    ::close(both);
    ::close(ends[1]);
    refused_naming_tty(client.reply(), "the fd is not a terminal (not a character device)");
    BOOST_TEST(readable_now(ends[0]).empty());
    BOOST_TEST(readable_now(own.master).empty());
    ::close(ends[0]);
  }
  // /dev/null: a character device, not a terminal.
  {
    Pty own;
    const int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    RawTtyClient client(daemon, alice, gid, null, own.slave);
    ::close(null);
    refused_naming_tty(client.reply(), "the fd is not a terminal (TCGETS");
    BOOST_TEST(readable_now(own.master).empty());
  }
  BOOST_TEST(refusals_recorded() == 5);
  // Control: the same raw client passing its own controlling terminal is
  // asked there, and its "n" denies.
  {
    Pty own;
    RawTtyClient client(daemon, alice, gid, own.slave, own.slave);
    const auto shown = read_until(own.master, kQuestion);
    BOOST_TEST(shown.find(kQuestion) != std::string::npos, shown);
    BOOST_REQUIRE(::write(own.master, "n\n", 2) == 2);
    const auto reply = client.reply();
    BOOST_TEST(reply.value("type", "") == "exit", reply.dump());
    BOOST_TEST(reply.value("exit_status", 0) == 126, reply.dump());
    BOOST_TEST(reply.value("error", "").find("not confirmed at the terminal") != std::string::npos, reply.dump());
  }
}

BOOST_AUTO_TEST_CASE(a_client_that_goes_away_or_cancels_while_asked_is_denied_and_recorded) {
  DaemonUsers users;
  Daemon daemon(users.group);
  daemon.start();
  {
    const auto before = daemon.records().size();
    CallerTerminal terminal(daemon, users.alice, run_confirm("dmn-confirm", "killed-ran"), 24, 80);
    BOOST_REQUIRE_MESSAGE(terminal.wait_for(kQuestion), terminal.output());
    terminal.kill_caller();
    const auto decision = wait_for_decision(daemon, before);
    BOOST_TEST(decision["outcome"] == "denied", decision.dump());
    BOOST_TEST(decision["decision"]["how"] == "confirm", decision.dump());
    BOOST_TEST(decision.dump().find("cancelled while asked to confirm") != std::string::npos, decision.dump());
  }
  {
    // Ctrl-C at the question: the client relays SIGINT; the run is cancelled.
    const auto before = daemon.records().size();
    CallerTerminal terminal(daemon, users.alice, run_confirm("dmn-confirm", "interrupted-ran"), 24, 80);
    BOOST_REQUIRE_MESSAGE(terminal.wait_for(kQuestion), terminal.output());
    terminal.type("\x03");
    BOOST_TEST(terminal.wait() == 126, terminal.output());
    BOOST_TEST(terminal.output().find("cancelled while asked to confirm") != std::string::npos, terminal.output());
    const auto decision = wait_for_decision(daemon, before);
    BOOST_TEST(decision["outcome"] == "denied", decision.dump());
  }
}

BOOST_AUTO_TEST_CASE(a_background_job_is_not_answered_by_what_the_foreground_types) {
  DaemonUsers users;
  Daemon daemon(users.group);
  daemon.start();
  // The job is not in the terminal's foreground group: the daemon leaves
  // the terminal's input alone (the shell's), as the kernel would stop a
  // direct runner reading it; the rule's timeout denies.
  CallerTerminalOptions options;
  options.background = true;
  CallerTerminal terminal(daemon, users.alice, run_confirm("dmn-confirm-quick", "background-ran"), options);
  BOOST_REQUIRE_MESSAGE(terminal.wait_for(kQuestion), terminal.output());
  terminal.type("y\n");
  BOOST_TEST(terminal.wait() == 126, terminal.output());
  BOOST_TEST(terminal.output().find("no answer at the terminal within 2s") != std::string::npos, terminal.output());
  BOOST_TEST(terminal.output().find("background-ran\r\n") == std::string::npos, terminal.output());
}

BOOST_AUTO_TEST_SUITE_END()
