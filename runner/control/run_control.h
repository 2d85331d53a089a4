// The control commands' actions on a running sandbox (ps, stop, kill,
// freeze, thaw, isolate, panic; docs/incident-response.md), carried out with
// root's privileges: by a root `tierbox` command directly, or by the run's
// own runner for a control socket's caller it has authorised
// (control_server.h). Each action checks that what it touches is still the
// run's: the sandbox init by its start time (a pid may have been reused),
// cgroups by their name and place, the network by its namespace inode. A
// process that is not the run's is never signalled.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "common/unique_fd.h"
#include "control/control_state.h"
#include "launch/run_registry.h"
#include "stages/cgroup.h"

namespace tierbox::launch {

// The one id among ids equal to or starting with prefix. Throws Error (125)
// when none or several match (the message lists them).
std::string resolve_run_id(const std::vector<std::string>& ids, const std::string& prefix);

// The registered run with this id or unique id prefix. Throws Error (125).
RunRegistry::Listed find_run(const RunRegistry& registry, const std::string& id_or_prefix);

// The sandbox's init (pid 1 of its pid namespace), held by a pidfd.
class SandboxInit {
 public:
  // nullopt when the run has no init yet, it has exited, or its pid now
  // names another process (the start time differs).
  static std::optional<SandboxInit> open(const RunRecord& record);
  // init forwards every signal but SIGCHLD to the task's process group
  // (init.cpp); SIGKILL ends init and with it the whole pid namespace.
  // False when it is gone.
  bool signal(int signal_number) const;
  // Whether it exits within timeout.
  [[nodiscard]] bool wait_for_exit(std::chrono::milliseconds timeout) const;

 private:
  explicit SandboxInit(UniqueFd pidfd) : pidfd_(std::move(pidfd)) {}
  UniqueFd pidfd_;
};

// What a run uses now, for ps. cpu_us: from the cgroup where it counts CPU,
// else the CPU time of the run's processes alive now (/proc/PID/stat).
struct RunFigures {
  std::optional<std::uint64_t> memory_bytes;
  std::optional<std::uint64_t> pids;
  std::optional<std::uint64_t> cpu_us;
  std::optional<bool> frozen;  // nullopt: no freezer (or no cgroup left)
};
RunFigures run_figures(const RunRecord& record);

// The host pids of every process in the run's cgroups now (the OCI
// runtime's `ps`); empty when it has no cgroup left.
std::vector<pid_t> run_processes(const RunRecord& record);

// The limits the run's cgroup files hold now (the OCI runtime's `update`).
stages::RunLimits run_limits(const RunRecord& record);
// Writes change's fields into the run's cgroups (stages::AttachedRunCgroups::
// set_limits) and returns the limits they hold after. Throws Error.
stages::RunLimits set_run_limits(const RunRecord& record, const stages::RunLimits& change);

// Each returns one line saying what was done, or throws Error.
std::string freeze_run(const RunRecord& record);
std::string thaw_run(const RunRecord& record);
// The whole tree at once: SIGKILL through the cgroup (no fork escapes),
// then to init, which takes the pid namespace with it.
std::string kill_run(const RunRecord& record);
// SIGTERM to the task's process group, through init.
std::string terminate_run(const RunRecord& record);
// Cuts the network (allowlist: every packet dropped, established
// connections included); mode none has none to cut; mode host cannot be cut
// (Error, 125: freeze or stop it instead).
std::string isolate_run(const RunRegistry& registry, const RunRecord& record);

// stop: SIGTERM to the task; when the sandbox has not ended after grace, the
// whole tree is killed. A frozen run cannot act on a SIGTERM: it is killed
// at once. Returns how it ended.
std::string stop_run(const RunRecord& record, std::chrono::milliseconds grace);

// Until the run's registry entry is gone or its runner dead (the runner has
// removed its cgroups and network and exited); false on timeout.
bool wait_until_over(const RunRegistry& registry, const std::string& run_id, std::chrono::milliseconds timeout);

// A row of `tierbox ps --json` (docs/cli.md lists the fields).
nlohmann::json describe_run(const RunRegistry::Listed& listed, const ControlState& control, const RunFigures& figures);

}  // namespace tierbox::launch
