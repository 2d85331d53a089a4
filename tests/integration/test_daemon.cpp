// tierbox daemon, end to end: a real daemon started by the test (its own
// socket, state directory, config and audit log; never systemd), callers
// that are real unprivileged users made for the test, and the client being
// `tierbox run` itself (and the Python client of tools/). Every refusal has
// its control.
#include <fcntl.h>
#include <grp.h>
#include <sys/wait.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include <cstring>
#include <fstream>
#include <future>
#include <memory>
#include <thread>

#include "common/users.h"
#include "integration/governance_fixture.h"
#include "integration/harness.h"

namespace fs = std::filesystem;
using namespace tierbox::testing;
using nlohmann::json;

namespace {

// Two users made for the test and removed after it: alice in the test's
// group, bob not.
struct DaemonUsers {
  std::string group = "tbxdmg" + std::to_string(::getpid());
  std::string alice = "tbxdma" + std::to_string(::getpid());
  std::string bob = "tbxdmb" + std::to_string(::getpid());
  DaemonUsers() {
    must({"/usr/sbin/groupadd", group});
    must({"/usr/sbin/useradd", "-M", "-N", "-g", "users", "-G", group, "-s", "/usr/sbin/nologin", alice});
    must({"/usr/sbin/useradd", "-M", "-N", "-g", "users", "-s", "/usr/sbin/nologin", bob});
  }
  ~DaemonUsers() {
    for (const auto& user : {alice, bob}) run_account_tool({"/usr/sbin/userdel", user});
    run_account_tool({"/usr/sbin/groupdel", group});
  }
  static uid_t uid(const std::string& name) { return *tierbox::user_id(name); }
};

// A daemon of the test's own: config (tierbox.json with its state dir, an
// approval matrix, a tier only the group may use), audit log (in a 0700
// directory), socket.
class Daemon {
 public:
  explicit Daemon(const std::string& group) {
    ::chmod(dir_.str().c_str(), 0755);
    dir_.write("config/tierbox.json", json{{"state_dir", state().string()},
                                           {"approvals_dir", (dir_.path() / "approvals").string()},
                                           {"governance_dir", (dir_.path() / "governance").string()}}
                                          .dump());
    dir_.write("config/approvals.json",
               json{{"tiers", {"untrusted", "workspace-write", "workspace-staged", "dmn-bind", "dmn-group", "dmn-approve", "dmn-confirm",
                              "dmn-expired"}},
                    {"approvers", group},
                    {"approval_timeout", "60s"},
                    {"rules", {{{"id", "open"}, {"require", "none"}},
                               {{"id", "approver"}, {"when", {{"tiers", {"dmn-approve"}}}}, {"require", "approver"}},
                               {{"id", "confirm"}, {"when", {{"tiers", {"dmn-confirm"}}}}, {"require", "confirm"}},
                               {{"id", "apply-deletes"}, {"when", {{"apply", {{"deletes", true}}}}}, {"require", "approver"}}}}}
                   .dump());
    dir_.write("config/tiers/dmn-group.json", json{{"extends", "untrusted"}, {"allowed_groups", {group}}}.dump());
    dir_.write("config/tiers/dmn-approve.json", json{{"extends", "untrusted"}}.dump());
    dir_.write("config/tiers/dmn-bind.json", json{{"extends", "untrusted"}, {"widening", {{"binds", "read-write"}}}}.dump());
    dir_.write("config/tiers/dmn-confirm.json", json{{"extends", "untrusted"}}.dump());
    dir_.write("config/tiers/dmn-expired.json",
               json{{"extends", "untrusted"}, {"reviewed_by", "tests"}, {"reviewed_on", "2020-01-01"}, {"review_by", "2020-06-01"}}.dump());
    ::chmod((dir_.path() / "config").c_str(), 0755);
    ::chmod((dir_.path() / "config/tiers").c_str(), 0755);
    fs::create_directories(dir_.path() / "log");
    ::chmod((dir_.path() / "log").c_str(), 0700);
  }
  // Stopped first; then the tmpfs mounts of its staged runs' layers go,
  // before TempDir removes the directories they are in.
  ~Daemon() {
    stop();
    std::error_code error;
    for (const auto& entry : fs::directory_iterator(state() / "staged", error)) {
      ::umount2((entry.path() / "layer" / "lower").c_str(), MNT_DETACH);
      ::umount2((entry.path() / "layer").c_str(), MNT_DETACH);
    }
  }

  // prefix: what runs the daemon (e.g. env --default-signal=PIPE).
  void start(const std::vector<std::string>& extra = {}, const std::vector<std::string>& prefix = {}) {
    // Mode 0666: the test's users reach it without a tierbox group.
    std::vector<std::string> args = {"daemon", "--socket", socket(), "--socket-mode", "0666", "--config-dir", config(),
                                     "--audit-log", log(), "--state-dir", state().string()};
    args.insert(args.end(), extra.begin(), extra.end());
    process_ = std::make_unique<BackgroundRun>(args, prefix);
    BOOST_REQUIRE_MESSAGE(!process_->wait_for_line("listening").empty(), "the daemon did not start");
  }
  // SIGTERM; the daemon's exit status.
  int stop() {
    if (!process_) return -1;
    process_->signal(SIGTERM);
    const int status = process_->wait(std::chrono::seconds(40));
    process_.reset();
    return status;
  }
  // Reads the daemon's stderr (its -v log) until a "warm pool:" line holding
  // each of texts has come, in any order (the pool refills while a run
  // goes on); false on timeout.
  bool wait_for_pool_log(std::vector<std::string> texts, std::chrono::seconds timeout = std::chrono::seconds(30)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (process_ && !texts.empty()) {
      const auto left = std::chrono::duration_cast<std::chrono::seconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      const auto line = process_->wait_for_line("warm pool:", left);
      if (line.empty()) break;
      std::erase_if(texts, [&](const std::string& text) { return line.find(text) != std::string::npos; });
    }
    for (const auto& text : texts) BOOST_TEST_MESSAGE("no daemon log line with: " << text);
    return texts.empty();
  }
  // SIGKILL: no orderly stop.
  void kill() {
    if (!process_) return;
    process_->signal(SIGKILL);
    process_->wait(std::chrono::seconds(10));
    process_.reset();
  }
  [[nodiscard]] std::string socket() const { return (dir_.path() / "d.sock").string(); }
  [[nodiscard]] std::string config() const { return (dir_.path() / "config").string(); }
  [[nodiscard]] std::string log() const { return (dir_.path() / "log/audit.jsonl").string(); }
  [[nodiscard]] fs::path state() const { return dir_.path() / "state"; }
  [[nodiscard]] const TempDir& dir() const { return dir_; }
  [[nodiscard]] std::vector<json> records() const { return read_audit_records(log()); }

  // argv run as user (its groups from /etc/group), with the daemon's socket.
  ProcessResult as(const std::string& user, const std::vector<std::string>& argv, SpawnOptions options = {}) const {
    std::vector<std::string> command = {"/usr/bin/setpriv", "--reuid", user, "--regid", "users", "--init-groups"};
    command.insert(command.end(), argv.begin(), argv.end());
    // The test process's TIERBOX_CONFIG_DIR and audit log are root's
    // choices: a caller's run through the daemon refuses them.
    options.env = {"TIERBOX_SOCKET=" + socket(), "PATH=/usr/bin:/bin", "HOME=/", "TIERBOX_CONFIG_DIR=", "TIERBOX_AUDIT_LOG="};
    return run_process(command, options);
  }
  ProcessResult tierbox_as(const std::string& user, const std::vector<std::string>& args, SpawnOptions options = {}) const {
    std::vector<std::string> argv = {kTierbox};
    argv.insert(argv.end(), args.begin(), args.end());
    return as(user, argv, std::move(options));
  }

 private:
  TempDir dir_{"tbx-daemon-test"};
  std::unique_ptr<BackgroundRun> process_;
};

std::vector<json> records_of_run(const std::vector<json>& records, const std::string& run_id) {
  std::vector<json> out;
  for (const auto& record : records)
    if (record.value("run_id", "") == run_id) out.push_back(record);
  return out;
}

json last_of(const std::vector<json>& records, const std::string& event) {
  for (auto it = records.rbegin(); it != records.rend(); ++it)
    if (it->value("event", "") == event) return *it;
  return json();
}

// A raw connection to the daemon, for messages `tierbox run` never sends.
class RawClient {
 public:
  explicit RawClient(const std::string& path) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
    BOOST_REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    timeval timeout{20, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  }
  ~RawClient() { ::close(fd_); }
  [[nodiscard]] bool has_reply_yet() const {
    pollfd ready{fd_, POLLIN, 0};
    return ::poll(&ready, 1, 0) == 1;
  }
  void send_raw(const std::string& bytes) const { BOOST_REQUIRE(::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size())); }
  static std::string frame(const std::string& body) {
    const auto n = static_cast<std::uint32_t>(body.size());
    std::string out = {static_cast<char>(n >> 24), static_cast<char>(n >> 16), static_cast<char>(n >> 8), static_cast<char>(n)};
    return out + body;
  }
  // The daemon's reply (one frame), null on EOF.
  json reply() const {
    unsigned char header[4];
    if (!read_exactly(reinterpret_cast<char*>(header), 4)) return json();
    std::string body((std::size_t{header[0]} << 24) | (header[1] << 16) | (header[2] << 8) | header[3], '\0');
    if (!read_exactly(body.data(), body.size())) return json();
    return json::parse(body);
  }

