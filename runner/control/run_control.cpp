#include "control/run_control.h"

#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <fstream>
#include <sstream>
#include <thread>

#include "common/errors.h"
#include "common/process_info.h"
#include "control/isolation.h"
#include "stages/cgroup.h"

namespace tierbox::launch {
namespace {

using namespace std::chrono_literals;

std::vector<std::pair<std::string, stages::CgroupVersion>> recorded_cgroups(const RunRecord& record) {
  std::vector<std::pair<std::string, stages::CgroupVersion>> dirs;
  const auto cgroup = record.resources.find("cgroup");
  if (cgroup == record.resources.end() || !cgroup->is_object()) return dirs;
  for (const auto& dir : cgroup->value("dirs", nlohmann::json::array())) {
    if (!dir.is_object()) continue;
    dirs.emplace_back(dir.value("path", ""),
                      dir.value("version", 0) == 1 ? stages::CgroupVersion::v1 : stages::CgroupVersion::v2);
  }
  return dirs;
}

// The run's cgroups as they are now, with the syscalls they use.
struct LiveCgroups {
  stages::LinuxCgroupSyscalls syscalls;
  std::optional<stages::AttachedRunCgroups> cgroups;

  explicit LiveCgroups(const RunRecord& record) {
    const auto host = stages::parse_host_cgroups(stages::read_host_cgroup_inputs(syscalls));
    cgroups.emplace(syscalls, host, cgroup_owner_id(record), recorded_cgroups(record));
  }
};

void require_sandbox(const RunRecord& record) {
  if (record.sandbox_pid <= 0 || record.state == "starting")
    throw Error("run " + record.run_id + " is still starting (it has no sandbox yet); try again in a moment",
                exit_code::runner_failed);
}

// CPU time of the processes alive now, from /proc/PID/stat (utime + stime).
std::optional<std::uint64_t> cpu_of_processes(const std::vector<pid_t>& pids) {
  if (pids.empty()) return std::nullopt;
  const long ticks = ::sysconf(_SC_CLK_TCK);
  std::uint64_t total_ticks = 0;
  for (pid_t pid : pids) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto paren = text.rfind(')');
    if (paren == std::string::npos) continue;
    std::istringstream fields(text.substr(paren + 2));
    std::string field;
    std::uint64_t utime = 0, stime = 0;
    // After ")": state is field 3; utime 14, stime 15.
    for (int index = 3; index <= 15 && fields >> field; ++index) {
      if (index == 14) utime = std::strtoull(field.c_str(), nullptr, 10);
      if (index == 15) stime = std::strtoull(field.c_str(), nullptr, 10);
    }
    total_ticks += utime + stime;
  }
  return ticks > 0 ? std::optional<std::uint64_t>(total_ticks * 1'000'000 / static_cast<std::uint64_t>(ticks))
                   : std::nullopt;
}

std::optional<std::chrono::system_clock::time_point> parse_rfc3339_utc(const std::string& text) {
  std::tm utc{};
  int millis = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &utc.tm_year, &utc.tm_mon, &utc.tm_mday, &utc.tm_hour,
                  &utc.tm_min, &utc.tm_sec, &millis) != 7)
    return std::nullopt;
  utc.tm_year -= 1900;
  utc.tm_mon -= 1;
  return std::chrono::system_clock::from_time_t(::timegm(&utc)) + std::chrono::milliseconds(millis);
}

std::string seconds_text(std::chrono::steady_clock::duration duration) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f s", std::chrono::duration<double>(duration).count());
  return text;
}

}  // namespace

std::string resolve_run_id(const std::vector<std::string>& ids, const std::string& prefix) {
  if (prefix.empty()) throw Error("no run id given", exit_code::runner_failed);
  std::vector<std::string> matches;
  for (const auto& id : ids) {
    if (id == prefix) return id;
    if (id.compare(0, prefix.size(), prefix) == 0) matches.push_back(id);
  }
  if (matches.size() == 1) return matches.front();
  if (matches.empty()) throw Error("no running sandbox has a run id starting with " + quote(prefix) + " (tierbox ps lists them)", exit_code::runner_failed);
  std::sort(matches.begin(), matches.end());
  std::string list;
  for (const auto& id : matches) list += (list.empty() ? "" : ", ") + id;
  throw Error("run id prefix " + quote(prefix) + " is ambiguous: " + list + " (fix: give more of the id)", exit_code::runner_failed);
}

