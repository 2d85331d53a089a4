// Run slots of two state directories (a daemon's --state-dir beside the
// CLI's, tests, benches) never give two live sandboxes one host uid: each
// slot holds a host-wide lock on its task's id (/run/tierbox-ids/UID.lock,
// runner/launch/run_slot.h). Both state directories here share one
// host_id_base of this process alone (HostIdRange), so slot numbers are
// exact while other tests run.
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include <cctype>
#include <filesystem>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "common/unique_fd.h"
#include "integration/harness.h"
#include "integration/net_harness.h"

using namespace tierbox::testing;
using nlohmann::json;
using tierbox::UniqueFd;

namespace {

// A config directory with a state directory of its own.
struct StateDir {
  TempDir config{"tierbox-slots"};
  explicit StateDir(uid_t host_id_base, unsigned max_concurrent_runs = 8) {
    config.write("tierbox.json", json{{"state_dir", (config.path() / "state").string()},
                                      {"host_id_base", host_id_base},
                                      {"max_concurrent_runs", max_concurrent_runs}}
                                     .dump());
  }
  ~StateDir() { run_tierbox({"gc", "--config-dir", config.str()}); }
  [[nodiscard]] std::filesystem::path slot_lock(unsigned index) const {
    return config.path() / "state" / "slots" / (std::to_string(index) + ".lock");
  }
};

// Whether nothing holds a lock file (a new open file of it gets the flock).
bool is_free(const std::filesystem::path& lock) {
  UniqueFd fd(::open(lock.c_str(), O_RDWR | O_CLOEXEC));
  BOOST_TEST_REQUIRE(fd.get() >= 0, lock);
  return ::flock(fd.get(), LOCK_EX | LOCK_NB) == 0;
}

std::filesystem::path id_lock(uid_t id) { return "/run/tierbox-ids/" + std::to_string(id) + ".lock"; }

// The first pid whose command line is exactly cmdline (not tierbox's own).
std::optional<pid_t> pid_running(const std::string& cmdline) {
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const auto name = entry.path().filename().string();
    if (name.empty() || !std::isdigit(static_cast<unsigned char>(name[0]))) continue;
    if (process_cmdline(name) == cmdline + " ") return std::stoi(name);
  }
  return std::nullopt;
}

// The real uid and gid of /proc/PID/status ("Uid:\treal\teffective...").
std::pair<long, long> host_ids_of(pid_t pid) {
  std::istringstream lines(read_proc_file("/proc/" + std::to_string(pid) + "/status"));
  long uid = -1, gid = -1;
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("Uid:", 0) == 0) uid = std::stol(line.substr(4));
    if (line.rfind("Gid:", 0) == 0) gid = std::stol(line.substr(4));
  }
  return {uid, gid};
}

// A live run of `sleep MARKER` and what the host says of its task.
struct SleepingRun {
  std::string command;
  BackgroundRun run;
  std::string slot_line;  // "run slot N: the task is host uid U"
  pid_t task = -1;
  long uid = -1, gid = -1;

  SleepingRun(const StateDir& state, const std::string& marker)
      : command("sleep " + marker),
        run({"run", "-v", "--config-dir", state.config.str(), "--", "/bin/sh", "-c", "exec sleep " + marker}) {
    slot_line = run.wait_for_line("run slot ");
    BOOST_TEST_REQUIRE(!run.wait_for_line("exec succeeded").empty(), run.err_read());
    for (int i = 0; i < 100 && task < 0; ++i) {
      if (auto pid = pid_running(command)) task = *pid;
      else ::usleep(20000);
    }
    BOOST_TEST_REQUIRE(task > 0, "no host process " << command);
    std::tie(uid, gid) = host_ids_of(task);
  }
  // SIGTERM to the runner, which relays it to the task.
  void end() {
    run.signal(SIGTERM);
    BOOST_TEST(run.wait() != -1);
  }
};

std::string marker(int which) { return "7" + std::to_string(::getpid() % 100000) + std::to_string(which); }

}  // namespace

