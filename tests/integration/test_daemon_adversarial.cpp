// tierbox daemon against a local user who is not root and means harm: what
// the caller's fds can make the daemon expose, a protocol spoken badly on
// purpose (a request trickled in, more fds than a message may carry), the
// limits on waiting connections, whose a connection handed to another
// process is, and a run's control socket held full by someone else. Each
// attempt that must fail has its proof and its control that succeeds.
// Two of them were holes before this file (docs/daemon.md): a workspace the
// caller may read or write but does not own (the task got the owner's
// rights through the id-mapped mount), and output under limits.output into
// a pipe whose reader had gone (SIGPIPE ended the daemon).
#include <boost/test/unit_test.hpp>

#include <sys/syscall.h>

#include <utility>

#include "common/fd_passing.h"
#include "common/unique_fd.h"
#include "daemon/protocol.h"
#include "integration/daemon_fixture.h"

using namespace tierbox::testing;
using nlohmann::json;
using tierbox::UniqueFd;
using namespace std::chrono_literals;

namespace {

constexpr auto npos = std::string::npos;

gid_t users_gid() { return *tierbox::group_id("users"); }

// A tier of the test's, known to the daemon's approval matrix.
void add_tier(const Daemon& daemon, const std::string& name, const json& tier) {
  const fs::path config = daemon.config();
  std::ofstream(config / "tiers" / (name + ".json")) << tier.dump();
  auto matrix = json::parse(std::ifstream(config / "approvals.json"));
  matrix["tiers"].push_back(name);
  std::ofstream(config / "approvals.json") << matrix.dump();
}

// A connection to the daemon made by uid:gid: a child of the test connects,
// hands the fd back (SCM_RIGHTS) and stays, so that the connecting process
// lives as long as the connection is used (the daemon watches its pidfd:
// a run whose connector has exited is stopped). The kernel's SO_PEERCRED
// stays the connector's, whoever sends on the connection.
class Connection {
 public:
  Connection(const std::string& socket_path, uid_t uid, gid_t gid) {
    int pair[2];
    BOOST_REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) == 0);
    connector_ = ::fork();
    if (connector_ == 0) {
      // Only its end of the pair: another copy of the test's end (its own,
      // or an earlier connection's inherited) would keep its read below
      // from ever seeing EOF.
      if (::dup2(pair[1], 3) != 3) ::_exit(5);
      ::syscall(SYS_close_range, 4U, ~0U, 0U);
      pair[1] = 3;
      if (::setgroups(0, nullptr) != 0 || ::setresgid(gid, gid, gid) != 0 || ::setresuid(uid, uid, uid) != 0) ::_exit(2);
      const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_un address{};
      address.sun_family = AF_UNIX;
      std::strncpy(address.sun_path, socket_path.c_str(), sizeof address.sun_path - 1);
      if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) ::_exit(3);
      if (tierbox::send_with_fds(pair[1], "c", 1, &fd, 1) != 1) ::_exit(4);
      ::close(fd);
      char byte;
      (void)!::read(pair[1], &byte, 1);  // until the test is done with it
      ::_exit(0);
    }
    ::close(pair[1]);
    hold_ = UniqueFd(pair[0]);
    char byte = 0;
    int fd = -1;
    std::size_t count = 0;
    const auto got = tierbox::receive_with_fds(hold_.get(), &byte, 1, &fd, 1, &count);
    BOOST_REQUIRE_MESSAGE(got == 1 && count == 1, "the connecting child failed");
    fd_ = UniqueFd(fd);
    timeval timeout{20, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  }
  Connection(Connection&& other) noexcept
      : fd_(std::move(other.fd_)), hold_(std::move(other.hold_)), connector_(std::exchange(other.connector_, -1)) {}
  Connection& operator=(Connection&&) = delete;
  ~Connection() {
    fd_.reset();
    hold_.reset();  // the connector exits
    if (connector_ > 0) ::waitpid(connector_, nullptr, 0);
  }
  [[nodiscard]] int get() const { return fd_.get(); }

 private:
  UniqueFd fd_;
  UniqueFd hold_;
  pid_t connector_ = -1;
};

Connection connect_as(const std::string& socket_path, uid_t uid, gid_t gid) { return Connection(socket_path, uid, gid); }