RunRegistry::Listed find_run(const RunRegistry& registry, const std::string& id_or_prefix) {
  std::vector<std::string> ids;
  const auto runs = registry.list();
  for (const auto& listed : runs)
    if (listed.runner_alive) ids.push_back(listed.record.run_id);
  const auto id = resolve_run_id(ids, id_or_prefix);
  for (const auto& listed : runs)
    if (listed.record.run_id == id) return listed;
  throw Error("run " + id + " ended meanwhile", exit_code::runner_failed);
}

std::optional<SandboxInit> SandboxInit::open(const RunRecord& record) {
  if (record.sandbox_pid <= 0 || record.sandbox_start_time == 0) return std::nullopt;
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, record.sandbox_pid, 0)));
  if (!pidfd) {
    if (errno == ESRCH) return std::nullopt;
    throw_sys_error("pidfd_open(" + std::to_string(record.sandbox_pid) + ")");
  }
  // Opened first, checked second: if the start time matches now, the pidfd
  // was opened while the pid still named the run's init (a pid is not
  // reused while its process exists), so it refers to that process for good.
  if (process_start_time(record.sandbox_pid) != record.sandbox_start_time) return std::nullopt;
  return SandboxInit(std::move(pidfd));
}

bool SandboxInit::signal(int signal_number) const {
  if (::syscall(SYS_pidfd_send_signal, pidfd_.get(), signal_number, nullptr, 0) == 0) return true;
  if (errno == ESRCH) return false;
  throw_sys_error("pidfd_send_signal(sandbox init, " + std::string(sigabbrev_np(signal_number) ? sigabbrev_np(signal_number) : "?") + ")");
}

bool SandboxInit::wait_for_exit(std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    struct pollfd exited {pidfd_.get(), POLLIN, 0};
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
    const int ready = ::poll(&exited, 1, static_cast<int>(std::max<long long>(left, 0)));
    if (ready > 0) return true;
    if (ready == 0) return false;
    if (errno != EINTR) throw_sys_error("poll(pidfd of the sandbox init)");
  }
}

RunFigures run_figures(const RunRecord& record) {
  RunFigures figures;
  LiveCgroups live(record);
  const auto now = live.cgroups->now();
  figures.memory_bytes = now.memory_bytes;
  figures.pids = now.pids;
  figures.frozen = now.frozen;
  figures.cpu_us = now.cpu_us ? now.cpu_us : cpu_of_processes(live.cgroups->processes());
  return figures;
}

std::vector<pid_t> run_processes(const RunRecord& record) {
  require_sandbox(record);
  LiveCgroups live(record);
  return live.cgroups->empty() ? std::vector<pid_t>{} : live.cgroups->processes();
}

stages::RunLimits run_limits(const RunRecord& record) {
  require_sandbox(record);
  LiveCgroups live(record);
  if (live.cgroups->empty()) throw Error("run " + record.run_id + " has no cgroup left (it is ending)", exit_code::runner_failed);
  return live.cgroups->limits();
}

stages::RunLimits set_run_limits(const RunRecord& record, const stages::RunLimits& change) {
  require_sandbox(record);
  LiveCgroups live(record);
  if (live.cgroups->empty()) throw Error("run " + record.run_id + " has no cgroup left (it is ending)", exit_code::runner_failed);
  live.cgroups->set_limits(change);
  return live.cgroups->limits();
}

std::string freeze_run(const RunRecord& record) {
  require_sandbox(record);
  LiveCgroups live(record);
  if (live.cgroups->empty()) throw Error("run " + record.run_id + " has no cgroup left (it is ending)", exit_code::runner_failed);
  live.cgroups->freeze();
  if (live.cgroups->now().frozen != true)
    return "run " + record.run_id + ": freezing (a process has not stopped yet, e.g. in an uninterruptible sleep)";
  return "run " + record.run_id + ": frozen (every process stopped)";
}

std::string thaw_run(const RunRecord& record) {
  require_sandbox(record);
  LiveCgroups live(record);
  if (live.cgroups->empty()) throw Error("run " + record.run_id + " has no cgroup left (it is ending)", exit_code::runner_failed);
  live.cgroups->thaw();
  return "run " + record.run_id + ": thawed (running again)";
}

