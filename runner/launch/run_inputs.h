// The run's own inputs as the child reads them: argv, environment, the file
// to execute, PATH, cwd and rlimits, in one flat block of memory the parent
// maps MAP_SHARED before clone. The parent fills it when the request arrives
// (at once on the cold path, later for a prepared sandbox: a child cloned
// earlier sees nothing the parent allocates afterwards) and then sends sync
// #1b; the child reads it only after #1b. Pointers in the block point into
// the block, which is at the same address in both processes.
//
// The parent never reads the block back, so nothing the sandbox's init could
// write there reaches the runner; a prepared sandbox's block serves one run.
#pragma once

#include <cstddef>
#include <cstdint>

#include "policy/launch_plan.h"

namespace tierbox::launch {

inline constexpr std::size_t kMaxRunRlimits = 16;

struct RunInputs {
  char** argv = nullptr;             // null-terminated
  char** envp = nullptr;             // null-terminated
  const char* exec_path = "";        // "" = search exec_search_path
  const char* exec_search_path = "";
  const char* cwd = "/";
  std::size_t rlimit_count = 0;
  policy::RlimitSetting rlimits[kMaxRunRlimits];
};

class RunInputsArea {
 public:
  // Maps the block (MAP_SHARED|MAP_ANONYMOUS|MAP_NORESERVE: only the pages
  // written cost memory). Throws SysError.
  RunInputsArea();
  ~RunInputsArea();
  RunInputsArea(const RunInputsArea&) = delete;
  RunInputsArea& operator=(const RunInputsArea&) = delete;

  // Writes the plan's per-run inputs. Throws Error when they do not fit
  // (far beyond what execve accepts) or there are too many rlimits.
  void fill(const policy::LaunchPlan& plan);
  [[nodiscard]] const RunInputs* inputs() const { return reinterpret_cast<const RunInputs*>(base_); }

 private:
  char* base_ = nullptr;
};

}  // namespace tierbox::launch