Connection connect_as_root(const std::string& socket_path) { return connect_as(socket_path, 0, 0); }

// Sends bytes with fds (none: plain); false when the daemon has gone away.
bool send_with(int socket, const std::string& bytes, const std::vector<int>& fds = {}) {
  return tierbox::send_with_fds(socket, bytes.data(), bytes.size(), fds.data(), fds.size()) ==
         static_cast<ssize_t>(bytes.size());
}

// The daemon's next frame, null on EOF or after the receive timeout.
json reply_of(int socket) {
  const auto read_exactly = [&](char* data, std::size_t size) {
    for (std::size_t done = 0; done < size;) {
      const ssize_t n = ::recv(socket, data + done, size - done, 0);
      if (n <= 0) return false;
      done += static_cast<std::size_t>(n);
    }
    return true;
  };
  unsigned char header[4];
  if (!read_exactly(reinterpret_cast<char*>(header), 4)) return json();
  std::string body((std::size_t{header[0]} << 24) | (header[1] << 16) | (header[2] << 8) | header[3], '\0');
  if (!read_exactly(body.data(), body.size())) return json();
  return json::parse(body);
}

std::size_t open_fds_of(pid_t pid) {
  std::size_t count = 0;
  std::error_code ec;
  for (auto it = fs::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec); !ec && it != fs::directory_iterator();
       it.increment(ec))
    ++count;
  return count;
}

// The daemon's threads serving a connection (daemon/server.cpp names them;
// a run's thread inherits the name).
std::size_t session_threads(pid_t pid) {
  std::size_t count = 0;
  std::error_code ec;
  for (auto it = fs::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    std::string name;
    std::getline(std::ifstream(it->path() / "comm"), name);
    count += name == "tbx-session";
  }
  return count;
}

// The daemon's open fds once no connection is being served: a session
// closes its fds as its thread ends, just after its reply, so a count taken
// at the reply may still hold them. The test stops if the sessions do not
// end within 20 s.
std::size_t idle_fds(pid_t pid) {
  BOOST_REQUIRE_MESSAGE(wait_until([&] { return session_threads(pid) == 0; }),
                        "the daemon still serves a connection 20 s after its last reply (threads named tbx-session)");
  return open_fds_of(pid);
}

