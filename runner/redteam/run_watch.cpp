#include "redteam/run_watch.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>

#include "audit/audit_log.h"
#include "common/errors.h"
#include "common/rfc3339.h"
#include "control/control_state.h"
#include "control/run_control.h"
#include "launch/run_registry.h"

namespace tierbox::redteam {
namespace {

// How long the watcher waits for the report: the program's hold (runner.cpp)
// and a margin for a slow host.
constexpr auto kWatchLimit = std::chrono::seconds(90);
// The grace of `tierbox stop`'s SIGTERM before SIGKILL, shortened.
constexpr auto kStopGrace = std::chrono::seconds(2);
// The report is small; more is no report.
constexpr std::size_t kMaxReportBytes = 1 << 20;

UniqueFd private_file(const std::filesystem::path& directory) {
  UniqueFd fd(::open(directory.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
  if (!fd) throw_sys_error("open(" + quote(directory.string()) + ", O_TMPFILE|O_RDWR|O_CLOEXEC)");
  return fd;
}

}  // namespace

AgentChannels::AgentChannels() {
  const auto directory = std::filesystem::temp_directory_path();
  null_ = UniqueFd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!null_) throw_sys_error("open(\"/dev/null\", O_RDONLY)");
  output_ = private_file(directory);
  report_ = private_file(directory);
  // The task's copy: write-only, and without O_CLOEXEC, since a passed fd
  // reaches the task through execve as the caller's --pass-fd fds do (the
  // launch closes every other fd but does not clear the flag). The runner
  // starts no other program while it is open but the run's own helpers,
  // which hold a write end of an anonymous file at most.
  const auto self = "/proc/self/fd/" + std::to_string(report_.get());
  report_writer_ = UniqueFd(::open(self.c_str(), O_WRONLY));
  if (!report_writer_) throw_sys_error("open(" + quote(self) + ", O_WRONLY)");
}

std::string AgentChannels::report() const {
  std::string out;
  char buffer[8192];
  for (off_t offset = 0; out.size() < kMaxReportBytes;) {
    const auto n = ::pread(report_.get(), buffer, sizeof buffer, offset);
    if (n <= 0) break;
    out.append(buffer, static_cast<std::size_t>(n));
    offset += n;
  }
  return out;
}

std::uint64_t AgentChannels::stdout_bytes() const {
  struct stat st {};
  if (::fstat(output_.get(), &st) != 0) throw_sys_error("fstat(the redteam run's stdout file)");
  return static_cast<std::uint64_t>(st.st_size);
}

std::vector<int> processes_named(const std::string& name) {
  std::vector<int> found;
  for (int round = 0; round < 20; ++round) {
    found.clear();
    if (DIR* dir = ::opendir("/proc")) {
      while (auto* entry = ::readdir(dir)) {
        if (entry->d_name[0] < '1' || entry->d_name[0] > '9') continue;
        std::ifstream comm(std::string("/proc/") + entry->d_name + "/comm");
        std::string text;
        if (std::getline(comm, text) && text == name) found.push_back(std::atoi(entry->d_name));
      }
      ::closedir(dir);
    }
    if (found.empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return found;
}

Stopper::Stopper(StopSettings settings, std::string marker, std::function<std::string()> report,
                 std::function<void()> on_report)
    : settings_(std::move(settings)), marker_(std::move(marker)), report_(std::move(report)), on_report_(std::move(on_report)) {
  thread_ = std::thread([this] { run(); });
}

std::string Stopper::finish() {
  done_ = true;
  if (thread_.joinable()) thread_.join();
  return what_;
}

void Stopper::run() {
  const auto deadline = std::chrono::steady_clock::now() + kWatchLimit;
  while (!done_ && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const auto text = report_();
    if (text.empty() || text.back() != '\n') continue;
    if (on_report_) on_report_();
    try {
      stop_listed_run();
    } catch (const Error& error) {
      what_ = std::string("stop failed: ") + error.what();
    }
    return;
  }
}

void Stopper::stop_listed_run() {
  const launch::RunRegistry registry(settings_.state_dir);
  for (const auto& listed : registry.list()) {
    const auto& argv = listed.record.argv;
    if (!listed.has_record || std::find(argv.begin(), argv.end(), "double-fork:" + marker_) == argv.end()) continue;
    launch::update_control_state(registry, listed.record.run_id, [](launch::ControlState& state) {
      state.stopping_since = rfc3339_utc(std::chrono::system_clock::now());
    });
    std::string result = "ok";
    try {
      what_ = launch::stop_run(listed.record, kStopGrace);
    } catch (const Error& error) {
      result = error.what();
      what_ = std::string("stop failed: ") + error.what();
    }
    // What outlived the stop, looked for now: a run that lingers would
    // otherwise let the grandchild end by itself first.
    survivors_ = processes_named(marker_);
    // As `tierbox stop` records it (cli/control_command.cpp), after the
    // action; the simulation named, so it reads as part of the simulation.
    auto record = launch::control_audit_event("stop", listed.record.run_id, result, audit::to_json(audit::current_identity()));
    record["simulation"] = settings_.simulation;
    try {
      audit::AuditLog(settings_.audit_log, settings_.audit_syslog).append(std::move(record));
    } catch (const Error& error) {
      what_ += std::string("; its control record could not be written: ") + error.what();
    }
    return;
  }
}

}  // namespace tierbox::redteam
