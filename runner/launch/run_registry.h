// The registry of live runs: one entry per run under STATE_DIR/runs/, so that
// other tierbox commands (ps, stop, freeze, gc) can find a run and what it
// created on the host.
//
//   runs/<run_id>.lock   created and flock()ed by the runner first thing
//   runs/<run_id>.json   the RunRecord, written (atomically: write + rename)
//                        while the child builds its root, off the critical path
//   runs/<run_id>.control.json  what control commands did to the run
//                        (control/control_state.h); written by them, not the runner
//   runs/gc.lock         held by `tierbox gc` while it runs: one gc at a time
//   control/<run_id>.sock  the runner's control socket (control/control_server.h)
//
// The lock is how a dead runner is told from a live one: the kernel drops it
// when the runner exits, however it exits. A run whose lock can be taken is a
// crashed runner's: `tierbox gc` cleans what its record lists and removes it.
// (A lock file younger than kLockGrace without a record may be a runner between
// creating and locking it, and is left alone.) The directory is 0700 root:
// sandboxes never see it.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/unique_fd.h"

namespace tierbox::launch {

struct RunRecord {
  std::string run_id;
  std::string tier;
  std::vector<std::string> argv;
  uid_t requester_uid = 0;
  std::string requester;        // user name of requester_uid
  // Root started the run through sudo for this user (SUDO_UID): who else may
  // control it (policy/control_permission.h).
  std::optional<uid_t> sudo_uid;
  std::string sudo_user;
  pid_t runner_pid = 0;
  pid_t sandbox_pid = 0;        // host pid of the sandbox's init, 0 before clone
  // The sandbox init's start time (/proc/PID/stat field 22): sandbox_pid
  // names this run's init only while that process has this start time, so
  // a control command never signals a later process that reuses the pid.
  std::uint64_t sandbox_start_time = 0;
  std::string started_at;       // RFC 3339, UTC
  std::string network_mode;
  std::string state = "starting";  // starting, running, frozen, isolated
  std::vector<std::string> overrides;  // audited exceptions (--allow-expired-tier ...)
  // What the run created on the host, one key per concern ("cgroup",
  // "network", ...), in the form that concern's cleaner reads back.
  nlohmann::json resources = nlohmann::json::object();
};

nlohmann::json to_json(const RunRecord& record);
// The id the run's cgroups are named by (tierbox-ID): the run's own, or, for a
// sandbox prepared ahead of its request, the sandbox's (resources.cgroup.id).
std::string cgroup_owner_id(const RunRecord& record);
RunRecord record_from_json(const nlohmann::json& json);

class RunRegistry {
 public:
  static constexpr std::chrono::seconds kLockGrace{10};

  explicit RunRegistry(std::filesystem::path state_dir);

  // A registered run: holds the lock, rewrites the record on update(),
  // removes both files when destroyed (the run is over and cleaned up).
  class Entry {
   public:
    Entry(std::filesystem::path dir, RunRecord record, UniqueFd lock);
    ~Entry();
    Entry(Entry&&) = default;
    Entry& operator=(Entry&&) = delete;
    Entry(const Entry&) = delete;
    Entry& operator=(const Entry&) = delete;
    RunRecord& record() { return record_; }
    void update();  // writes record() atomically
    // Leaves the entry for `tierbox gc` (something of the run could not be
    // removed): the files stay, the lock goes with the runner.
    void keep_for_gc() { keep_ = true; }

   private:
    std::filesystem::path dir_;
    RunRecord record_;
    UniqueFd lock_;
    bool keep_ = false;
  };

  // Creates and locks the run's lock file; the record is written by the
  // first Entry::update(). Throws SysError when the state directory cannot be
  // written: a run that cannot be registered could not be stopped or cleaned
  // up, so it does not start (fail closed).
  Entry register_run(RunRecord record);

  struct Listed {
    RunRecord record;
    bool runner_alive = false;
    bool has_record = false;  // false: only the lock file (a runner starting, or one that died before its record)
  };
  std::vector<Listed> list() const;
  std::optional<Listed> find(const std::string& run_id) const;
  // Removes the entry of a run whose runner is dead (gc, after cleaning),
  // its control state and control socket included.
  void forget(const std::string& run_id) const;
  // Holds runs/gc.lock: one `tierbox gc` at a time per registry. Two at
  // once would clean the same dead run together, each report part of what
  // was removed, and both append the run's "ended unknown" end record. Waits
  // up to `wait` for another gc to finish, then throws naming the lock.
  [[nodiscard]] UniqueFd lock_for_gc(std::chrono::milliseconds wait = std::chrono::seconds(60)) const;
  // Control state files and control sockets of runs that have no entry any
  // more (a control command racing with the end of its run, a runner killed
  // between removing its socket and its entry), and the temporaries of a
  // record or control state a runner killed mid-write left (older than
  // kLockGrace); returns what was removed.
  std::vector<std::string> forget_strays() const;

  // STATE_DIR/control: the runners' control sockets (0755, the sockets 0666:
  // every user may ask; each runner decides who may do what).
  [[nodiscard]] std::filesystem::path control_dir() const { return dir_.parent_path() / "control"; }
  [[nodiscard]] std::filesystem::path control_socket(const std::string& run_id) const {
    return control_dir() / (run_id + ".sock");
  }
  [[nodiscard]] std::filesystem::path control_state_file(const std::string& run_id) const {
    return dir_ / (run_id + ".control.json");
  }

  [[nodiscard]] const std::filesystem::path& dir() const { return dir_; }

 private:
  std::filesystem::path dir_;
};

}  // namespace tierbox::launch
