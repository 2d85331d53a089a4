// A run's cgroups: created before clone, holding the task from before its
// first instruction to its end, enforcing the tier's cgroup limits, reporting
// what the task used, killing its whole tree, and removed when it is gone.
//
// Each controller is taken from the hierarchy that has it (detected per run,
// cgroup_detect.h): cgroup v2 where the controller is available there, else
// the cgroup v1 hierarchy it is mounted as, so pure v2, pure v1 and mixed
// hosts all work. One small interface, CgroupDriver, with a v1 and a v2
// implementation (cgroup_v1.cpp, cgroup_v2.cpp); RunCgroups combines them.
//
// Where: below the runner's own cgroup in each hierarchy, or below the
// configured / requested parent, never outside the subtree the caller was
// given. Named tierbox-<run_id>, so `tierbox gc` can find the cgroups of a
// runner that died before writing its record.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/unique_fd.h"
#include "policy/sections/limits.h"
#include "stages/cgroup_detect.h"
#include "stages/cgroup_syscalls.h"

namespace tierbox::stages {

// What one cgroup directory of a run is used for.
enum class CgroupUse { memory, pids, cpu, io, freezer };

const char* to_string(CgroupUse use);

struct CgroupDir {
  std::string path;  // host directory, ends in tierbox-<run_id>
  std::vector<CgroupUse> uses;
  [[nodiscard]] bool serves(CgroupUse use) const;
};

// What the task used, read from the cgroups after it ended. nullopt: this
// host could not tell.
struct CgroupUsage {
  std::optional<std::uint64_t> memory_peak_bytes;
  std::optional<std::uint64_t> pids_peak;
  std::optional<std::uint64_t> cpu_user_us;
  std::optional<std::uint64_t> cpu_system_us;
  std::optional<std::uint64_t> cpu_throttled_us;
  bool oom_killed = false;      // the kernel's OOM killer killed a process of the task
  bool pids_limit_hit = false;  // a fork or clone failed on the pids limit
};

// Which limit was enforced at what value ("cpu" in millicores).
struct EnforcedLimit {
  std::string field;  // as in the tier's `limits`: memory, memory_swap, pids, cpu, io_weight
  std::uint64_t value = 0;
};

// How the run's cgroups were set up, for the result and `run -v`.
struct CgroupReport {
  std::vector<std::pair<std::string, CgroupVersion>> controllers;  // "memory" -> v1
  std::vector<EnforcedLimit> enforced;
  std::vector<std::string> not_enforced;  // optional limits this host could not enforce
  std::vector<std::string> warnings;      // one line each, saying why
  std::vector<std::string> paths;
  std::string kill = "none";  // "cgroup.kill", "freezer", or "none" (the pid namespace kill only)
  std::string mode = "none";  // "v1", "v2", "mixed" (cgroups of both) or "none"
};

// "max" in a RunLimits field: no limit.
inline constexpr std::uint64_t kCgroupUnlimited = ~0ULL;

// A running run's cgroup limits, for the OCI runtime's `update`: memory and
// memory_swap in bytes (swap on top of memory, as a tier's limits say it),
// pids, cpu in millicores (quota over tierbox's 100 ms period);
// kCgroupUnlimited for "max". Read (the limits now): nullopt where the run has
// no such file. Written (a change): only the fields set.
struct RunLimits {
  std::optional<std::uint64_t> memory;
  std::optional<std::uint64_t> memory_swap;
  std::optional<std::uint64_t> pids;
  std::optional<std::uint64_t> cpu_millicores;
};

// One hierarchy version's part of a run's cgroups.
class CgroupDriver {
 public:
  virtual ~CgroupDriver() = default;
  [[nodiscard]] virtual CgroupVersion version() const = 0;
  [[nodiscard]] virtual const std::vector<CgroupDir>& dirs() const = 0;
  // Makes the directories and writes the limits their uses need. A limit
  // file that does not exist is a limit this host cannot enforce: a Refusal
  // if required, else noted in report.not_enforced.
  virtual void create(const policy::CgroupLimits& limits, const std::string& tier, CgroupReport& report) = 0;
  // Files the child writes "0" into to join every directory (v1's `tasks`,
  // see cgroup_join.h); none on v2, where clone3 places the child.
  virtual std::vector<UniqueFd> open_join_files() = 0;
  // SIGKILL to every process in the cgroup, atomically (no fork escapes it);
  // false when this part has no way to (a v1 part without a freezer).
  virtual bool kill() = 0;
  virtual void freeze() = 0;
  virtual void thaw() = 0;
  virtual void add_usage(CgroupUsage& usage) = 0;
  // The limits its directories' files hold now (fields it has no file for
  // are left alone).
  virtual void read_limits(RunLimits& limits) = 0;
  // Writes change's fields that its directories serve; now is what
  // read_limits says (cgroup v1 needs it to order memory against
  // memory+swap). Throws SysError naming the file and the value.
  virtual void write_limits(const RunLimits& change, const RunLimits& now) = 0;
  // Kills what is left, removes every directory; idempotent. Throws SysError
  // when a directory cannot be removed.
  virtual void destroy() = 0;
};

std::unique_ptr<CgroupDriver> make_cgroup_v1_driver(CgroupSyscalls& syscalls, std::vector<CgroupDir> dirs);
// The v1 part of a run that exists already (made by its runner): kill,
// freeze and thaw work at once, create() must not be called.
std::unique_ptr<CgroupDriver> attach_cgroup_v1_driver(CgroupSyscalls& syscalls, std::vector<CgroupDir> dirs);
// dir: the run's cgroup; its uses name the controllers to use (the parent
// must have them in cgroup.subtree_control). Killing and freezing use the
// core files every v2 cgroup has.
std::unique_ptr<CgroupDriver> make_cgroup_v2_driver(CgroupSyscalls& syscalls, CgroupDir dir);

struct RunCgroupsRequest {
  std::string run_id;
  std::string tier;                  // for messages
  policy::CgroupLimits limits;
  // --cgroup-parent, "" if none: absolute (as in /proc/self/cgroup, the same
  // path in every hierarchy), or relative to the default place.
  std::string requested_parent;
  std::string configured_parent;     // cgroup_parent of tierbox.json, "" if none
  pid_t runner_pid = 0;
};

// Made in two steps, to keep cgroup v1's cost (0.3 ms on this machine) off
// the launch's critical path. create() before clone3 chooses everything and
// makes the cgroup v2 part, which clone3 enters (clone_into_fd).
// create_v1_part() makes the v1 directories while the child builds its root;
// the parent hands the child their `tasks` files with sync #2 (join_fds) and
// the child joins before anything of the task runs (cgroup_join.h).
class RunCgroups {
 public:
  // Chooses a hierarchy per controller, makes the v2 part and writes its
  // limits. Throws Refusal when a required limit cannot be enforced here or
  // the requested parent lies outside the caller's subtree.
  static RunCgroups create(const RunCgroupsRequest& request, const HostCgroups& host, CgroupSyscalls& syscalls);
  // Makes the v1 part (a directory per hierarchy, with its limits; Refusal
  // for a required one this host cannot enforce) and opens its join files.
  void create_v1_part();

