// What `tierbox redteam` keeps around one simulated run (runner.cpp): the
// scenario program's stdio and report channel, and the watcher that, once
// the report is in, looks at the host (the staged fill) and stops the run as
// `tierbox stop` does (survive-stop), auditing the stop as a control record.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "common/unique_fd.h"

namespace tierbox::redteam {

// The task's stdin (/dev/null: a TIOCSTI that got through types into
// nothing), its stdout (a private file: a flood lands there, or is cut
// before), and the report channel (a private file the run passes to the
// program as an extra fd). Nothing of the runner's own stdio is touched.
class AgentChannels {
 public:
  AgentChannels();
  AgentChannels(const AgentChannels&) = delete;
  AgentChannels& operator=(const AgentChannels&) = delete;
  [[nodiscard]] int task_stdin() const { return null_.get(); }
  [[nodiscard]] int task_stdout() const { return output_.get(); }
  // Passed to the task at this number (TaskRequest::simulation.report_fd).
  [[nodiscard]] int report_fd() const { return report_writer_.get(); }
  // The report as far as the program has written it (it ends with a newline
  // once complete).
  [[nodiscard]] std::string report() const;
  // How many bytes reached the task's stdout file.
  [[nodiscard]] std::uint64_t stdout_bytes() const;

 private:
  UniqueFd null_, output_, report_, report_writer_;
};

// Host pids whose comm is name (the double-forked grandchild of survive-stop),
// after the grace the kernel takes to end a pid namespace's last processes.
std::vector<int> processes_named(const std::string& name);

struct StopSettings {
  std::filesystem::path state_dir;  // the run registry
  std::filesystem::path audit_log;  // where the control record goes
  std::string audit_syslog;
  std::string simulation;           // "redteam": on the control record
};

// Runs beside run_task on a thread of its own: once the report is complete,
// calls on_report (the host-side checks, while the program holds what it
// made), then finds the run by the survive-stop marker in its argv and stops
// it (SIGTERM to the task, SIGKILL to the sandbox after a grace), records
// the stop as `tierbox stop` does (a control record, here with the
// simulation named), and looks for the grandchild on the host right away.
class Stopper {
 public:
  Stopper(StopSettings settings, std::string marker, std::function<std::string()> report,
          std::function<void()> on_report);
  ~Stopper() { finish(); }
  Stopper(const Stopper&) = delete;
  Stopper& operator=(const Stopper&) = delete;
  // Waits for the thread (a stop in progress finishes first); what it did.
  std::string finish();
  // The grandchild's host pids found right after the stop (after finish()).
  [[nodiscard]] const std::vector<int>& survivors() const { return survivors_; }

 private:
  void run();
  void stop_listed_run();
  StopSettings settings_;
  std::string marker_;
  std::function<std::string()> report_;
  std::function<void()> on_report_;
  std::atomic<bool> done_{false};
  std::string what_;
  std::vector<int> survivors_;
  std::thread thread_;
};

}  // namespace tierbox::redteam
