// Helpers for integration tests: run build/tierbox as a real process (never
// in-process: each launch must be a fresh runner), with a workspace that holds
// the probe, and read the probe's JSON report.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/temp_dir.h"

namespace tierbox::testing {

struct ProcessResult {
  int status = -1;  // exit code, or 128 + signal
  std::string out;
  std::string err;
  bool timed_out = false;
};

struct SpawnOptions {
  std::string stdin_data;
  std::vector<std::pair<int, int>> inherit_fds;  // {fd in the test, fd number in the child}
  std::vector<std::string> env;                  // replaces the environment when not empty
  std::chrono::seconds timeout{60};
};

ProcessResult run_process(const std::vector<std::string>& argv, const SpawnOptions& options = {});
// useradd, userdel, groupadd, groupdel: they fail while another process holds
// /etc/passwd's lock (concurrent tests make users too), so this tries again
// for up to 5 s; returns the last attempt's result.
ProcessResult run_account_tool(const std::vector<std::string>& argv);
// build/tierbox with args.
ProcessResult run_tierbox(const std::vector<std::string>& args, const SpawnOptions& options = {});
// argv run with a new pseudo-terminal as its controlling terminal and stdio.
// When the output so far contains reply_after, reply is typed once.
ProcessResult run_in_pty(const std::vector<std::string>& argv, std::string reply_after = "",
                         const std::string& reply = "");

// Writes config/tierbox.json giving runs started with `--config-dir config` a
// registry (state directory) of their own, config/state, and returns its
// runs/ directory. A test that kills a runner and then runs `tierbox gc`
// needs one: a gc of the default registry, run by a test in parallel, would
// otherwise clean the dead run first, and this test's gc would find nothing.
std::filesystem::path use_own_registry(const TempDir& config);

// A workspace directory holding a copy of the probe as ./probe.
class Workspace : public TempDir {
 public:
  Workspace();
};

// Runs `tierbox run <run_args> -- ./probe <probe_args>` in a fresh workspace
// (added as --workspace unless run_args has one) and returns its report.
// Fails the test when tierbox does not exit 0 or the output is not JSON.
nlohmann::json probe(const std::vector<std::string>& run_args, const std::vector<std::string>& probe_args);
nlohmann::json probe_in(const Workspace& workspace, const std::vector<std::string>& run_args,
                        const std::vector<std::string>& probe_args);

// A tierbox started in the background, its stderr readable line by line.
class BackgroundRun {
 public:
  // prefix: what runs tierbox (e.g. with_hosts_file()), if anything.
  explicit BackgroundRun(const std::vector<std::string>& args, const std::vector<std::string>& prefix = {});
  ~BackgroundRun();
  BackgroundRun(const BackgroundRun&) = delete;
  BackgroundRun& operator=(const BackgroundRun&) = delete;
  // Reads stderr until a line contains text; returns that line ("" on timeout or EOF).
  std::string wait_for_line(const std::string& text, std::chrono::seconds timeout = std::chrono::seconds(20));
  void signal(int signal_number) const;
  // Waits for exit; returns the exit status (128 + signal), -1 on timeout.
  int wait(std::chrono::seconds timeout = std::chrono::seconds(30));
  [[nodiscard]] pid_t pid() const { return pid_; }
  std::string out();
  // Everything of stderr wait_for_line has read so far (for a failure's
  // message).
  [[nodiscard]] std::string err_read() const { return err_passed_ + err_buffer_; }

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  int err_fd_ = -1;
  std::string err_buffer_;
  std::string err_passed_;  // the lines wait_for_line went past
  bool reaped_ = false;
};

// The sandbox init's host pid, from a `run -v` line "sandbox init is host pid N".
std::optional<pid_t> sandbox_pid_from(const std::string& line);
// Everything fd gives until EOF (or an error); the fd stays open.
std::string read_until_eof(int fd);
bool process_exists(pid_t pid);
// /proc/<pid>/cmdline with NULs as spaces; "" when the process is gone (it
// may exit while being read: never an exception).
std::string process_cmdline(const std::string& pid);
// stderr without the warnings that name what an older kernel's Landlock
// cannot enforce (one per missing restriction: three on Debian 12's 6.1,
// none on 6.12 and later): for checks of the rest of stderr, on any kernel.
std::string without_landlock_warnings(const std::string& err);
// The number of lines (newlines) of a text.
int line_count(const std::string& text);

// A /proc file of some process, "" when it cannot be read: the process may
// exit between listing /proc and the read, which makes read() fail with
// ESRCH (an std::ifstream throws from underflow then).
std::string read_proc_file(const std::string& path);
// Polls until pid is gone; false if it still exists after timeout.
bool wait_until_gone(pid_t pid, std::chrono::milliseconds timeout);

extern const char* const kTierbox;
extern const char* const kProbe;
extern const char* const kSourceDir;

}  // namespace tierbox::testing