  RunCgroups(RunCgroups&&) noexcept = default;
  RunCgroups& operator=(RunCgroups&&) noexcept = delete;
  RunCgroups(const RunCgroups&) = delete;
  RunCgroups& operator=(const RunCgroups&) = delete;
  // Removes the cgroups if destroy() was not called (error paths); a
  // failure is only logged: `tierbox gc` finds them by name.
  ~RunCgroups();

  // The v2 cgroup's directory fd for clone3(CLONE_INTO_CGROUP), or -1.
  [[nodiscard]] int clone_into_fd() const { return v2_fd_.get(); }
  // The v1 `tasks` files the child joins through; closed in the parent
  // once they are sent (close_join_fds).
  [[nodiscard]] std::vector<int> join_fds() const;
  void close_join_fds() { join_fds_.clear(); }
  // Kills the whole task tree through the cgroup; false when no part can.
  bool kill();
  CgroupUsage usage();
  void destroy();
  [[nodiscard]] const CgroupReport& report() const { return report_; }
  // Every directory with its version, for the run's registry record.
  [[nodiscard]] std::vector<std::pair<std::string, CgroupVersion>> directories() const;

 private:
  RunCgroups() = default;
  std::unique_ptr<CgroupDriver> v1_;
  std::unique_ptr<CgroupDriver> v2_;
  UniqueFd v2_fd_;
  std::vector<UniqueFd> join_fds_;
  CgroupReport report_;
  policy::CgroupLimits limits_;  // for create_v1_part()
  std::string tier_;
  bool destroyed_ = false;
};

// --- Shared by the drivers and by `tierbox gc` ---------------------------

// "tierbox-<run_id>"
std::string run_cgroup_name(const std::string& run_id);
// The run id of a "tierbox-<run_id>" directory name, or "".
std::string run_id_of_cgroup_name(const std::string& name);

// The number after key in a flat keyed file ("oom_kill 3\n" -> 3).
std::optional<std::uint64_t> keyed_value(const std::string& text, const std::string& key);
// The pids of a cgroup.procs file.
std::vector<pid_t> parse_pid_list(const std::string& text);

// Removes a run cgroup left by a runner that died: kills whatever is still
// inside (cgroup.kill on v2; freeze, kill, thaw on v1), then rmdir. Only for
// directories named tierbox-<id> below a cgroup mount.
void remove_leftover_cgroup(CgroupSyscalls& syscalls, const std::string& path, CgroupVersion version);

// Every tierbox-<id> directory in the host's hierarchies, with its version.
std::vector<std::pair<std::string, CgroupVersion>> find_run_cgroups(CgroupSyscalls& syscalls, const HostCgroups& host);

// Whether path is a run cgroup of run_id (named tierbox-<run_id>) inside
// one of the host's cgroup mounts of that version: a record is never trusted
// to name anything else.
bool is_run_cgroup_of(const std::string& path, CgroupVersion version, const std::string& run_id,
                      const HostCgroups& host);

// --- A running run's cgroups, for the control commands --------------------

// What a run uses right now (`tierbox ps`). nullopt: this host cannot tell.
struct CgroupNow {
  std::optional<std::uint64_t> memory_bytes;
  std::optional<std::uint64_t> pids;
  std::optional<std::uint64_t> cpu_us;
  std::optional<bool> frozen;  // nullopt: the run has no freezer
};

// The cgroups a running run's record lists, attached by a process other
// than its runner (stop, kill, freeze, thaw, ps). What each directory serves
// is read from the files it has (freezer.state, memory.*, pids.*), so the
// record needs only paths and versions. Directories that are gone (the run
// ended) are left out.
class AttachedRunCgroups {
 public:
  // Throws Error when a listed directory is not a run cgroup of run_id on
  // this host (see is_run_cgroup_of).
  AttachedRunCgroups(CgroupSyscalls& syscalls, const HostCgroups& host, const std::string& run_id,
                     const std::vector<std::pair<std::string, CgroupVersion>>& dirs);

  [[nodiscard]] bool empty() const { return !v1_ && !v2_; }
  // Freezing uses cgroup.freeze where the run has a v2 cgroup, else the v1
  // freezer; false when it has neither.
  [[nodiscard]] bool can_freeze() const;
  // Returns when every process has stopped (bounded wait). Throws Error
  // when the run has no freezer, SysError when a file cannot be written.
  void freeze();
  void thaw();
  // SIGKILL to every process, no fork escaping (cgroup.kill, or freeze,
  // kill, thaw); false when no part can (no v2 cgroup, no v1 freezer).
  bool kill();
  CgroupNow now();
  // The limits the run's cgroup files hold now (`update`).
  RunLimits limits();
  // Writes each field change sets; throws Error naming the field when the
  // run has no cgroup file for it, SysError when the kernel refuses a value
  // (cgroup v1's memory limit below what the task uses: EBUSY).
  void set_limits(const RunLimits& change);
  // The host pids in the run's cgroups.
  std::vector<pid_t> processes();

 private:
  CgroupSyscalls& syscalls_;
  std::unique_ptr<CgroupDriver> v1_;
  std::unique_ptr<CgroupDriver> v2_;
};

}  // namespace tierbox::stages