struct DevNulls {
  std::vector<UniqueFd> held;
  explicit DevNulls(std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) held.emplace_back(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  }
  [[nodiscard]] std::vector<int> raw(std::size_t from = 0, std::size_t n = SIZE_MAX) const {
    std::vector<int> fds;
    for (std::size_t i = from; i < held.size() && fds.size() < n; ++i) fds.push_back(held[i].get());
    return fds;
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(daemon_adversarial)

// Was a hole: the workspace is mounted id-mapped to its owner, so a caller
// who may read (or write) someone else's directory got the task the
// owner's rights inside it: root's 0600 files read, root's file rewritten.
BOOST_AUTO_TEST_CASE(a_directory_the_caller_may_read_or_write_but_does_not_own_is_no_workspace_of_its) {
  DaemonUsers users;
  Daemon daemon(users.group);
  daemon.start();
  const uid_t alice = DaemonUsers::uid(users.alice);
  const uid_t bob = DaemonUsers::uid(users.bob);
  // Root's directory, readable by all, with a file and a directory only root may read.
  const auto roots = daemon.dir().path() / "roots-readable";
  fs::create_directories(roots / "private");
  std::ofstream(roots / "private" / "note") << "root-private-note\n";
  std::ofstream(roots / "f600") << "root-0600-file\n";
  ::chmod(roots.c_str(), 0755);
  ::chmod((roots / "private").c_str(), 0700);
  ::chmod((roots / "f600").c_str(), 0600);
  BOOST_TEST(daemon.as(users.alice, {"/bin/cat", (roots / "f600").string()}).status != 0);  // alice may not
  BOOST_TEST(daemon.as(users.alice, {"/bin/ls", roots.string()}).status == 0);              // but may list it
  const auto read = daemon.tierbox_as(users.alice, {"run", "--workspace", roots.string(), "--", "/bin/sh", "-c",
                                                    "cat f600 private/note"});
  BOOST_TEST(read.status == 126, read.err);
  BOOST_TEST(read.err.find("owned by uid 0, not by " + users.alice) != npos, read.err);
  BOOST_TEST(read.out.find("root-") == npos, read.out);

  // Root's sticky world-writable directory (a /tmp): alice may write into
  // it, not rewrite root's file in it.
  const auto sticky = daemon.dir().path() / "sticky";
  fs::create_directories(sticky);
  std::ofstream(sticky / "roots.txt") << "root's\n";
  ::chmod(sticky.c_str(), 01777);
  ::chmod((sticky / "roots.txt").c_str(), 0644);
  const auto write = daemon.tierbox_as(users.alice, {"run", "--tier", "workspace-write", "--workspace", sticky.string(),
                                                     "--", "/bin/sh", "-c", "echo changed > roots.txt"});
  BOOST_TEST(write.status == 126, write.err);
  BOOST_TEST(write.err.find("owned by uid 0") != npos, write.err);
  std::string content;
  std::getline(std::ifstream(sticky / "roots.txt"), content);
  BOOST_TEST(content == "root's");

  // Another user's home, 0755, with a private file.
  const auto bobs = daemon.dir().path() / "bob-home";
  fs::create_directories(bobs);
  std::ofstream(bobs / "diary") << "bob-diary\n";
  must({"/bin/chown", "-R", users.bob + ":users", bobs.string()});
  ::chmod(bobs.c_str(), 0755);
  ::chmod((bobs / "diary").c_str(), 0600);
  const auto snoop = daemon.tierbox_as(users.alice, {"run", "--workspace", bobs.string(), "--", "/bin/cat", "diary"});
  BOOST_TEST(snoop.status == 126, snoop.err);
  BOOST_TEST(snoop.err.find("owned by uid " + std::to_string(bob)) != npos, snoop.err);
  BOOST_TEST(snoop.out.find("bob-diary") == npos);
  // Control: bob's own run reads it (the owner's rights, as meant).
  const auto own = daemon.tierbox_as(users.bob, {"run", "--workspace", bobs.string(), "--", "/bin/cat", "diary"});
  BOOST_TEST(own.status == 0, own.err);
  BOOST_TEST(own.out == "bob-diary\n");

  // The root of the file system, through /proc/self/root (a raw client).
  const auto slash = run_with_workspace_fd(daemon, alice, users_gid(), "/proc/self/root", O_RDONLY | O_DIRECTORY);
  BOOST_TEST(slash.value("exit_status", -1) == 126, slash.dump());
  BOOST_TEST(slash.value("error", "").find("owned by uid 0") != npos, slash.dump());

  // Alice's own directory, of a group she is not in (root's): refused too,
  // the task would take that group inside it. Control: in her group, her
  // task reads her 0600 file.
  const auto mine = daemon.dir().path() / "alice-ws";
  fs::create_directories(mine);
  std::ofstream(mine / "mine.txt") << "alice-file\n";
  must({"/bin/chown", "-R", users.alice + ":root", mine.string()});
  ::chmod((mine / "mine.txt").c_str(), 0600);
  const auto foreign_group = daemon.tierbox_as(users.alice, {"run", "--workspace", mine.string(), "--", "/bin/cat", "mine.txt"});
  BOOST_TEST(foreign_group.status == 126, foreign_group.err);
  BOOST_TEST(foreign_group.err.find("its group is gid 0, which " + users.alice + " is not in") != npos, foreign_group.err);
  must({"/bin/chown", "-R", users.alice + ":users", mine.string()});
  const auto hers = daemon.tierbox_as(users.alice, {"run", "--workspace", mine.string(), "--", "/bin/cat", "mine.txt"});
  BOOST_TEST(hers.status == 0, hers.err);
  BOOST_TEST(hers.out == "alice-file\n");
  // Nothing of the refused ones started.
  int starts = 0;
  for (const auto& record : daemon.records()) starts += record.value("event", "") == "start";
  BOOST_TEST(starts == 2);
}

// Was a hole: with limits.output the daemon itself copies the task's output
// to the caller's fds, on a thread where SIGPIPE was not blocked; a caller
// whose pipe's reader had gone ended the daemon, and every user's runs.
BOOST_AUTO_TEST_CASE(output_under_limits_output_into_a_pipe_whose_reader_has_gone_does_not_stop_the_daemon) {
  DaemonUsers users;
  Daemon daemon(users.group);
  add_tier(daemon, "adv-output", {{"extends", "untrusted"}, {"limits", {{"output", "1M"}}}});
  // SIGPIPE as a shell leaves it (the test runner ignores it, which a child inherits).
  daemon.start({}, {"/usr/bin/env", "--default-signal=PIPE"});
  const auto piped = daemon.as(users.alice, {"/bin/sh", "-c", std::string(kTierbox) + " run --tier adv-output -- /usr/bin/yes | head -c 2"});
  BOOST_TEST(!piped.timed_out);
  BOOST_TEST(piped.out == "y\n", piped.err);
  // The task met the closed stream as without the relay: SIGPIPE.
  const auto end = last_of(daemon.records(), "end");
  BOOST_TEST(end["exit"]["signal"] == SIGPIPE, end.dump());
  // "waiting for approval" goes to the caller's stderr: a closed pipe there.
  int dead[2];
  BOOST_REQUIRE(::pipe2(dead, O_CLOEXEC) == 0);
  ::close(dead[0]);
  SpawnOptions dead_stderr;
  dead_stderr.inherit_fds = {{dead[1], 2}};
  auto waiting = std::async(std::launch::async, [&] {
    return daemon.tierbox_as(users.bob, {"run", "--tier", "dmn-approve", "--", "/bin/true"}, dead_stderr);
  });
  std::string id;
  const bool requested = wait_until([&] {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(daemon.dir().path() / "approvals", ec))
      if (entry.path().extension() == ".json") id = entry.path().stem().string();
    return !id.empty();
  }, 30s);
  BOOST_REQUIRE_MESSAGE(requested, "no approval request file in the approvals dir within 30 s");
  // No wait for the notice: the gate writes it (into the closed pipe) after
  // the request's file and before it reads any vote (approval/gate.cpp), so
  // the deny below is only seen once the notice met the closed pipe.
  const auto denied = daemon.tierbox_as(users.alice, {"deny", id, "--reason", "test", "--config-dir", daemon.config()});
  BOOST_TEST(denied.status == 0, denied.out + denied.err);
  BOOST_TEST(waiting.get().status == 126);
  ::close(dead[1]);
  // Control: the daemon serves on.
  const auto ran = daemon.tierbox_as(users.alice, {"run", "--tier", "adv-output", "--", "/bin/echo", "alive"});
  BOOST_TEST(ran.status == 0, ran.err);
  BOOST_TEST(ran.out == "alive\n");
}

// --request-timeout bounds the whole request, not each read: a client that
// sends a byte now and then keeps no connection (and no pending place).
BOOST_AUTO_TEST_CASE(a_request_sent_a_byte_at_a_time_gets_the_timeout_of_the_whole_request) {
  DaemonUsers users;
  Daemon daemon(users.group);
  daemon.start({"--request-timeout", "2"});
  const auto frame = RawClient::frame(R"({"tierbox": 1, "type": "run", "argv": ["/bin/echo", "trickled"]})");
  auto slow = connect_as(daemon.socket(), DaemonUsers::uid(users.alice), users_gid());
  const auto begun = std::chrono::steady_clock::now();
  for (char byte : frame) {  // 250 ms apart: each read of the daemon's gets its byte in time
    pollfd answered{slow.get(), POLLIN, 0};
    if (::poll(&answered, 1, 0) == 1 || !send_with(slow.get(), std::string(1, byte))) break;
    std::this_thread::sleep_for(250ms);
  }
  const auto reply = reply_of(slow.get());
  const auto waited = std::chrono::steady_clock::now() - begun;
  // A timeout per read would never have come: the whole frame (some 17 s of
  // bytes) would have been read and run. So the code is the proof; the
  // bound only keeps it near --request-timeout, with room for a loaded machine.
  BOOST_TEST(reply.value("code", "") == "timeout", reply.dump());
  BOOST_TEST(waited < 12s, std::chrono::duration_cast<std::chrono::milliseconds>(waited).count() << " ms");
  BOOST_TEST(last_of(daemon.records(), "start").is_null());
  // Control: the same request sent whole runs.
  auto whole = connect_as(daemon.socket(), DaemonUsers::uid(users.alice), users_gid());
  BOOST_REQUIRE(send_with(whole.get(), frame));
  BOOST_TEST(reply_of(whole.get()).value("exit_status", -1) == 0);
}

// More fds than a message may carry (kMaxMessageFds), fds split over a frame's reads,
// fds a message does not name, fds with a signal message mid-run: each is
// refused or dropped, and the daemon holds none of them afterwards.
BOOST_AUTO_TEST_CASE(fds_a_message_may_not_carry_are_refused_and_none_stay_open_in_the_daemon) {
  DaemonUsers users;
  Daemon daemon(users.group);
  daemon.start({"--pool-size", "0"});
  BOOST_REQUIRE(daemon.tierbox_as(users.alice, {"run", "--", "/bin/true"}).status == 0);  // what a first run opens for good
  const pid_t pid = daemon.pid();
  const std::size_t baseline = idle_fds(pid);
  const DevNulls nulls(200);
  const std::string too_many = "more than " + std::to_string(tierbox::daemon::kMaxMessageFds) + " fds";
  const std::string run = RawClient::frame(R"({"tierbox": 1, "type": "run", "argv": ["/bin/true"]})");
  const auto refused_with = [&](const std::vector<std::pair<std::string, std::vector<int>>>& parts) {
    auto connection = connect_as(daemon.socket(), DaemonUsers::uid(users.alice), users_gid());
    for (const auto& [bytes, fds] : parts) (void)send_with(connection.get(), bytes, fds);
    return reply_of(connection.get());
  };
  // 200 at once: the kernel hands over kMaxMessageFds + 1 (the daemon's
  // room), drops the rest (MSG_CTRUNC); the daemon closes those.
  auto reply = refused_with({{run, nulls.raw()}});
  BOOST_TEST(reply.value("code", "") == "malformed", reply.dump());
  BOOST_TEST(reply.value("message", "").find(too_many) != npos, reply.dump());
  BOOST_TEST(idle_fds(pid) == baseline);
  // 80 with the length, 80 with the body: each read within the room, the
  // message past it.
  reply = refused_with({{run.substr(0, 4), nulls.raw(0, 80)}, {run.substr(4), nulls.raw(80, 80)}});
  BOOST_TEST(reply.value("message", "").find(too_many) != npos, reply.dump());
  BOOST_TEST(idle_fds(pid) == baseline);
  // 3 fds the message does not name.
  reply = refused_with({{run, nulls.raw(0, 3)}});
  BOOST_TEST(reply.value("message", "").find("\"fds\" names 0 fds, 3 came") != npos, reply.dump());
  BOOST_TEST(idle_fds(pid) == baseline);
  // 50 with a signal message during a run: relayed, the fds dropped. The
  // run lasts until a second signal ends it, so the first one comes mid-run
  // however slow the machine.
  auto running = connect_as(daemon.socket(), DaemonUsers::uid(users.alice), users_gid());
  BOOST_REQUIRE(send_with(running.get(),
                          RawClient::frame(R"({"tierbox": 1, "type": "run", "argv": ["/bin/sleep", "60"], "fds": ["stdin", "stdout", "stderr"]})"),
                          nulls.raw(0, 3)));
  // Control: the count sees what the daemon holds (the run's stdio, its
  // sandbox), so a leak would show.
  BOOST_TEST(wait_until([&] { return open_fds_of(pid) >= baseline + 3; }),
             "the daemon never held the run's 3 stdio fds: " << open_fds_of(pid) << " fds, baseline " << baseline);
  BOOST_REQUIRE(send_with(running.get(), RawClient::frame(R"({"tierbox": 1, "type": "signal", "signal": 28})"), nulls.raw(0, 50)));
  // SIGWINCH leaves sleep running; SIGKILL, relayed like it, ends the run.
  BOOST_REQUIRE(send_with(running.get(), RawClient::frame(R"({"tierbox": 1, "type": "signal", "signal": 9})")));
  const auto ended = reply_of(running.get());
  BOOST_TEST(ended.contains("exit_status"), "no exit message after the relayed SIGKILL: " << ended.dump());
  BOOST_TEST(idle_fds(pid) == baseline);
}

// Connections that have not sent their request are limited per user and
// overall; a place is given back when its connection times out.
BOOST_AUTO_TEST_CASE(waiting_connections_are_limited_per_user_and_overall_and_freed_by_the_timeout) {
  DaemonUsers users;
  Daemon daemon(users.group);
  // The timeout long enough that no silent connection times out before the
  // refusals below, however loaded the machine.
  daemon.start({"--max-pending", "3", "--max-pending-per-user", "2", "--request-timeout", "8", "-v"});
  const uid_t alice = DaemonUsers::uid(users.alice);
  const uid_t bob = DaemonUsers::uid(users.bob);
  std::vector<Connection> silent;
  const auto wait_silently = [&](uid_t uid) {
    silent.push_back(connect_as(daemon.socket(), uid, users_gid()));
    // Its session has counted it: the daemon's -v line comes after the count.
    const auto admitted = "connection of uid " + std::to_string(uid) + " admitted";
    BOOST_REQUIRE_MESSAGE(!daemon.wait_for_log(admitted).empty(), "no daemon log line \"" << admitted << "\" within 30 s");
  };
  wait_silently(alice);
  wait_silently(alice);
  auto third = connect_as(daemon.socket(), alice, users_gid());
  const auto per_user = reply_of(third.get());
  BOOST_TEST(per_user.value("code", "") == "busy", per_user.dump());
  BOOST_TEST(per_user.value("message", "").find("max_pending_per_user 2") != npos, per_user.dump());
  wait_silently(bob);  // 3 in all
  auto overall = connect_as(daemon.socket(), bob, users_gid());
  const auto all = reply_of(overall.get());
  BOOST_TEST(all.value("code", "") == "busy", all.dump());
  BOOST_TEST(all.value("message", "").find("(max_pending)") != npos, all.dump());
  const auto refused = last_of(daemon.records(), "daemon");
  BOOST_TEST(refused.value("action", "") == "refused", refused.dump());
  BOOST_TEST(refused["user"]["uid"].get<uid_t>() == bob);
  // Control: once the silent ones timed out, alice is served again.
  for (const auto& connection : silent) BOOST_TEST(reply_of(connection.get()).value("code", "") == "timeout");
  const auto ran = daemon.tierbox_as(users.alice, {"run", "--", "/bin/echo", "served"});
  BOOST_TEST(ran.status == 0, ran.err);
  BOOST_TEST(ran.out == "served\n");
}

// SO_PEERCRED is fixed at connect(): a connection alice made and handed to
// root (SCM_RIGHTS) is still alice's. Root's authority does not come with
// the sender: root's own directory is refused as alice's workspace, and the
// run is recorded as hers. (The daemon also stops a run whose connecting
// client exits: integration.daemon_faults.)
BOOST_AUTO_TEST_CASE(a_connection_handed_to_another_process_is_still_its_connectors) {
  DaemonUsers users;
  Daemon daemon(users.group);
  daemon.start();
  const uid_t alice = DaemonUsers::uid(users.alice);
  const auto roots = daemon.dir().path() / "roots";
  fs::create_directories(roots);
  ::chmod(roots.c_str(), 0755);
  const UniqueFd workspace(::open(roots.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  const std::string with_workspace =
      RawClient::frame(R"({"tierbox": 1, "type": "run", "argv": ["/bin/true"], "fds": ["workspace"]})");
  auto handed = connect_as(daemon.socket(), alice, users_gid());
  BOOST_REQUIRE(send_with(handed.get(), with_workspace, {workspace.get()}));
  const auto refused = reply_of(handed.get());
  BOOST_TEST(refused.value("exit_status", -1) == 126, refused.dump());
  BOOST_TEST(refused.value("error", "").find("not by " + users.alice) != npos, refused.dump());
  auto again = connect_as(daemon.socket(), alice, users_gid());
  BOOST_REQUIRE(send_with(again.get(), RawClient::frame(R"({"tierbox": 1, "type": "run", "argv": ["/bin/true"]})")));
  BOOST_TEST(reply_of(again.get()).value("exit_status", -1) == 0);
  const auto start = last_of(daemon.records(), "start");
  BOOST_TEST(start["user"]["uid"].get<uid_t>() == alice, start.dump());
  // Control: root's own connection, the same message and directory, runs.
  auto roots_own = connect_as_root(daemon.socket());
  BOOST_REQUIRE(send_with(roots_own.get(), with_workspace, {workspace.get()}));
  BOOST_TEST(reply_of(roots_own.get()).value("exit_status", -1) == 0);
  BOOST_TEST(last_of(daemon.records(), "start")["user"]["uid"].get<uid_t>() == 0U);
}

// A run's control socket serves 8 connections at once. Another user who
// keeps them all taken (reconnecting as each times out) used to keep the
// run's requester from stopping it ("busy"); a newcomer now takes the place
// of a connection that weighs less (policy::control_weight).
BOOST_AUTO_TEST_CASE(a_stranger_holding_a_runs_control_socket_full_cannot_keep_its_requester_from_stopping_it) {
  DaemonUsers users;
  Daemon daemon(users.group);
  daemon.start();
  auto alice_run = std::async(std::launch::async, [&] {
    return daemon.tierbox_as(users.alice, {"run", "--", "/bin/sleep", "60"});
  });
  const std::string run_id = daemon.wait_for_start().value("run_id", "");
  BOOST_REQUIRE(!run_id.empty());
  const auto control_socket = (daemon.state() / "control" / (run_id + ".sock")).string();
  // report: the flooder's first "busy" (the socket is full), then its count
  // of them; done: closed by the test when alice's stop has been tried.
  int report[2], done[2];
  BOOST_REQUIRE(::pipe2(report, O_CLOEXEC) == 0);
  BOOST_REQUIRE(::pipe2(done, O_CLOEXEC) == 0);
  const uid_t bob = DaemonUsers::uid(users.bob);
  const pid_t flooder = ::fork();
  if (flooder == 0) {
    // bob: 16 connections kept open (8 served, 8 in the backlog), each
    // replaced as soon as the runner answers or drops it, until the test is
    // done (at most 60 s).
    ::close(report[0]);
    ::close(done[1]);
    if (::setgroups(0, nullptr) != 0 || ::setresgid(users_gid(), users_gid(), users_gid()) != 0 ||
        ::setresuid(bob, bob, bob) != 0)
      ::_exit(2);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, control_socket.c_str(), sizeof address.sun_path - 1);
    std::vector<pollfd> open;
    int busy = 0;
    const auto until = std::chrono::steady_clock::now() + 60s;
    while (std::chrono::steady_clock::now() < until) {
      pollfd test_done{done[0], POLLIN, 0};
      if (::poll(&test_done, 1, 0) == 1) break;
      while (open.size() < 16) {
        const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
          ::close(fd);
          break;
        }
        open.push_back({fd, POLLIN, 0});
      }
      if (::poll(open.data(), open.size(), 5) <= 0) continue;
      std::vector<pollfd> kept;
      for (const auto& entry : open) {
        if (!entry.revents) {
          kept.push_back(entry);
          continue;
        }
        char text[256];
        const ssize_t n = ::recv(entry.fd, text, sizeof text - 1, MSG_DONTWAIT);
        if (n > 0 && std::string_view(text, static_cast<std::size_t>(n)).find("busy") != std::string_view::npos &&
            ++busy == 1)
          (void)!::write(report[1], "f", 1);
        ::close(entry.fd);
      }
      open = std::move(kept);
    }
    (void)!::write(report[1], &busy, sizeof busy);
    ::_exit(0);
  }
  ::close(report[1]);
  ::close(done[0]);
  // Control: the socket is full: bob's own newcomers are turned away "busy".
  pollfd full{report[0], POLLIN, 0};
  char marker = 0;
  const bool filled = ::poll(&full, 1, 30000) == 1 && ::read(report[0], &marker, 1) == 1;
  BOOST_TEST(filled, "the flooder met no \"busy\" within 30 s: the control socket was never full");
  const auto stop = daemon.tierbox_as(users.alice, {"stop", run_id, "--grace", "1", "--config-dir", daemon.config()});
  BOOST_TEST(stop.status == 0, stop.out + stop.err);
  ::close(done[1]);
  int busy = 0;
  BOOST_TEST(::read(report[0], &busy, sizeof busy) == static_cast<ssize_t>(sizeof busy));
  ::close(report[0]);
  ::waitpid(flooder, nullptr, 0);
  BOOST_TEST(busy > 0);
  BOOST_TEST(alice_run.get().status != 0);  // stopped
  const auto stopped = last_of(daemon.records(), "control");
  BOOST_TEST(stopped.value("action", "") == "stop", stopped.dump());
}

BOOST_AUTO_TEST_SUITE_END()
