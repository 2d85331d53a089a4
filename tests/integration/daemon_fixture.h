// The daemon under test (tests/integration/test_daemon*.cpp): a real
// daemon started by the test with its own socket, state directory, config
// and audit log (never systemd), the users it serves, made for the test and
// removed after it, and a raw protocol client.
#pragma once

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

#include "common/fd_passing.h"
#include "common/users.h"
#include "integration/governance_fixture.h"
#include "integration/harness.h"

namespace tierbox::testing {

namespace fs = std::filesystem;

// Polls condition every 20 ms until it holds (true) or timeout passed
// (false): for what a test awaits from the daemon (a record in its log, a
// file, a process), in place of a fixed sleep a loaded machine outlasts.
template <typename Condition>
bool wait_until(Condition condition, std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return condition();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

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
                              "dmn-confirm-quick", "dmn-expired", "dmn-pass"}},
                    {"approvers", group},
                    {"approval_timeout", "60s"},
                    {"rules", {{{"id", "open"}, {"require", "none"}},
                               {{"id", "approver"}, {"when", {{"tiers", {"dmn-approve"}}}}, {"require", "approver"}},
                               {{"id", "confirm"}, {"when", {{"tiers", {"dmn-confirm"}}}}, {"require", "confirm"}},
                               {{"id", "confirm-quick"}, {"when", {{"tiers", {"dmn-confirm-quick"}}}}, {"require", "confirm"},
                                {"timeout", "2s"}},
                               {{"id", "apply-deletes"}, {"when", {{"apply", {{"deletes", true}}}}}, {"require", "approver"}}}}}
                   .dump());
    dir_.write("config/tiers/dmn-group.json", json{{"extends", "untrusted"}, {"allowed_groups", {group}}}.dump());
    dir_.write("config/tiers/dmn-approve.json", json{{"extends", "untrusted"}}.dump());
    dir_.write("config/tiers/dmn-bind.json", json{{"extends", "untrusted"}, {"widening", {{"binds", "read-write"}}}}.dump());
    dir_.write("config/tiers/dmn-pass.json", json{{"extends", "untrusted"}, {"pass_fds", 2}}.dump());
    dir_.write("config/tiers/dmn-confirm.json", json{{"extends", "untrusted"}}.dump());
    dir_.write("config/tiers/dmn-confirm-quick.json", json{{"extends", "untrusted"}}.dump());
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
  // Reads the daemon's stderr until a line holding text has come (its -v
  // log: start it with "-v"); "" on timeout. Lines read past are gone.
  std::string wait_for_log(const std::string& text, std::chrono::seconds timeout = std::chrono::seconds(30)) {
    return process_ ? process_->wait_for_line(text, timeout) : "";
  }
  // SIGKILL: no orderly stop.
  void kill() {
    if (!process_) return;
    process_->signal(SIGKILL);
    process_->wait(std::chrono::seconds(10));
    process_.reset();
  }
  // The daemon's own pid (its prefix, if any, execs it), -1 when stopped.
  [[nodiscard]] pid_t pid() const { return process_ ? process_->pid() : -1; }
  [[nodiscard]] std::string socket() const { return (dir_.path() / "d.sock").string(); }
  [[nodiscard]] std::string config() const { return (dir_.path() / "config").string(); }
  [[nodiscard]] std::string log() const { return (dir_.path() / "log/audit.jsonl").string(); }
  [[nodiscard]] fs::path state() const { return dir_.path() / "state"; }
  [[nodiscard]] const TempDir& dir() const { return dir_; }
  [[nodiscard]] std::vector<json> records() const { return read_audit_records(log()); }
  // The latest start record, once one is in the log (up to 30 s); null if
  // none came.
  [[nodiscard]] json wait_for_start() const;

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

inline std::vector<json> records_of_run(const std::vector<json>& records, const std::string& run_id) {
  std::vector<json> out;
  for (const auto& record : records)
    if (record.value("run_id", "") == run_id) out.push_back(record);
  return out;
}

inline json last_of(const std::vector<json>& records, const std::string& event) {
  for (auto it = records.rbegin(); it != records.rend(); ++it)
    if (it->value("event", "") == event) return *it;
  return json();
}

inline json Daemon::wait_for_start() const {
  json start;
  wait_until([&] { return !(start = last_of(records(), "start")).is_null(); }, std::chrono::seconds(30));
  return start;
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


// In a forked child of a test (no Boost.Test there): connects to the
// daemon's socket, sends body as one frame with fd attached (SCM_RIGHTS),
// and reads every reply up to the daemon's close into replies. 0, or the
// step that failed: 1 connect, 2 send.
inline int exchange_with_fd(const fs::path& socket_path, const std::string& body, int fd, std::string& replies) {
  const int connection = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, socket_path.c_str(), sizeof address.sun_path - 1);
  if (connection < 0 || ::connect(connection, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) return 1;
  const auto frame = RawClient::frame(body);
  if (send_with_fds(connection, frame.data(), frame.size(), &fd, 1) != static_cast<ssize_t>(frame.size())) return 2;
  char buffer[65536];
  for (ssize_t n; (n = ::read(connection, buffer, sizeof buffer)) > 0;) replies.append(buffer, static_cast<std::size_t>(n));
  ::close(connection);
  return 0;
}

// As uid/gid in a child of the test: opens path with open_flags, sends a run
// of /bin/ls with that fd as the workspace, and returns the daemon's reply
// ({"open_errno": N} when the open itself failed).
inline json run_with_workspace_fd(const Daemon& daemon, uid_t uid, gid_t gid, const std::string& path, int open_flags,
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
      std::string reply;
      if (const int failed = exchange_with_fd(daemon.socket(), body, workspace, reply)) ::_exit(2 + failed);
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

}  // namespace tierbox::testing
