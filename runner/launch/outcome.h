// What happened to a launch, as the parent saw it.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "launch/workspace_review.h"
#include "net/report.h"

#include "stages/cgroup.h"

namespace tierbox::launch {

struct Outcome {
  std::string run_id;
  pid_t pid = -1;                  // host pid of the sandbox's init
  bool exec_succeeded = false;
  std::optional<int> exit_code;    // the task exited normally
  std::optional<int> signal;       // the task (or the sandbox) was killed by a signal
  bool timed_out = false;
  std::string failure;             // one line, when setup or exec failed
  int failure_exit_status = 0;     // 125 (setup) or 127 (command not found)
  std::chrono::system_clock::time_point started_at{};
  std::chrono::system_clock::time_point ended_at{};
  std::chrono::milliseconds wall{0};
  std::vector<std::string> overrides;  // audited exceptions the plan carried (--allow-expired-tier)
  // What the network did (mode allowlist counts; none and host report only
  // their mode). Set when the task ran; for the run's result file.
  std::optional<net::NetworkReport> network;
  // What the task used: from its cgroups; CPU time from the sandbox init's
  // rusage (its whole tree) where no cgroup counts it.
  stages::CgroupUsage usage;
  stages::CgroupReport cgroup;     // how the run's cgroups were set up
  // What Landlock applied and what this kernel could not
  // (policy::landlock_report); null when the launch never began.
  nlohmann::json landlock;
  // Syscalls the seccomp filter denied with an errno, by name, when the tier
  // counts them (seccomp.count_denials); for the run's result.
  std::map<std::string, std::uint64_t> denied_syscalls;
  // What the task left in a writable workspace that git on the host would
  // run: repositories registered as submodules, todo lists with exec lines
  // (launch/workspace_review.h).
  std::vector<WorkspaceWarning> workspace_warnings;

  // tierbox's own exit status: the task's code, 128+N for signal N, 124 for a
  // timeout, or the failure status.
  [[nodiscard]] int exit_status() const;
};

}  // namespace tierbox::launch