BOOST_AUTO_TEST_SUITE(run_slots)

// Slots are counted per state_dir: both state directories' first free slot
// is 0, which gave both tasks host uid base + 1 before the host-wide lock
// (one uid: each could open the other's files wherever it may write, shares
// its RLIMIT_NPROC, may signal it). Now the second skips its free slot 0
// and its task runs as base + 2, seen in /proc of both tasks. Control: once
// the first has ended, the second state_dir's run gets slot 0.
BOOST_AUTO_TEST_CASE(two_state_dirs_never_give_two_live_tasks_one_host_uid) {
  HostIdRange ids;
  const uid_t base = ids.base();
  StateDir daemon(base);
  StateDir cli(base);
  SleepingRun first(daemon, marker(1));
  BOOST_TEST(first.slot_line.find("run slot 0: the task is host uid " + std::to_string(base + 1)) != std::string::npos,
             first.slot_line);
  BOOST_TEST(first.uid == static_cast<long>(base + 1));
  BOOST_TEST(first.gid == static_cast<long>(base + 1));
  BOOST_TEST(!is_free(id_lock(base + 1)), "the first run holds its uid host-wide");
  SleepingRun second(cli, marker(2));
  BOOST_TEST(second.slot_line.find("run slot 1: the task is host uid " + std::to_string(base + 2)) != std::string::npos,
             second.slot_line);
  BOOST_TEST(second.uid == static_cast<long>(base + 2));
  BOOST_TEST(second.gid == static_cast<long>(base + 2));
  BOOST_TEST(second.uid != first.uid);
  // Its own slot 0 was free (and is): only the host-wide lock moved it.
  BOOST_TEST(is_free(cli.slot_lock(0)), "the second state_dir's slot 0 is free");
  BOOST_TEST(!is_free(daemon.slot_lock(0)));
  first.end();
  second.end();
  BOOST_TEST(is_free(id_lock(base + 1)), "released with the run");
  BOOST_TEST(is_free(id_lock(base + 2)));
  SleepingRun control(cli, marker(3));
  BOOST_TEST(control.slot_line.find("run slot 0:") != std::string::npos, control.slot_line);
  BOOST_TEST(control.uid == static_cast<long>(base + 1));
  control.end();
}

// Every slot of a state_dir whose host uid a live run of another state_dir
// holds: the run fails (125) at once with one line naming its state_dir,
// max_concurrent_runs and why; it never waits and never shares a uid.
// Control: once those runs have ended, the same run succeeds.
BOOST_AUTO_TEST_CASE(a_run_whose_every_slot_is_blocked_by_another_state_dir_fails_in_one_line) {
  HostIdRange ids;
  StateDir daemon(ids.base(), 2);
  StateDir cli(ids.base(), 2);
  SleepingRun first(daemon, marker(4));
  SleepingRun second(daemon, marker(5));
  BOOST_TEST_REQUIRE(first.uid != second.uid);
  const auto refused = run_tierbox({"run", "--config-dir", cli.config.str(), "--", "/bin/true"});
  BOOST_TEST(refused.status == 125, refused.err);
  const auto err = without_landlock_warnings(refused.err);
  BOOST_TEST(line_count(err) == 1, err);
  BOOST_TEST(err.find("no free run slot in state_dir \"" + (cli.config.path() / "state").string() + "\"") !=
                 std::string::npos,
             err);
  BOOST_TEST(err.find("max_concurrent_runs 2") != std::string::npos, err);
  BOOST_TEST(err.find("the host uids of 2 held by live runs of other state directories (/run/tierbox-ids)") !=
                 std::string::npos,
             err);
  BOOST_TEST(is_free(cli.slot_lock(0)));
  BOOST_TEST(is_free(cli.slot_lock(1)));
  first.end();
  second.end();
  const auto control = run_tierbox({"run", "--config-dir", cli.config.str(), "--", "/bin/true"});
  BOOST_TEST(control.status == 0, control.err);
}

BOOST_AUTO_TEST_SUITE_END()