 private:
  bool read_exactly(char* data, std::size_t size) const {
    std::size_t done = 0;
    while (done < size) {
      const ssize_t n = ::recv(fd_, data + done, size - done, 0);
      if (n <= 0) return false;
      done += static_cast<std::size_t>(n);
    }
    return true;
  }
  int fd_ = -1;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(daemon_runs)

BOOST_AUTO_TEST_CASE(an_unprivileged_caller_runs_with_its_stdio_and_exit_code_and_the_kernel_names_it) {
  DaemonUsers users;
  Daemon daemon(users.group);
  daemon.start();
  SpawnOptions input;
  input.stdin_data = "from the caller\n";
  const auto result_file = daemon.dir().path() / "result.json";
  {
    std::ofstream(result_file).flush();
    ::chown(result_file.c_str(), DaemonUsers::uid(users.alice), static_cast<gid_t>(-1));
  }
  const auto ran = daemon.tierbox_as(users.alice, {"run", "--result", result_file.string(), "--", "/bin/sh", "-c",
                                                   "read line; echo \"out: $line\"; echo err >&2; id -u; exit 7"},
                                     input);
  BOOST_TEST(ran.status == 7, ran.err);
  BOOST_TEST(ran.out.find("out: from the caller") != std::string::npos, ran.out);
  BOOST_TEST(ran.err.find("err") != std::string::npos);
  // The result was written by the client, as alice: she owns it.
  struct stat st {};
  BOOST_REQUIRE(::stat(result_file.c_str(), &st) == 0);
  BOOST_TEST(st.st_uid == DaemonUsers::uid(users.alice));
  const auto result = json::parse(std::ifstream(result_file));
  BOOST_TEST(result.value("exit_status", -1) == 7);
  const auto run_id = result.value("run_id", "");
  const auto trail = records_of_run(daemon.records(), run_id);
  BOOST_REQUIRE(trail.size() >= 3U);
  for (const auto& record : trail) {
    BOOST_TEST(record["user"]["uid"].get<uid_t>() == DaemonUsers::uid(users.alice));
    BOOST_TEST(record["user"]["name"].get<std::string>() == users.alice);
  }
  BOOST_TEST(last_of(trail, "end")["exit"]["code"].get<int>() == 7);
}

BOOST_AUTO_TEST_CASE(without_a_daemon_a_caller_gets_one_line_and_125) {
  DaemonUsers users;
  Daemon daemon(users.group);  // never started
  const auto ran = daemon.tierbox_as(users.alice, {"run", "--", "/bin/true"});
  BOOST_TEST(ran.status == 125);
  BOOST_TEST(line_count(ran.err) == 1, ran.err);
  BOOST_TEST(ran.err.find("the tierbox daemon is not running") != std::string::npos, ran.err);
  BOOST_TEST(ran.err.find("systemctl start tierbox.socket") != std::string::npos, ran.err);
}

BOOST_AUTO_TEST_CASE(a_forged_requester_field_is_ignored_and_the_python_client_runs_a_task) {
  DaemonUsers users;
  Daemon daemon(users.group);
  daemon.start();
  SpawnOptions input;
  input.stdin_data = "py\n";
  const auto result_file = (daemon.dir().path() / "py-result.json").string();
  std::ofstream(result_file).flush();
  ::chown(result_file.c_str(), DaemonUsers::uid(users.alice), static_cast<gid_t>(-1));
  const auto ran = daemon.as(users.alice, {"/usr/bin/python3", std::string(kSourceDir) + "/tools/tierbox-client.py",
                                           "--result", result_file, "--extra", R"(user={"uid": 0, "name": "root"})",
                                           "--extra", "uid=0", "--extra", R"(requester={"uid": 0})", "--",
                                           "/bin/sh", "-c", "cat; exit 5"},
                             input);
  BOOST_TEST(ran.status == 5, ran.err);
  BOOST_TEST(ran.out == "py\n");
  const auto run_id = json::parse(std::ifstream(result_file)).value("run_id", "");
  const auto trail = records_of_run(daemon.records(), run_id);
  BOOST_REQUIRE(!trail.empty());
  for (const auto& record : trail) BOOST_TEST(record["user"]["uid"].get<uid_t>() == DaemonUsers::uid(users.alice));
  // Control: root's own direct run is recorded as uid 0, so the field above
  // would have shown it had it been believed.
  const auto direct = run_tierbox({"run", "--config-dir", daemon.config(), "--audit-log", daemon.log(), "--", "/bin/true"});
  BOOST_TEST(direct.status == 0, direct.err);
  BOOST_TEST(last_of(daemon.records(), "end")["user"]["uid"].get<uid_t>() == 0U);
}

BOOST_AUTO_TEST_CASE(sigterm_to_the_client_reaches_the_task) {
  DaemonUsers users;
  Daemon daemon(users.group);
  daemon.start();
  BackgroundRun client({"run", "--", "/bin/sh", "-c", "trap 'echo got-term; exit 7' TERM; echo ready >&2; sleep 30 & wait"},
                       {"/usr/bin/env", "TIERBOX_SOCKET=" + daemon.socket(), "TIERBOX_CONFIG_DIR=", "/usr/bin/setpriv",
                        "--reuid", users.alice, "--regid", "users", "--init-groups"});
  json start;
  for (int i = 0; i < 100 && start.is_null(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    start = last_of(daemon.records(), "start");
  }
  BOOST_REQUIRE(!start.is_null());
  // The task's stderr is the client's: "ready" comes once the trap is set.
  BOOST_REQUIRE(!client.wait_for_line("ready").empty());
  client.signal(SIGTERM);
  BOOST_TEST(client.wait() == 7);  // the task's own status: it got the signal and chose its exit
  const auto out = client.out();
  BOOST_TEST(out.find("got-term") != std::string::npos, out);
}

BOOST_AUTO_TEST_CASE(the_caller_sees_the_warnings_a_direct_run_prints) {
  DaemonUsers users;
  Daemon daemon(users.group);
  daemon.start();
  const auto expired = daemon.tierbox_as(users.alice, {"run", "--tier", "dmn-expired", "--", "/bin/true"});
  BOOST_TEST(expired.status == 126, expired.err);  // control: without the flag an expired tier is refused
  const auto ran = daemon.tierbox_as(users.alice, {"run", "--tier", "dmn-expired", "--allow-expired-tier", "--", "/bin/true"});
  BOOST_TEST(ran.status == 0, ran.err);
  BOOST_TEST(ran.err.find("tierbox: warning: --allow-expired-tier: ") != std::string::npos, ran.err);
}

// The daemon keeps warm sandboxes (service::PooledLauncher): the first run of
// a tier is cold and sets what the pool prepares; the next ones take a
// prepared sandbox, and two of them, for two users, see nothing of each other
// (a file in /tmp, processes left behind, the pids counter of the cgroup).
BOOST_AUTO_TEST_CASE(runs_after_the_first_are_warm_and_two_warm_runs_see_nothing_of_each_other) {
  DaemonUsers users;
  Daemon daemon(users.group);
  daemon.start({"--pool-size", "1", "-v"});
  const auto run_as = [&](const std::string& user, const std::string& script) {
    return daemon.tierbox_as(user, {"run", "--tier", "untrusted", "--", "/bin/sh", "-c", script});
  };
  const auto first = run_as(users.alice, "true");
  BOOST_REQUIRE_MESSAGE(first.status == 0, first.err);
  BOOST_REQUIRE(daemon.wait_for_pool_log({"0 warm and 1 cold launches", "tier 'untrusted': sandbox"}));

  // Run A (alice): a file in /tmp, 20 processes left behind, and (the
  // control) its own view of both.
  const auto a = run_as(users.alice,
                        "echo from-a > /tmp/mark; for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do "
                        "sleep 300 & done; cat /tmp/mark; echo procs $(ls /proc | grep -c '^[0-9]')");
  BOOST_REQUIRE_MESSAGE(a.status == 0, a.err);
  BOOST_TEST(a.out.find("from-a") != std::string::npos, a.out);
  BOOST_TEST(a.out.find("procs 2") != std::string::npos, a.out);  // 20-odd: init, sh, 20 sleeps, ls, grep
  // A was warm; the pool made the next one meanwhile.
  BOOST_REQUIRE(daemon.wait_for_pool_log({"1 warm and 1 cold launches", "tier 'untrusted': sandbox"}));

  // Run B (bob), from the same pool: none of it.
  const auto b = run_as(users.bob, "ls -A /tmp; cat /tmp/mark 2>/dev/null || echo no-mark; "
                                   "echo procs $(ls /proc | grep -c '^[0-9]')");
  BOOST_REQUIRE_MESSAGE(b.status == 0, b.err);
  BOOST_TEST(b.out.find("from-a") == std::string::npos, b.out);
  BOOST_TEST(b.out.find("no-mark") != std::string::npos, b.out);
  const auto procs = b.out.find("procs ");
  BOOST_REQUIRE(procs != std::string::npos);
  BOOST_TEST(std::stoi(b.out.substr(procs + 6)) <= 5, b.out);  // init, sh, the subshell, ls, grep
  BOOST_REQUIRE(daemon.wait_for_pool_log({"2 warm and 1 cold launches"}));  // B was warm

  // The cgroup counters: A's end record counts its 21+ processes, B's does
  // not count them (where the host's pids controller reports a peak).
  std::vector<json> ends;
  for (const auto& record : daemon.records())
    if (record.value("event", "") == "end") ends.push_back(record);
  BOOST_REQUIRE_EQUAL(ends.size(), 3U);
  const auto& a_end = ends[1];
  const auto& b_end = ends[2];
  BOOST_TEST(a_end["user"]["uid"].get<uid_t>() == DaemonUsers::uid(users.alice));
  BOOST_TEST(b_end["user"]["uid"].get<uid_t>() == DaemonUsers::uid(users.bob));
  BOOST_TEST(a_end["run_id"] != b_end["run_id"]);
  if (a_end["usage"]["pids_peak"].is_null() || b_end["usage"]["pids_peak"].is_null()) {
    BOOST_TEST_MESSAGE("no pids peak on this host: the counters part is skipped");
  } else {
    BOOST_TEST(a_end["usage"]["pids_peak"].get<std::uint64_t>() >= 21U);
    BOOST_TEST(b_end["usage"]["pids_peak"].get<std::uint64_t>() < 10U);
  }
}

// --pool-size 0: the control; no run takes a prepared sandbox.
BOOST_AUTO_TEST_CASE(pool_size_zero_launches_every_run_cold) {
  DaemonUsers users;
  Daemon daemon(users.group);
  daemon.start({"--pool-size", "0", "-v"});
  for (int i = 1; i <= 2; ++i) {
    const auto ran = daemon.tierbox_as(users.alice, {"run", "--tier", "untrusted", "--", "/bin/true"});
    BOOST_REQUIRE_MESSAGE(ran.status == 0, ran.err);
    BOOST_TEST(daemon.wait_for_pool_log({"0 warm and " + std::to_string(i) + " cold launches, 0 prepared"}));
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(daemon_refusals)

BOOST_AUTO_TEST_CASE(a_caller_cannot_edit_a_profile_or_the_audit_log) {
  DaemonUsers users;
  Daemon daemon(users.group);
  daemon.start();
  BOOST_TEST(daemon.tierbox_as(users.alice, {"run", "--", "/bin/true"}).status == 0);
  const auto tier = daemon.config() + "/tiers/dmn-group.json";
  const auto append_tier = daemon.as(users.alice, {"/bin/sh", "-c", "echo '{}' >> " + tier});
  BOOST_TEST(append_tier.status != 0);
  BOOST_TEST(append_tier.err.find("Permission denied") != std::string::npos, append_tier.err);
  const auto read_tier = daemon.as(users.alice, {"/bin/cat", tier});  // control: readable, not writable
  BOOST_TEST(read_tier.status == 0, read_tier.err);
  const auto append_log = daemon.as(users.alice, {"/bin/sh", "-c", "echo x >> " + daemon.log()});
  BOOST_TEST(append_log.status != 0);
  const auto truncate_log = daemon.as(users.alice, {"/usr/bin/truncate", "-s", "0", daemon.log()});
  BOOST_TEST(truncate_log.status != 0);
  // Control: root can append (the log is there and writable to its owner).
  BOOST_TEST(::access(daemon.log().c_str(), W_OK) == 0);
  // The run through the daemon is in it, intact.
  BOOST_TEST(run_tierbox({"audit", "verify", "--audit-log", daemon.log()}).status == 0);
}

BOOST_AUTO_TEST_CASE(a_workspace_the_caller_cannot_read_or_write_is_refused) {
  DaemonUsers users;
  Daemon daemon(users.group);
  daemon.start();
  const auto secret = daemon.dir().path() / "roots-only";
  fs::create_directories(secret);
  ::chmod(secret.c_str(), 0700);
  std::ofstream(secret / "key").write("k", 1);
  const auto read = daemon.tierbox_as(users.alice, {"run", "--workspace", secret.string(), "--", "/bin/ls"});
  BOOST_TEST(read.status == 125);
  BOOST_TEST(read.err.find("Permission denied") != std::string::npos, read.err);
  BOOST_TEST(read.out.find("key") == std::string::npos);
  // Control: root runs in it directly and sees the file.
  const auto root_read = run_tierbox({"run", "--config-dir", daemon.config(), "--audit-log", daemon.log(), "--workspace",
                                      secret.string(), "--", "/bin/ls"});
  BOOST_TEST(root_read.out.find("key") != std::string::npos, root_read.err);

  const auto shared = daemon.dir().path() / "readable";
  fs::create_directories(shared);
  ::chmod(shared.c_str(), 0755);
  const auto write = daemon.tierbox_as(users.alice, {"run", "--tier", "workspace-write", "--workspace", shared.string(),
                                                    "--", "/bin/sh", "-c", "touch made"});
  BOOST_TEST(write.status == 126, write.err);
  BOOST_TEST(write.err.find("not writable by " + users.alice) != std::string::npos, write.err);
  BOOST_TEST(!fs::exists(shared / "made"));
  // Controls: the same directory read-only (tier untrusted) runs; alice's
  // own directory is writable.
  const auto read_only = daemon.tierbox_as(users.alice, {"run", "--workspace", shared.string(), "--", "/bin/true"});
  BOOST_TEST(read_only.status == 0, read_only.err);
  ::chown(shared.c_str(), DaemonUsers::uid(users.alice), static_cast<gid_t>(-1));
  const auto own = daemon.tierbox_as(users.alice, {"run", "--tier", "workspace-write", "--workspace", shared.string(),
                                                  "--", "/bin/sh", "-c", "touch made"});
  BOOST_TEST(own.status == 0, own.err);
  BOOST_TEST(fs::exists(shared / "made"));
}

// As uid/gid in a child of the test: opens path with open_flags, sends a run
// of /bin/ls with that fd as the workspace, and returns the daemon's reply
// ({"open_errno": N} when the open itself failed).
json run_with_workspace_fd(const Daemon& daemon, uid_t uid, gid_t gid, const std::string& path, int open_flags,
                           const std::string& body = R"({"tierbox": 1, "type": "run", "argv": ["/bin/ls"], "fds": ["workspace"]})") {
  int out[2];
  BOOST_REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
  const pid_t child = ::fork();
  if (child == 0) {
    std::string text;
    if (::setgroups(0, nullptr) != 0 || ::setresgid(gid, gid, gid) != 0 || ::setresuid(uid, uid, uid) != 0) ::_exit(2);
    const int workspace = ::open(path.c_str(), open_flags | O_CLOEXEC);
    if (workspace < 0) {
      text = json{{"open_errno", errno}}.dump();
    } else {
      const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_un address{};
      address.sun_family = AF_UNIX;
      std::strncpy(address.sun_path, daemon.socket().c_str(), sizeof address.sun_path - 1);
      if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) ::_exit(3);
      auto frame = RawClient::frame(body);
      iovec io{frame.data(), frame.size()};
      alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
      msghdr header{};
      header.msg_iov = &io;
      header.msg_iovlen = 1;
      header.msg_control = control;
      header.msg_controllen = sizeof control;
      cmsghdr* rights = CMSG_FIRSTHDR(&header);
      rights->cmsg_level = SOL_SOCKET;
      rights->cmsg_type = SCM_RIGHTS;
      rights->cmsg_len = CMSG_LEN(sizeof(int));
      std::memcpy(CMSG_DATA(rights), &workspace, sizeof workspace);
      if (::sendmsg(fd, &header, MSG_NOSIGNAL) != static_cast<ssize_t>(frame.size())) ::_exit(4);
      char buffer[65536];
      std::string reply;
      for (ssize_t n; (n = ::read(fd, buffer, sizeof buffer)) > 0;) reply.append(buffer, static_cast<std::size_t>(n));
      text = reply.size() > 4 ? reply.substr(4) : "{}";  // one frame, then the daemon closes
    }
    (void)!::write(out[1], text.data(), text.size());
    ::_exit(0);
  }
  ::close(out[1]);
  const auto text = read_until_eof(out[0]);
  ::close(out[0]);
  int status = 0;
  ::waitpid(child, &status, 0);
  BOOST_REQUIRE_MESSAGE(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the client child failed: " + std::to_string(status));
  return json::parse(text);
}

BOOST_AUTO_TEST_CASE(an_o_path_workspace_fd_to_a_directory_the_caller_cannot_read_is_refused) {
  DaemonUsers users;
  Daemon daemon(users.group);
  daemon.start();
  const auto secret = daemon.dir().path() / "roots-only";
  fs::create_directories(secret);
  ::chmod(secret.c_str(), 0700);
  const uid_t alice = DaemonUsers::uid(users.alice);
  const gid_t gid = *tierbox::primary_group(alice);
  // O_PATH needs no read permission: the fd opens, and must be refused.
  const auto o_path = run_with_workspace_fd(daemon, alice, gid, secret.string(), O_PATH | O_DIRECTORY);
  BOOST_TEST(o_path.value("type", "") == "error", o_path.dump());
  BOOST_TEST(o_path.value("code", "") == "refused", o_path.dump());
  BOOST_TEST(o_path.value("message", "").find("not O_PATH") != std::string::npos, o_path.dump());
  const auto recorded = last_of(daemon.records(), "daemon");
  BOOST_TEST(recorded.value("action", "") == "refused", recorded.dump());
  BOOST_TEST(recorded["user"]["uid"].get<uid_t>() == alice);
  BOOST_TEST(last_of(daemon.records(), "start").is_null());  // nothing ran
  // Controls: reading it is what the kernel refuses alice; a directory she
  // may read, opened for reading, runs.
  const auto read = run_with_workspace_fd(daemon, alice, gid, secret.string(), O_RDONLY | O_DIRECTORY);
  BOOST_TEST(read.value("open_errno", 0) == EACCES, read.dump());
  const auto readable = daemon.dir().path() / "readable";
  fs::create_directories(readable);
  ::chmod(readable.c_str(), 0755);
  const auto ran = run_with_workspace_fd(daemon, alice, gid, readable.string(), O_RDONLY | O_DIRECTORY);
  BOOST_TEST(ran.value("exit_status", -1) == 0, ran.dump());
}

BOOST_AUTO_TEST_CASE(a_tier_not_allowed_to_the_caller_is_refused) {
  DaemonUsers users;
  Daemon daemon(users.group);
  daemon.start();
  const auto bob = daemon.tierbox_as(users.bob, {"run", "--tier", "dmn-group", "--", "/bin/echo", "ran"});
  BOOST_TEST(bob.status == 126, bob.err);
  BOOST_TEST(bob.err.find("may not be used by " + users.bob) != std::string::npos, bob.err);
  BOOST_TEST(bob.out.find("ran") == std::string::npos);
  const auto refused = last_of(daemon.records(), "profile_refused");
  BOOST_TEST(refused["user"]["uid"].get<uid_t>() == DaemonUsers::uid(users.bob));
  // Control: alice is in the group.
  const auto alice = daemon.tierbox_as(users.alice, {"run", "--tier", "dmn-group", "--", "/bin/echo", "ran"});
  BOOST_TEST(alice.status == 0, alice.err);
  BOOST_TEST(alice.out == "ran\n");
  // profile explain shows who may use it.
  const auto explain = run_tierbox({"profile", "explain", "dmn-group", "--config-dir", daemon.config()});
  BOOST_TEST(explain.out.find("members of groups " + users.group) != std::string::npos, explain.out + explain.err);
}

BOOST_AUTO_TEST_CASE(a_caller_cannot_approve_its_own_request_and_confirm_is_refused) {
  DaemonUsers users;
  Daemon daemon(users.group);
  daemon.start();
  // bob (not an approver) asks for a tier that needs an approver.
  auto bob_run = std::async(std::launch::async, [&] {
    return daemon.tierbox_as(users.bob, {"run", "--tier", "dmn-approve", "--", "/bin/echo", "approved-run"});
  });
  std::string id;
  for (int i = 0; i < 200 && id.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(daemon.dir().path() / "approvals", ec))
      if (entry.path().extension() == ".json") id = entry.path().stem().string();
  }
  BOOST_REQUIRE(!id.empty());
  const auto own = daemon.tierbox_as(users.bob, {"approve", id, "--config-dir", daemon.config()});
  BOOST_TEST(own.out.find("cannot approve their own request") != std::string::npos, own.out + own.err);
  // Control: alice, an approver, approves; bob's task runs.
  const auto approved = daemon.tierbox_as(users.alice, {"approve", id, "--config-dir", daemon.config()});
  BOOST_TEST(approved.status == 0, approved.out + approved.err);
  const auto ran = bob_run.get();
  BOOST_TEST(ran.status == 0, ran.err);
  BOOST_TEST(ran.out == "approved-run\n");
  // The caller was told what it waits for, on its own stderr.
  BOOST_TEST(ran.err.find("waiting for approval of request " + id) != std::string::npos, ran.err);
  const auto decision = last_of(daemon.records(), "decision");
  BOOST_TEST(decision["user"]["uid"].get<uid_t>() == DaemonUsers::uid(users.bob));
  BOOST_TEST(decision["decision"]["by"][0]["uid"].get<uid_t>() == DaemonUsers::uid(users.alice));
  // confirm would read the daemon's terminal, not the caller's: refused.
  const auto confirm = daemon.tierbox_as(users.alice, {"run", "--tier", "dmn-confirm", "--", "/bin/echo", "confirmed"});
  BOOST_TEST(confirm.status == 126, confirm.err);
  BOOST_TEST(confirm.err.find("confirm is not available through the tierbox daemon") != std::string::npos, confirm.err);
  BOOST_TEST(confirm.out.find("confirmed") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_caller_cannot_stop_or_freeze_another_users_run) {
  DaemonUsers users;
  Daemon daemon(users.group);
  daemon.start();
  auto alice_run = std::async(std::launch::async, [&] {
    return daemon.tierbox_as(users.alice, {"run", "--", "/bin/sleep", "30"});
  });
  std::string run_id;
  for (int i = 0; i < 100 && run_id.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    for (const auto& record : daemon.records())
      if (record.value("event", "") == "start") run_id = record.value("run_id", "");
  }
  BOOST_REQUIRE(!run_id.empty());
  for (const char* action : {"stop", "freeze"}) {
    const auto bob = daemon.tierbox_as(users.bob, {action, run_id, "--config-dir", daemon.config()});
    BOOST_TEST(bob.status != 0, action);
    BOOST_TEST(bob.err.find("tierbox:") != std::string::npos, bob.err);
  }
  const auto bob_ps = daemon.tierbox_as(users.bob, {"ps", "--config-dir", daemon.config()});
  BOOST_TEST(bob_ps.out.find(run_id.substr(0, 8)) == std::string::npos, bob_ps.out);
  // Control: alice may stop her own run.
  const auto alice_ps = daemon.tierbox_as(users.alice, {"ps", "--config-dir", daemon.config()});
  BOOST_TEST(alice_ps.out.find(run_id.substr(0, 8)) != std::string::npos, alice_ps.out + alice_ps.err);
  const auto stop = daemon.tierbox_as(users.alice, {"stop", run_id, "--grace", "1", "--config-dir", daemon.config()});
  BOOST_TEST(stop.status == 0, stop.err);
  const auto ran = alice_run.get();
  BOOST_TEST(ran.status != 0);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(daemon_faults)

BOOST_AUTO_TEST_CASE(a_client_killed_mid_run_stops_its_task_and_the_end_says_so) {
  DaemonUsers users;
  Daemon daemon(users.group);
  daemon.start();
  // setpriv execs tierbox: the pid is the client's.
  BackgroundRun client({"run", "--", "/bin/sleep", "60"},
                       {"/usr/bin/env", "TIERBOX_SOCKET=" + daemon.socket(), "TIERBOX_CONFIG_DIR=", "/usr/bin/setpriv", "--reuid", users.alice,
                        "--regid", "users", "--init-groups"});
  json start;
  for (int i = 0; i < 100 && start.is_null(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    start = last_of(daemon.records(), "start");
  }
  BOOST_REQUIRE(!start.is_null());
  const pid_t sandbox = start.value("pid", -1);
  BOOST_REQUIRE(process_exists(sandbox));
  client.signal(SIGKILL);
  client.wait();
  BOOST_TEST(wait_until_gone(sandbox, std::chrono::seconds(10)));
  json end;
  for (int i = 0; i < 100 && end.is_null(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    end = last_of(records_of_run(daemon.records(), start.value("run_id", "")), "end");
  }
  BOOST_REQUIRE(!end.is_null());
  // (Stopped at the start when the kill came between the start record and
  // the task's start: "audit: stopped: ...".)
  BOOST_TEST(end.value("error", "").find("stopped: the client disconnected") != std::string::npos, end.dump());
  // Control: a client left alone gets its task's own end.
  const auto ran = daemon.tierbox_as(users.alice, {"run", "--", "/bin/true"});
  BOOST_TEST(ran.status == 0, ran.err);
  BOOST_TEST(last_of(daemon.records(), "end")["error"].is_null());
}

BOOST_AUTO_TEST_CASE(a_client_that_exits_while_another_process_holds_its_socket_has_gone) {
  DaemonUsers users;
  Daemon daemon(users.group);
  daemon.start();
  // The client (a child of the test) sends its run, hands its socket to a
  // grandchild that only sleeps, and exits: the socket stays open, the
  // client's pidfd (SO_PEERPIDFD) says it is gone.
  int holder_pipe[2];
  BOOST_REQUIRE(::pipe2(holder_pipe, O_CLOEXEC) == 0);
  const pid_t client = ::fork();
  if (client == 0) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, daemon.socket().c_str(), sizeof address.sun_path - 1);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) ::_exit(1);
    const auto frame = RawClient::frame(R"({"tierbox": 1, "type": "run", "argv": ["/bin/sleep", "60"]})");
    if (::send(fd, frame.data(), frame.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(frame.size())) ::_exit(1);
    const pid_t holder = ::fork();
    if (holder == 0) {
      ::sleep(60);
      ::_exit(0);
    }
    (void)!::write(holder_pipe[1], &holder, sizeof holder);
    ::_exit(0);
  }
  ::close(holder_pipe[1]);
  pid_t holder = -1;
  BOOST_REQUIRE(::read(holder_pipe[0], &holder, sizeof holder) == static_cast<ssize_t>(sizeof holder));
  ::close(holder_pipe[0]);
  ::waitpid(client, nullptr, 0);
  json end;
  for (int i = 0; i < 100 && end.is_null(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    end = last_of(daemon.records(), "end");
  }
  ::kill(holder, SIGKILL);  // the test's own grandchild; init reaps it
  BOOST_REQUIRE(end.is_object());
  // (Before or after the task started, depending on how fast the client
  // exited: either way the run was stopped for it.)
  BOOST_TEST(end.value("error", "").find("stopped: the client disconnected (it exited") != std::string::npos, end.dump());
  // Control: with the client alive the same request runs to its own end.
  const auto ran = daemon.tierbox_as(users.alice, {"run", "--", "/bin/true"});
  BOOST_TEST(ran.status == 0, ran.err);
}

BOOST_AUTO_TEST_CASE(twenty_concurrent_clients_each_get_their_own_output_and_status) {
  DaemonUsers users;
  Daemon daemon(users.group);
  daemon.start();
  std::vector<std::future<ProcessResult>> runs;
  for (int i = 0; i < 20; ++i)
    runs.push_back(std::async(std::launch::async, [&, i] {
      return daemon.tierbox_as(users.alice, {"run", "--", "/bin/sh", "-c", "echo client-" + std::to_string(i) + "; exit " + std::to_string(i % 5)});
    }));
  for (int i = 0; i < 20; ++i) {
    const auto ran = runs[i].get();
    BOOST_TEST(ran.status == i % 5, "status " + std::to_string(ran.status) + (ran.timed_out ? " (timed out) " : " ") + ran.err);
    BOOST_TEST(ran.out == "client-" + std::to_string(i) + "\n");
  }
  BOOST_TEST(run_tierbox({"audit", "verify", "--audit-log", daemon.log()}).status == 0);
}

BOOST_AUTO_TEST_CASE(malformed_oversized_and_out_of_order_messages_get_an_error_and_a_record) {
  DaemonUsers users;
  Daemon daemon(users.group);
  daemon.start();
  const std::vector<std::pair<std::string, std::string>> cases = {
      {RawClient::frame("{not json"), "malformed"},
      {std::string("\x7f\xff\xff\xff", 4), "too_large"},
      {RawClient::frame(R"({"tierbox": 9, "type": "run", "argv": ["x"]})"), "bad_version"},
      {RawClient::frame(R"({"tierbox": 1, "type": "signal", "signal": 2})"), "out_of_order"},
      {RawClient::frame(R"({"tierbox": 1, "type": "launch-as-root"})"), "unknown_type"},
  };
  for (const auto& [bytes, code] : cases) {
    RawClient client(daemon.socket());
    client.send_raw(bytes);
    const auto reply = client.reply();
    BOOST_TEST(reply.value("type", "") == "error", reply.dump());
    BOOST_TEST(reply.value("code", "") == code, reply.dump());
  }
  std::vector<std::string> recorded;
  for (const auto& record : daemon.records())
    if (record.value("event", "") == "daemon") recorded.push_back(record.value("detail", ""));
  BOOST_TEST(recorded.size() == cases.size());
  // Control: the daemon still serves a well-formed request.
  const auto ran = daemon.tierbox_as(users.alice, {"run", "--", "/bin/echo", "fine"});
  BOOST_TEST(ran.status == 0, ran.err);
  BOOST_TEST(ran.out == "fine\n");
  BOOST_TEST(run_tierbox({"audit", "verify", "--audit-log", daemon.log()}).status == 0);
}

BOOST_AUTO_TEST_CASE(a_client_that_sends_nothing_stalls_no_one_and_times_out) {
  DaemonUsers users;
  Daemon daemon(users.group);
  daemon.start({"--request-timeout", "8"});
  RawClient silent(daemon.socket());
  RawClient half(daemon.socket());
  half.send_raw(std::string("\x00\x00\x00\x40{\"tierbox\"", 14));  // a frame begun, never finished
  // Meanwhile another caller is served: by the time its task ended, neither
  // silent connection has been answered yet (their timeout is still ahead).
  const auto ran = daemon.tierbox_as(users.alice, {"run", "--", "/bin/echo", "served"});
  BOOST_TEST(ran.status == 0, ran.err);
  BOOST_TEST(ran.out == "served\n");
  BOOST_TEST(!silent.has_reply_yet());
  BOOST_TEST(!half.has_reply_yet());
  BOOST_TEST(silent.reply().value("code", "") == "timeout");
  BOOST_TEST(half.reply().value("code", "") == "timeout");
}

BOOST_AUTO_TEST_CASE(past_the_per_user_limit_a_run_is_refused_with_the_limit_named) {
  DaemonUsers users;
  Daemon daemon(users.group);
  daemon.start({"--max-runs-per-user", "1"});
  auto first = std::async(std::launch::async, [&] { return daemon.tierbox_as(users.alice, {"run", "--", "/bin/sleep", "3"}); });
  for (int i = 0; i < 100 && last_of(daemon.records(), "start").is_null(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const auto second = daemon.tierbox_as(users.alice, {"run", "--", "/bin/true"});
  BOOST_TEST(second.status == 125);
  BOOST_TEST(second.err.find("max_runs_per_user") != std::string::npos, second.err);
  // Control: another user is not held by alice's limit.
  const auto bob = daemon.tierbox_as(users.bob, {"run", "--", "/bin/true"});
  BOOST_TEST(bob.status == 0, bob.err);
  BOOST_TEST(first.get().status == 0);
}

BOOST_AUTO_TEST_CASE(the_daemon_stopped_with_live_runs_leaves_nothing_and_a_consistent_log) {
  DaemonUsers users;
  Daemon daemon(users.group);
  daemon.start();
  auto live = std::async(std::launch::async, [&] { return daemon.tierbox_as(users.alice, {"run", "--", "/bin/sleep", "60"}); });
  json start;
  for (int i = 0; i < 100 && start.is_null(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    start = last_of(daemon.records(), "start");
  }
  BOOST_REQUIRE(!start.is_null());
  const pid_t sandbox = start.value("pid", -1);
  BOOST_TEST(daemon.stop() == 0);
  const auto client = live.get();
  BOOST_TEST(client.status == 125);
  BOOST_TEST(client.err.find("the tierbox daemon ended the connection") != std::string::npos, client.err);
  BOOST_TEST(!process_exists(sandbox));
  const auto end = last_of(records_of_run(daemon.records(), start.value("run_id", "")), "end");
  BOOST_TEST(end.value("error", "").find("stopped: the daemon stopped") != std::string::npos, end.dump());
  std::error_code ec;
  BOOST_TEST(fs::is_empty(daemon.state() / "runs", ec));
  BOOST_TEST(run_tierbox({"audit", "verify", "--audit-log", daemon.log()}).status == 0);
  // Restarted on the same socket, it serves again.
  daemon.start();
  const auto again = daemon.tierbox_as(users.alice, {"run", "--", "/bin/echo", "again"});
  BOOST_TEST(again.status == 0, again.err);
  BOOST_TEST(again.out == "again\n");
}

BOOST_AUTO_TEST_CASE(a_daemon_killed_outright_takes_its_sandboxes_and_gc_closes_their_trail) {
  DaemonUsers users;
  Daemon daemon(users.group);
  daemon.start();
  auto live = std::async(std::launch::async, [&] { return daemon.tierbox_as(users.alice, {"run", "--", "/bin/sleep", "60"}); });
  json start;
  for (int i = 0; i < 100 && start.is_null(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    start = last_of(daemon.records(), "start");
  }
  BOOST_REQUIRE(!start.is_null());
  const pid_t sandbox = start.value("pid", -1);
  daemon.kill();
  // Each sandbox's init has the parent-death signal: it dies with the daemon.
  BOOST_TEST(wait_until_gone(sandbox, std::chrono::seconds(10)));
  BOOST_TEST(live.get().status == 125);
  // The trail has a start without an end until gc (tierbox.service runs it
  // before the daemon starts: ExecStartPre).
  const auto run_id = start.value("run_id", "");
  BOOST_TEST(last_of(records_of_run(daemon.records(), run_id), "end").is_null());
  const auto gc = run_tierbox({"gc", "--config-dir", daemon.config()});  // the trail says which log
  BOOST_TEST(gc.status == 0, gc.out + gc.err);
  const auto end = last_of(records_of_run(daemon.records(), run_id), "end");
  BOOST_REQUIRE(end.is_object());
  BOOST_TEST(end.value("outcome", "") == "ended unknown", end.dump());
  std::string left;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(daemon.state() / "runs", ec))
    if (entry.path().filename() != "gc.lock") left += entry.path().filename().string() + " ";  // gc's own lock stays
  BOOST_TEST(left.empty(), "left in runs/: " + left + "; gc said: " + gc.out);
  BOOST_TEST(run_tierbox({"audit", "verify", "--audit-log", daemon.log()}).status == 0);
  daemon.start();  // a new daemon on the stale socket
  BOOST_TEST(daemon.tierbox_as(users.alice, {"run", "--", "/bin/true"}).status == 0);
}

BOOST_AUTO_TEST_SUITE_END()

// Staged runs through the daemon: the state directory is root's, so a
// caller who is not root reaches `changes`, `apply`, `rollback` and
// `discard` only through it, as the kernel says it is.
BOOST_AUTO_TEST_SUITE(daemon_staged)

namespace {

// A workspace of user's own (0700: nobody else can read it), with files.
fs::path user_workspace(const Daemon& daemon, const std::string& user, const std::map<std::string, std::string>& files) {
  const auto dir = daemon.dir().path() / ("ws-" + user);
  fs::create_directories(dir);
  for (const auto& [name, text] : files) std::ofstream(dir / name) << text;
  must({"/bin/chown", "-R", user + ":users", dir.string()});
  ::chmod(dir.c_str(), 0700);
  return dir;
}

// user runs script in workspace-staged on workspace; returns the run id
// (from the --result file the client writes as the caller).
std::string staged_run(const Daemon& daemon, const std::string& user, const fs::path& workspace, const std::string& script) {
  const auto result = workspace.parent_path() / ("result-" + user + ".json");
  fs::remove(result);
  std::ofstream(result) << "";
  must({"/bin/chown", user + ":users", result.string()});
  const auto ran = daemon.tierbox_as(user, {"run", "--tier", "workspace-staged", "--workspace", workspace.string(),
                                            "--result", result.string(), "--", "/bin/sh", "-c", script});
  BOOST_REQUIRE_MESSAGE(ran.status == 0, ran.err);
  std::ifstream in(result);
  const auto document = json::parse(in);
  return document.at("run_id").get<std::string>();
}

}  // namespace

BOOST_AUTO_TEST_CASE(another_users_staged_run_cannot_be_seen_applied_or_discarded) {
  DaemonUsers users;
  Daemon daemon(users.group);
  daemon.start();
  // alice's run (alice is an approver; bob is not).
  const auto alice_ws = user_workspace(daemon, users.alice, {{"keep.txt", "keep\n"}});
  const auto alice_run = staged_run(daemon, users.alice, alice_ws, "echo secret-plan > added.txt");
  BOOST_REQUIRE(!fs::exists(alice_ws / "added.txt"));

  // bob: refused for every action, and nothing of alice's change reaches him.
  for (const std::string action : {"changes", "apply", "discard", "rollback"}) {
    const auto tried = daemon.tierbox_as(users.bob, {action, alice_run});
    BOOST_TEST(tried.status == 126, action << ": " << tried.out << tried.err);
    BOOST_TEST(tried.err.find("refused") != std::string::npos, action << ": " << tried.err);
    BOOST_TEST(tried.out.find("added.txt") == std::string::npos, action << ": " << tried.out);
    BOOST_TEST(tried.err.find("added.txt") == std::string::npos, action << ": " << tried.err);
  }
  const auto diff = daemon.tierbox_as(users.bob, {"changes", "--diff", "--json", alice_run});
  BOOST_TEST(diff.status == 126);
  BOOST_TEST(diff.out.find("secret-plan") == std::string::npos);
  BOOST_TEST(!fs::exists(alice_ws / "added.txt"));
  BOOST_TEST(fs::exists(daemon.state()));
  // The refusals are in the trail, with bob's uid from the kernel.
  int refused = 0;
  for (const auto& record : daemon.records())
    if (record.value("action", "") == "refused" && record.dump().find(alice_run) != std::string::npos) {
      BOOST_TEST(record["user"]["uid"].get<uid_t>() == DaemonUsers::uid(users.bob));
      ++refused;
    }
  BOOST_TEST(refused == 5);
  // Options that are root's to choose are refused on the client's side.
  const auto config = daemon.tierbox_as(users.alice, {"changes", alice_run, "--config-dir", daemon.config()});
  BOOST_TEST(config.status == 125, config.err);
  BOOST_TEST(config.err.find("--config-dir") != std::string::npos, config.err);

  // Control: alice sees her own run's change, with its diff, on her stdout.
  const auto seen = daemon.tierbox_as(users.alice, {"changes", "--diff", alice_run});
  BOOST_TEST(seen.status == 0, seen.err);
  BOOST_TEST(seen.out.find("added.txt") != std::string::npos, seen.out);
  BOOST_TEST(seen.out.find("+secret-plan") != std::string::npos, seen.out);
  const auto as_json = daemon.tierbox_as(users.alice, {"changes", "--json", alice_run});
  BOOST_REQUIRE_MESSAGE(as_json.status == 0, as_json.err);
  const auto document = json::parse(as_json.out);
  BOOST_TEST(document["run_id"].get<std::string>() == alice_run);
  // ... and applies it (no deletion: no rule asks for an approver).
  const auto applied = daemon.tierbox_as(users.alice, {"apply", alice_run});
  BOOST_TEST(applied.status == 0, applied.err);
  BOOST_TEST(applied.out.find("applied change set " + document["digest"].get<std::string>()) != std::string::npos, applied.out);
  std::ifstream landed(alice_ws / "added.txt");
  std::string text((std::istreambuf_iterator<char>(landed)), std::istreambuf_iterator<char>());
  BOOST_TEST(text == "secret-plan\n");
  const auto apply_record = last_of(daemon.records(), "apply");
  BOOST_TEST(apply_record["user"]["uid"].get<uid_t>() == DaemonUsers::uid(users.alice));
  BOOST_TEST(apply_record.value("result", "") != "refused");
  // bob cannot roll alice's apply back; alice can.
  const auto bob_rollback = daemon.tierbox_as(users.bob, {"rollback", alice_run});
  BOOST_TEST(bob_rollback.status == 126);
  BOOST_TEST(fs::exists(alice_ws / "added.txt"));
  const auto rolled_back = daemon.tierbox_as(users.alice, {"rollback", alice_run});
  BOOST_TEST(rolled_back.status == 0, rolled_back.err);
  BOOST_TEST(!fs::exists(alice_ws / "added.txt"));
}

BOOST_AUTO_TEST_CASE(a_deleting_apply_waits_for_an_approver_who_is_not_the_requester) {
  DaemonUsers users;
  Daemon daemon(users.group);
  daemon.start();
  const auto bob_ws = user_workspace(daemon, users.bob, {{"gone.txt", "gone\n"}, {"keep.txt", "keep\n"}});
  const auto bob_run = staged_run(daemon, users.bob, bob_ws, "rm gone.txt");
  BOOST_REQUIRE(fs::exists(bob_ws / "gone.txt"));
  // An approver (alice) sees bob's run: approvers review what they approve.
  const auto reviewed = daemon.tierbox_as(users.alice, {"changes", bob_run});
  BOOST_TEST(reviewed.status == 0, reviewed.err);
  BOOST_TEST(reviewed.out.find("gone.txt") != std::string::npos, reviewed.out);

  auto apply = std::async(std::launch::async, [&] { return daemon.tierbox_as(users.bob, {"apply", bob_run}); });
  std::string id;
  for (int i = 0; i < 200 && id.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(daemon.dir().path() / "approvals", ec))
      if (entry.path().extension() == ".json") id = entry.path().stem().string();
  }
  BOOST_REQUIRE(!id.empty());
  // The requester's own vote does not count; the file is still there.
  const auto own = daemon.tierbox_as(users.bob, {"approve", id, "--config-dir", daemon.config()});
  BOOST_TEST(own.out.find("cannot approve their own request") != std::string::npos, own.out + own.err);
  BOOST_TEST(fs::exists(bob_ws / "gone.txt"));
  BOOST_TEST((apply.wait_for(std::chrono::milliseconds(500)) == std::future_status::timeout));
  // Control: alice approves; the apply lands.
  const auto approved = daemon.tierbox_as(users.alice, {"approve", id, "--config-dir", daemon.config()});
  BOOST_TEST(approved.status == 0, approved.out + approved.err);
  const auto applied = apply.get();
  BOOST_TEST(applied.status == 0, applied.err);
  BOOST_TEST(applied.err.find("waiting for approval of request " + id) != std::string::npos, applied.err);
  BOOST_TEST(applied.out.find("approved by " + users.alice) != std::string::npos, applied.out);
  BOOST_TEST(!fs::exists(bob_ws / "gone.txt"));
  const auto apply_record = last_of(daemon.records(), "apply");
  BOOST_TEST(apply_record["user"]["uid"].get<uid_t>() == DaemonUsers::uid(users.bob));
}

BOOST_AUTO_TEST_CASE(a_deleting_apply_takes_a_grant_the_caller_can_read) {
  DaemonUsers users;
  Daemon daemon(users.group);
  daemon.start();
  const auto key = (daemon.dir().path() / "alice.key").string();
  const auto generated = run_tierbox({"keys", "generate", "--id", "alice-staged", "--out", key});
  BOOST_REQUIRE_MESSAGE(generated.status == 0, generated.err);
  const auto pub = daemon.dir().write("alice.pub", generated.out);
  BOOST_REQUIRE(run_tierbox({"keys", "add", pub.string(), "--owner", users.alice, "--config-dir", daemon.config()}).status == 0);
  const auto bob_ws = user_workspace(daemon, users.bob, {{"gone.txt", "gone\n"}});
  const auto bob_run = staged_run(daemon, users.bob, bob_ws, "rm gone.txt");
  const auto listed = daemon.tierbox_as(users.bob, {"changes", "--json", bob_run});
  BOOST_REQUIRE_MESSAGE(listed.status == 0, listed.err);
  const auto digest = json::parse(listed.out)["digest"].get<std::string>();
  const auto grant = (daemon.dir().path() / "apply-grant.json").string();
  const auto made = run_tierbox({"grant", "--key", key, "--tier", "workspace-staged", "--workspace", bob_ws.string(),
                                 "--plan-digest", digest, "--out", grant, "--config-dir", daemon.config(), "--", "tierbox",
                                 "apply", bob_run});
  BOOST_REQUIRE_MESSAGE(made.status == 0, made.err);
  // Unreadable by bob: refused at his client, nothing lands.
  ::chmod(grant.c_str(), 0600);
  const auto unreadable = daemon.tierbox_as(users.bob, {"apply", bob_run, "--grant", grant});
  BOOST_TEST(unreadable.status == 125, unreadable.err);
  BOOST_TEST(unreadable.err.find(grant) != std::string::npos, unreadable.err);
  BOOST_TEST(fs::exists(bob_ws / "gone.txt"));
  // Control: readable, it lands at once, signed by alice.
  ::chmod(grant.c_str(), 0644);
  const auto applied = daemon.tierbox_as(users.bob, {"apply", bob_run, "--grant", grant});
  BOOST_TEST(applied.status == 0, applied.err);
  BOOST_TEST(applied.out.find("signed by " + users.alice) != std::string::npos, applied.out);
  BOOST_TEST(!fs::exists(bob_ws / "gone.txt"));
}

// After the run the requester controls the path to its workspace: a
// symlink swapped in there must not turn root's apply or diff onto another
// directory (here a root-owned one with a file of the same name).
BOOST_AUTO_TEST_CASE(a_workspace_path_swapped_for_a_symlink_is_refused) {
  DaemonUsers users;
  Daemon daemon(users.group);
  daemon.start();
  // bob's own directory holds the workspace's parent: he may rename in it.
  const auto parent = daemon.dir().path() / "bob-parent";
  const auto home = parent / "home";
  fs::create_directories(home / "ws");
  std::ofstream(home / "ws" / "notes.txt") << "bob's notes\n";
  must({"/bin/chown", "-R", users.bob + ":users", parent.string()});
  ::chmod(parent.c_str(), 0755);
  ::chmod(home.c_str(), 0755);
  const auto run_id = staged_run(daemon, users.bob, home / "ws", "echo task > notes.txt; echo planted > planted.txt");
  // root's directory, laid out like bob's workspace.
  const auto roots = daemon.dir().path() / "roots";
  fs::create_directories(roots / "ws");
  std::ofstream(roots / "ws" / "notes.txt") << "root-only-content\n";
  ::chmod((roots / "ws").c_str(), 0700);
  ::chmod((roots / "ws" / "notes.txt").c_str(), 0600);
  // bob swaps his home for a symlink to it.
  const auto swapped = daemon.as(users.bob, {"/bin/sh", "-c", "mv " + home.string() + " " + home.string() + ".real && ln -s " +
                                                                 roots.string() + " " + home.string()});
  BOOST_REQUIRE_MESSAGE(swapped.status == 0, swapped.err);
  const auto diff = daemon.tierbox_as(users.bob, {"changes", "--diff", run_id});
  BOOST_TEST(diff.status == 126, diff.out + diff.err);
  BOOST_TEST(diff.out.find("root-only-content") == std::string::npos, diff.out);
  BOOST_TEST(diff.err.find("no longer the directory the run used") != std::string::npos, diff.err);
  const auto apply = daemon.tierbox_as(users.bob, {"apply", run_id});
  BOOST_TEST(apply.status == 126, apply.out + apply.err);
  BOOST_TEST(!fs::exists(roots / "ws" / "planted.txt"));
  std::ifstream kept(roots / "ws" / "notes.txt");
  BOOST_TEST(std::string((std::istreambuf_iterator<char>(kept)), std::istreambuf_iterator<char>()) == "root-only-content\n");
  // A root-owned directory renamed into the path (no symlink) is refused by its owner.
  fs::remove(home);
  fs::create_directories(home);
  ::chmod(home.c_str(), 0755);
  fs::create_directories(home / "ws");
  const auto renamed = daemon.tierbox_as(users.bob, {"apply", run_id});
  BOOST_TEST(renamed.status == 126, renamed.out + renamed.err);
  BOOST_TEST(renamed.err.find("its owner is uid 0") != std::string::npos, renamed.err);
  BOOST_TEST(!fs::exists(home / "ws" / "planted.txt"));
  // Control: bob's own directory back in place; the apply lands there.
  fs::remove_all(home);
  fs::rename(home.string() + ".real", home);
  const auto applied = daemon.tierbox_as(users.bob, {"apply", run_id});
  BOOST_TEST(applied.status == 0, applied.err);
  BOOST_TEST(fs::exists(home / "ws" / "planted.txt"));
}

// The daemon writes into the caller's own stdout: a reader that has gone
// must cost the daemon an EPIPE, not its life (SIGPIPE).
BOOST_AUTO_TEST_CASE(output_into_a_pipe_whose_reader_has_gone_does_not_stop_the_daemon) {
  DaemonUsers users;
  Daemon daemon(users.group);
  // SIGPIPE as a shell leaves it (the test runner ignores it, and so does
  // systemd by default; a daemon started by hand does not).
  daemon.start({}, {"/usr/bin/env", "--default-signal=PIPE"});
  const auto ws = user_workspace(daemon, users.bob, {{"keep.txt", "keep\n"}});
  // 1 MiB of diff: more than a pipe holds, so the daemon's write meets the
  // closed pipe whatever the timing.
  const auto run_id = staged_run(daemon, users.bob, ws, "seq 1 200000 > big.txt");
  const auto piped = daemon.as(users.bob, {"/bin/sh", "-c", std::string(kTierbox) + " changes --diff " + run_id + " | true"});
  (void)piped;
  // The daemon still serves: the same command, read whole, works.
  const auto again = daemon.tierbox_as(users.bob, {"changes", run_id});
  BOOST_TEST(again.status == 0, again.err);
  BOOST_TEST(again.out.find("big.txt") != std::string::npos, again.out);
  const auto planned = daemon.as(users.bob, {"/bin/sh", "-c", std::string(kTierbox) + " run --dry-run -- /bin/true | true"});
  (void)planned;
  const auto ran = daemon.tierbox_as(users.bob, {"run", "--", "/bin/echo", "alive"});
  BOOST_TEST(ran.out == "alive\n", ran.err);
}

BOOST_AUTO_TEST_CASE(a_deleting_apply_whose_client_goes_away_is_refused_and_discard_drops_the_layer) {
  DaemonUsers users;
  Daemon daemon(users.group);
  daemon.start();
  const auto bob_ws = user_workspace(daemon, users.bob, {{"gone.txt", "gone\n"}});
  const auto bob_run = staged_run(daemon, users.bob, bob_ws, "rm gone.txt");
  // The client killed while it waits: the daemon's wait ends, the apply
  // is refused and recorded, nothing lands.
  BackgroundRun waiting({"apply", bob_run}, {"/usr/bin/env", "TIERBOX_SOCKET=" + daemon.socket(), "TIERBOX_CONFIG_DIR=",
                                             "TIERBOX_AUDIT_LOG=", "/usr/bin/setpriv", "--reuid", users.bob, "--regid",
                                             "users", "--init-groups"});
  BOOST_REQUIRE(!waiting.wait_for_line("waiting for approval of request").empty());
  waiting.signal(SIGKILL);
  waiting.wait();
  json refused;
  for (int i = 0; i < 100 && refused.is_null(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const auto record = last_of(daemon.records(), "apply");
    if (record.value("result", "") == "refused") refused = record;
  }
  BOOST_TEST(refused.value("reason", "").find("cancelled") != std::string::npos, refused.dump());
  BOOST_TEST(fs::exists(bob_ws / "gone.txt"));
  // Discard: bob's own layer goes; a second discard finds none.
  const auto discarded = daemon.tierbox_as(users.bob, {"discard", bob_run});
  BOOST_TEST(discarded.status == 0, discarded.err);
  BOOST_TEST(discarded.out.find("discarded the staged layer of run " + bob_run) != std::string::npos, discarded.out);
  const auto again = daemon.tierbox_as(users.bob, {"changes", bob_run});
  BOOST_TEST(again.status != 0);
  BOOST_TEST(again.err.find("no staged layer") != std::string::npos, again.err);
}

BOOST_AUTO_TEST_SUITE_END()

// What `tierbox run` carries through the daemon besides stdio and the
// workspace: --bind and --bind-rw, their sources opened by the client as
// the caller.
BOOST_AUTO_TEST_SUITE(daemon_options)

BOOST_AUTO_TEST_CASE(a_bind_the_caller_cannot_read_is_refused_and_one_it_can_read_is_bound) {
  DaemonUsers users;
  Daemon daemon(users.group);
  daemon.start();
  const auto secret = daemon.dir().path() / "roots-only";
  fs::create_directories(secret);
  std::ofstream(secret / "s.txt") << "root-secret\n";
  ::chmod(secret.c_str(), 0700);
  const auto readable = daemon.dir().path() / "readable";
  fs::create_directories(readable);
  std::ofstream(readable / "r.txt") << "readable\n";
  ::chmod(readable.c_str(), 0755);

  // The client opens the source as bob: the kernel refuses, nothing is sent.
  const auto refused = daemon.tierbox_as(users.bob, {"run", "--tier", "dmn-bind", "--bind", secret.string() + ":/data", "--",
                                                     "/bin/cat", "/data/s.txt"});
  BOOST_TEST(refused.status == 125, refused.err);
  BOOST_TEST(refused.err.find("--bind " + secret.string() + ":/data: EACCES") != std::string::npos, refused.err);
  BOOST_TEST(refused.out.find("root-secret") == std::string::npos);
  // A client of its own that sends an O_PATH fd (which needs no read
  // permission) is refused by the daemon, and nothing starts.
  const uid_t bob = DaemonUsers::uid(users.bob);
  const gid_t gid = *tierbox::primary_group(bob);
  const std::string bind_body = R"({"tierbox": 1, "type": "run", "tier": "dmn-bind", "argv": ["/bin/cat", "/data/s.txt"],
                                    "fds": ["bind"], "binds": [{"source": "x", "target": "/data"}]})";
  const auto o_path = daemon_refusals::run_with_workspace_fd(daemon, bob, gid, secret.string(), O_PATH | O_DIRECTORY, bind_body);
  BOOST_TEST(o_path.value("code", "") == "refused", o_path.dump());
  BOOST_TEST(o_path.value("message", "").find("not O_PATH") != std::string::npos, o_path.dump());
  BOOST_TEST(last_of(daemon.records(), "start").is_null());
  BOOST_TEST(last_of(daemon.records(), "daemon")["user"]["uid"].get<uid_t>() == bob);

  // Control: a directory bob may read is bound and read.
  const auto ran = daemon.tierbox_as(users.bob, {"run", "--tier", "dmn-bind", "--bind", readable.string() + ":/data", "--",
                                                 "/bin/cat", "/data/r.txt"});
  BOOST_TEST(ran.status == 0, ran.err);
  BOOST_TEST(ran.out == "readable\n");
  // ... read-only: --bind never lets the task write there.
  const auto write_ro = daemon.tierbox_as(users.bob, {"run", "--tier", "dmn-bind", "--bind", readable.string() + ":/data",
                                                      "--", "/bin/sh", "-c", "echo x > /data/new.txt"});
  BOOST_TEST(write_ro.status != 0);
  BOOST_TEST(!fs::exists(readable / "new.txt"));
  // A single file she may read, too.
  const auto file = daemon.tierbox_as(users.bob, {"run", "--tier", "dmn-bind", "--bind", (readable / "r.txt").string() + ":/r.txt",
                                                  "--", "/bin/cat", "/r.txt"});
  BOOST_TEST(file.status == 0, file.err);
  BOOST_TEST(file.out == "readable\n");

  // Binds still need the tier's widening: untrusted allows none.
  const auto narrow = daemon.tierbox_as(users.bob, {"run", "--tier", "untrusted", "--bind", readable.string() + ":/data", "--",
                                                    "/bin/cat", "/data/r.txt"});
  BOOST_TEST(narrow.status == 126, narrow.err);
  BOOST_TEST(narrow.err.find("allows no extra binds") != std::string::npos, narrow.err);
  BOOST_TEST(narrow.out.empty());
}

BOOST_AUTO_TEST_CASE(a_writable_bind_needs_a_source_the_caller_may_write) {
  DaemonUsers users;
  Daemon daemon(users.group);
  daemon.start();
  // Readable by bob, writable by root only.
  const auto roots = daemon.dir().path() / "roots-readable";
  fs::create_directories(roots);
  ::chmod(roots.c_str(), 0755);
  std::ofstream(roots / "f.txt") << "root's\n";
  ::chmod((roots / "f.txt").c_str(), 0644);
  const auto dir_rw = daemon.tierbox_as(users.bob, {"run", "--tier", "dmn-bind", "--bind-rw", roots.string() + ":/data", "--",
                                                    "/bin/sh", "-c", "echo x > /data/new.txt"});
  BOOST_TEST(dir_rw.status == 126, dir_rw.err);
  BOOST_TEST(dir_rw.err.find("not writable by " + users.bob) != std::string::npos, dir_rw.err);
  BOOST_TEST(!fs::exists(roots / "new.txt"));
  const auto file_rw = daemon.tierbox_as(users.bob, {"run", "--tier", "dmn-bind", "--bind-rw", (roots / "f.txt").string() + ":/f",
                                                     "--", "/bin/sh", "-c", "echo changed > /f"});
  BOOST_TEST(file_rw.status == 125, file_rw.err);
  BOOST_TEST(file_rw.err.find("Permission denied") != std::string::npos, file_rw.err);
  std::ifstream kept(roots / "f.txt");
  BOOST_TEST(std::string((std::istreambuf_iterator<char>(kept)), std::istreambuf_iterator<char>()) == "root's\n");

  // Control: bob's own directory, writable by him, takes the task's write
  // (mode 0777: an extra bind is not id-mapped like the workspace, so the
  // task's own uid needs the bits too).
  const auto own = daemon.dir().path() / "bobs";
  fs::create_directories(own);
  must({"/bin/chown", users.bob + ":users", own.string()});
  ::chmod(own.c_str(), 0777);
  const auto wrote = daemon.tierbox_as(users.bob, {"run", "--tier", "dmn-bind", "--bind-rw", own.string() + ":/data", "--",
                                                   "/bin/sh", "-c", "echo from-task > /data/new.txt"});
  BOOST_TEST(wrote.status == 0, wrote.err);
  BOOST_TEST(fs::exists(own / "new.txt"));
}

BOOST_AUTO_TEST_CASE(a_dry_run_returns_the_plan_to_the_caller_and_launches_nothing) {
  DaemonUsers users;
  Daemon daemon(users.group);
  daemon.start();
  const auto marker = daemon.dir().path() / "dry-run-ran";
  const auto planned = daemon.tierbox_as(users.bob, {"run", "--dry-run", "--tier", "dmn-approve", "--", "/bin/sh", "-c",
                                                     "echo ran > " + marker.string()});
  BOOST_TEST(planned.status == 0, planned.err);
  // The plan's text on bob's stdout, as a direct dry run prints it.
  BOOST_TEST(planned.out.find("approval matrix: " + daemon.config() + "/approvals.json") != std::string::npos, planned.out);
  BOOST_TEST(planned.out.find("rule 'approver'") != std::string::npos, planned.out);
  BOOST_TEST(planned.out.find("requires: ") != std::string::npos, planned.out);
  // Nothing launched, nothing filed for approval, no run records.
  BOOST_TEST(!fs::exists(marker));
  std::error_code ec;
  BOOST_TEST((!fs::exists(daemon.dir().path() / "approvals") || fs::is_empty(daemon.dir().path() / "approvals", ec)));
  BOOST_TEST(last_of(daemon.records(), "start").is_null());
  BOOST_TEST(last_of(daemon.records(), "request").is_null());
  // Refusals of the planning stay refusals: a tier bob may not use.
  const auto not_allowed = daemon.tierbox_as(users.bob, {"run", "--dry-run", "--tier", "dmn-group", "--", "/bin/true"});
  BOOST_TEST(not_allowed.status == 126, not_allowed.err);
  BOOST_TEST(not_allowed.out.find("requires:") == std::string::npos, not_allowed.out);
  // Control: alice, in the group, gets its plan.
  const auto allowed = daemon.tierbox_as(users.alice, {"run", "--dry-run", "--tier", "dmn-group", "--", "/bin/true"});
  BOOST_TEST(allowed.status == 0, allowed.err);
  BOOST_TEST(allowed.out.find("requires: ") != std::string::npos, allowed.out);
}

BOOST_AUTO_TEST_CASE(a_grant_is_read_by_the_client_as_the_caller) {
  DaemonUsers users;
  Daemon daemon(users.group);
  daemon.start();
  // alice (an approver) signs grants; bob runs.
  const auto key = (daemon.dir().path() / "alice.key").string();
  const auto generated = run_tierbox({"keys", "generate", "--id", "alice-dmn", "--out", key});
  BOOST_REQUIRE_MESSAGE(generated.status == 0, generated.err);
  const auto pub = daemon.dir().write("alice.pub", generated.out);
  const auto added = run_tierbox({"keys", "add", pub.string(), "--owner", users.alice, "--config-dir", daemon.config()});
  BOOST_REQUIRE_MESSAGE(added.status == 0, added.err);
  const std::vector<std::string> command = {"/bin/echo", "granted"};
  // The plan digest of bob's run, from a dry run through the daemon.
  std::vector<std::string> dry = {"run", "--dry-run", "--tier", "dmn-approve", "--"};
  dry.insert(dry.end(), command.begin(), command.end());
  const auto planned = daemon.tierbox_as(users.bob, dry);
  const auto at = planned.out.find("plan digest: ");
  BOOST_REQUIRE_MESSAGE(at != std::string::npos, planned.out + planned.err);
  const auto digest = planned.out.substr(at + 13, 64);
  const auto grant = (daemon.dir().path() / "grant.json").string();
  std::vector<std::string> sign = {"grant", "--key", key, "--tier", "dmn-approve", "--plan-digest", digest, "--expires", "10m",
                                   "--out", grant, "--config-dir", daemon.config(), "--"};
  sign.insert(sign.end(), command.begin(), command.end());
  const auto signed_ = run_tierbox(sign);
  BOOST_REQUIRE_MESSAGE(signed_.status == 0, signed_.err);
  std::vector<std::string> run = {"run", "--tier", "dmn-approve", "--grant", grant, "--"};
  run.insert(run.end(), command.begin(), command.end());

  // A grant file bob cannot read is refused by the kernel at the client:
  // the daemon never opens it for him.
  ::chmod(grant.c_str(), 0600);
  const auto unreadable = daemon.tierbox_as(users.bob, run);
  BOOST_TEST(unreadable.status == 125, unreadable.err);
  BOOST_TEST(unreadable.err.find(grant) != std::string::npos, unreadable.err);
  BOOST_TEST(unreadable.out.empty(), unreadable.out);
  BOOST_TEST(last_of(daemon.records(), "start").is_null());

  // Control: readable, the grant stands in for the approver; the task runs.
  ::chmod(grant.c_str(), 0644);
  const auto ran = daemon.tierbox_as(users.bob, run);
  BOOST_TEST(ran.status == 0, ran.err);
  BOOST_TEST(ran.out == "granted\n");
  const auto decision = last_of(daemon.records(), "decision");
  BOOST_TEST(decision["user"]["uid"].get<uid_t>() == DaemonUsers::uid(users.bob), decision.dump());
  BOOST_TEST(decision.dump().find("signed grant " + grant) != std::string::npos, decision.dump());
  // Used once: its nonce is spent, a second run with it is refused.
  const auto again = daemon.tierbox_as(users.bob, run);
  BOOST_TEST(again.status == 126, again.err);
  BOOST_TEST(again.out.empty(), again.out);
}

BOOST_AUTO_TEST_SUITE_END()