std::string kill_run(const RunRecord& record) {
  require_sandbox(record);
  bool killed = false;
  {
    LiveCgroups live(record);
    killed = !live.cgroups->empty() && live.cgroups->kill();
  }
  // And init: the kernel then kills whatever else is in the pid namespace
  // (the only way for a run without a cgroup able to kill).
  if (auto init = SandboxInit::open(record)) killed = init->signal(SIGKILL) || killed;
  if (!killed) return "run " + record.run_id + ": already ended";
  return "run " + record.run_id + ": killed (every process of the sandbox)";
}

std::string terminate_run(const RunRecord& record) {
  require_sandbox(record);
  auto init = SandboxInit::open(record);
  if (!init || !init->signal(SIGTERM)) return "run " + record.run_id + ": already ended";
  return "run " + record.run_id + ": SIGTERM sent to the task";
}

std::string isolate_run(const RunRegistry& registry, const RunRecord& record) {
  require_sandbox(record);
  if (record.network_mode == "host")
    throw Error("run " + record.run_id + " uses the host's own network (mode host), which cannot be cut without "
                "cutting the host's (fix: tierbox freeze " + record.run_id + " or tierbox stop " + record.run_id + ")",
                exit_code::runner_failed);
  return isolate_run_network(registry, record.run_id);
}

std::string stop_run(const RunRecord& record, std::chrono::milliseconds grace) {
  require_sandbox(record);
  auto init = SandboxInit::open(record);
  if (!init) return "run " + record.run_id + ": already ended";
  if (run_figures(record).frozen == true) {
    kill_run(record);
    return "run " + record.run_id + ": frozen, so it could not act on SIGTERM: killed at once";
  }
  const auto started = std::chrono::steady_clock::now();
  if (!init->signal(SIGTERM)) return "run " + record.run_id + ": already ended";
  if (init->wait_for_exit(grace))
    return "run " + record.run_id + ": ended on SIGTERM after " + seconds_text(std::chrono::steady_clock::now() - started);
  kill_run(record);
  return "run " + record.run_id + ": still running after the grace period of " + seconds_text(grace) + ": killed";
}

bool wait_until_over(const RunRegistry& registry, const std::string& run_id, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    const auto listed = registry.find(run_id);
    if (!listed || !listed->runner_alive) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
}

nlohmann::json describe_run(const RunRegistry::Listed& listed, const ControlState& control, const RunFigures& figures) {
  const auto& record = listed.record;
  const auto optional_number = [](const std::optional<std::uint64_t>& value) {
    return value ? nlohmann::json(*value) : nlohmann::json();
  };
  std::string state;
  const bool frozen = figures.frozen.value_or(false);
  if (!listed.runner_alive) state = "dead";  // `tierbox gc` cleans it up
  else if (record.sandbox_pid <= 0 || record.state == "starting") state = "starting";
  else {
    if (!control.stopping_since.empty()) state = "stopping";
    if (frozen) state += std::string(state.empty() ? "" : ",") + "frozen";
    if (control.isolated) state += std::string(state.empty() ? "" : ",") + "isolated";
    if (state.empty()) state = "running";
  }
  nlohmann::json runtime;
  if (const auto started = parse_rfc3339_utc(record.started_at))
    runtime = std::max<long long>(0, std::chrono::duration_cast<std::chrono::milliseconds>(
                                         std::chrono::system_clock::now() - *started).count());
  nlohmann::json requester = record.requester.empty() ? std::to_string(record.requester_uid) : record.requester;
  return {{"run_id", record.run_id},
          {"tier", record.tier},
          {"requester", requester},
          {"requester_uid", record.requester_uid},
          {"sudo_user", record.sudo_user.empty() ? nlohmann::json() : nlohmann::json(record.sudo_user)},
          {"argv", record.argv},
          {"pid", record.sandbox_pid},
          {"runner_pid", record.runner_pid},
          {"started_at", record.started_at},
          {"runtime_ms", runtime},
          {"state", state},
          {"frozen", frozen},
          {"isolated", control.isolated},
          {"mem_bytes", optional_number(figures.memory_bytes)},
          {"pids", optional_number(figures.pids)},
          {"cpu_ms", figures.cpu_us ? nlohmann::json(*figures.cpu_us / 1000) : nlohmann::json()},
          {"network_mode", record.network_mode},
          {"actions", control.actions}};
}

}  // namespace tierbox::launch
