// The parent after exec: waits for the sandbox to end while relaying the
// caller's signals to it and enforcing the wall-clock limit.
#pragma once

#include <signal.h>

#include <chrono>
#include <functional>
#include <optional>

#include "common/unique_fd.h"
#include "launch/init.h"

namespace tierbox::launch {

// Signals the runner relays to the task (SIGINT from a terminal's Ctrl-C
// reaches the runner: the task is in a session of its own). Blocked in the
// runner and read from a signalfd.
class SignalRelay {
 public:
  // Blocks the relayed signals; the child inherits the mask and resets it.
  SignalRelay();
  ~SignalRelay();
  SignalRelay(const SignalRelay&) = delete;
  SignalRelay& operator=(const SignalRelay&) = delete;
  [[nodiscard]] int fd() const { return fd_.get(); }
  // The next pending signal, if any.
  std::optional<int> next();

 private:
  sigset_t relayed_{};
  sigset_t previous_{};
  UniqueFd fd_;
};

struct SupervisionResult {
  bool init_reaped = false;        // false: init reported and is exiting (reap_init)
  int init_status = 0;             // wait status of the sandbox's init, once reaped
  std::optional<TaskExit> task_exit;  // what init reported about the task
  bool timed_out = false;
  // CPU time of the whole task tree, in microseconds: from init's report, or
  // from init's rusage when it was reaped without one; every orphan of the
  // sandbox is reparented to init, so either counts them all.
  std::uint64_t cpu_user_us = 0;
  std::uint64_t cpu_system_us = 0;
};

class ControlServer;

// Until init reports the task's exit (the whole tree is then dead and
// reaped; init itself is still exiting: see reap_init) or init exits without
// a report (killed). On the deadline, kill_tree() kills the task tree through
// its cgroup (a fork racing with the kill cannot escape it), and SIGKILL to
// init tears down the whole pid namespace as well. control (if any): the
// run's control socket, served meanwhile (control_server.h). relay: none
// when the entry point relays signals itself.
SupervisionResult supervise(int pidfd, SignalRelay* relay, int status_fd,
                            std::chrono::steady_clock::time_point deadline, const std::function<void()>& kill_tree,
                            ControlServer* control = nullptr);

// Waits for init's exit after its report (namespace teardown), unless
// supervise already reaped it.
void reap_init(int pidfd, SupervisionResult& result);

// Kills (if still alive) and reaps the sandbox's init; for error paths.
void kill_and_reap(int pidfd);

}  // namespace tierbox::launch
