#include "redteam/runner.h"

#include <dirent.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <set>
#include <atomic>
#include <functional>
#include <thread>

#include "common/errors.h"
#include "common/files.h"
#include "common/process_info.h"
#include "common/rfc3339.h"
#include "common/run_id.h"
#include "common/unique_fd.h"
#include "common/users.h"
#include "control/control_state.h"
#include "control/run_control.h"
#include "launch/run_registry.h"
#include "policy/profile_loader.h"
#include "policy/runner_config.h"
#include "service/run_task.h"


namespace tierbox::redteam {
namespace {

constexpr const char* kAgentName = "tierbox-redteam-agent";
// How long the program stays after its report, waiting to be stopped.
constexpr int kHoldSeconds = 30;

// survive-stop: once the program has reported (its grandchild is running by
// then), stops the run as `tierbox stop` does (SIGTERM to the task, SIGKILL to
// the sandbox after a grace); the runner's own launch then ends, and the host
// is searched for the grandchild. Runs beside run_task on a thread of its own.
std::vector<int> processes_named(const std::string& name);

class Stopper {
 public:
  Stopper(std::filesystem::path state_dir, std::string marker, std::function<std::string()> report)
      : thread_([this, state_dir = std::move(state_dir), marker = std::move(marker), report = std::move(report)] {
          run(state_dir, marker, report);
        }) {}
  ~Stopper() { finish(); }
  Stopper(const Stopper&) = delete;
  Stopper& operator=(const Stopper&) = delete;
  // Waits for the thread (a stop in progress finishes first); what it did.
  std::string finish() {
    done_ = true;
    if (thread_.joinable()) thread_.join();
    return what_;
  }
  // The grandchild's host pids found right after the stop (after finish()).
  [[nodiscard]] const std::vector<int>& survivors() const { return survivors_; }

 private:
  void run(const std::filesystem::path& state_dir, const std::string& marker, const std::function<std::string()>& report) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(kHoldSeconds + 60);
    while (!done_ && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      const auto text = report();
      if (text.empty() || text.back() != '\n') continue;
      try {
        const launch::RunRegistry registry(state_dir);
        for (const auto& listed : registry.list()) {
          const auto& argv = listed.record.argv;
          if (!listed.has_record || std::find(argv.begin(), argv.end(), "double-fork:" + marker) == argv.end()) continue;
          launch::update_control_state(registry, listed.record.run_id, [](launch::ControlState& state) {
            state.stopping_since = rfc3339_utc(std::chrono::system_clock::now());
          });
          what_ = launch::stop_run(listed.record, std::chrono::seconds(2));
          // What outlived the stop, looked for now: a run that lingers
          // would otherwise let the grandchild end by itself first.
          survivors_ = processes_named(marker);
          return;
        }
      } catch (const Error& error) {
        what_ = std::string("stop failed: ") + error.what();
        return;
      }
    }
  }
  std::atomic<bool> done_{false};
  std::string what_;
  std::vector<int> survivors_;
  std::thread thread_;
};

std::vector<std::string> host_ipv4_addresses() {
  std::vector<std::string> out;
  struct ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return out;
  for (auto* entry = list; entry; entry = entry->ifa_next) {
    if (!entry->ifa_addr || entry->ifa_addr->sa_family != AF_INET) continue;
    char text[INET_ADDRSTRLEN] = {};
    ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(entry->ifa_addr)->sin_addr, text, sizeof text);
    const std::string address = text;
    if (address.rfind("127.", 0) != 0 && std::find(out.begin(), out.end(), address) == out.end()) out.push_back(address);
  }
  ::freeifaddrs(list);
  return out;
}

// Host pids whose comm is name (the double-forked grandchild of
// survive-stop). The kernel kills a pid namespace's last processes after its
// init is gone, not at once: a survivor is one still there after a grace.
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

// A fresh workspace holding the program, with the files protected_paths
// names, so the writes to them are attempted on files that exist.
class AgentWorkspace {
 public:
  explicit AgentWorkspace(const std::filesystem::path& agent) {
    std::string pattern = (std::filesystem::temp_directory_path() / "tierbox-redteam.XXXXXX").string();
    if (!::mkdtemp(pattern.data())) throw_sys_error("mkdtemp(" + pattern + ")");
    path_ = pattern;
    std::error_code ec;
    std::filesystem::copy_file(agent, path_ / kAgentName, ec);
    if (ec)
      throw Error("redteam: cannot copy " + agent.string() + " into the workspace: " + ec.message() +
                      " (fix: build or install tierbox-redteam-agent beside tierbox)",
                  exit_code::runner_failed);
    std::filesystem::permissions(path_ / kAgentName, std::filesystem::perms(0755));
    std::filesystem::create_directories(path_ / ".git" / "hooks");
    std::ofstream(path_ / ".git" / "config") << "[core]\n";
    std::ofstream(path_ / ".env") << "REDTEAM=1\n";
  }
  ~AgentWorkspace() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  AgentWorkspace(const AgentWorkspace&) = delete;
  AgentWorkspace& operator=(const AgentWorkspace&) = delete;
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// For the length of one launch: fd 0 is /dev/null and fd 1 a private file,
// which the sandboxed program inherits as its stdio; the runner's own stdio
// come back after.
class CapturedStdio {
 public:
  CapturedStdio() {
    output_ = UniqueFd(::open(std::filesystem::temp_directory_path().c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
    if (!output_) throw_sys_error("open(" + std::filesystem::temp_directory_path().string() + ", O_TMPFILE|O_RDWR)");
    UniqueFd null_fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (!null_fd) throw_sys_error("open(\"/dev/null\")");
    ::fflush(stdout);
    saved_in_ = UniqueFd(::fcntl(0, F_DUPFD_CLOEXEC, 3));
    saved_out_ = UniqueFd(::fcntl(1, F_DUPFD_CLOEXEC, 3));
    if (!saved_in_ || !saved_out_) throw_sys_error("fcntl(0 and 1, F_DUPFD_CLOEXEC)");
    if (::dup2(null_fd.get(), 0) < 0 || ::dup2(output_.get(), 1) < 0) throw_sys_error("dup2(stdio for the redteam run)");
  }
  ~CapturedStdio() { restore(); }
  CapturedStdio(const CapturedStdio&) = delete;
  CapturedStdio& operator=(const CapturedStdio&) = delete;

  void restore() {
    if (!saved_out_) return;
    ::dup2(saved_in_.get(), 0);
    ::dup2(saved_out_.get(), 1);
    saved_in_ = UniqueFd();
    saved_out_ = UniqueFd();
  }
  std::string text() {
    std::string out;
    char buffer[8192];
    for (off_t offset = 0;;) {
      const auto n = ::pread(output_.get(), buffer, sizeof buffer, offset);
      if (n <= 0) break;
      out.append(buffer, static_cast<std::size_t>(n));
      offset += n;
      if (out.size() > (1 << 20)) break;  // the report is small; more is the task's noise
    }
    return out;
  }

 private:
  UniqueFd output_, saved_in_, saved_out_;
};


}  // namespace

policy::TaskRequest simulated_request(const std::string& tier, const std::filesystem::path& workspace,
                                      const std::vector<std::string>& argv) {
  policy::TaskRequest request;
  request.tier = tier;
  request.workspace = workspace;
  request.argv = argv;
  request.caller_env = environment_of_this_process();
  request.caller.uid = ::getuid();
  request.caller.gid = ::getgid();
  request.caller.user_name = user_name(request.caller.uid);
  if (const char* sudo_user = std::getenv("SUDO_USER")) request.caller.sudo_user = sudo_user;
  std::error_code ec;
  request.caller_cwd = std::filesystem::current_path(ec);
  return request;
}

namespace {

std::string caller_home() {
  for (const auto& entry : user_homes())
    if (entry.uid == ::getuid()) return entry.home;
  return "";
}

}  // namespace

bool TierResult::weaker() const { return std::any_of(rows.begin(), rows.end(), is_weaker); }

TierResult redteam_tier(const std::string& tier, const RedteamSettings& settings, service::Launcher& launcher) {
  TierResult result;
  result.tier = tier;
  const AgentWorkspace workspace(settings.agent);
  const std::string agent_path_placeholder = "/workspace/" + std::string(kAgentName);
  service::RunSettings run_settings;
  run_settings.config_dirs = settings.config_dirs;
  run_settings.audit_log = settings.audit_log;

  // The plan first (a dry run: nothing launched or recorded): the scenarios'
  // expectations come from it.
  std::vector<std::string> argv{agent_path_placeholder};
  policy::Profile profile;
  std::optional<policy::LaunchPlan> plan;
  try {
    profile = policy::load_tier(tier, settings.config_dirs);
    result.profile_sha256 = profile.sha256;
    run_settings.dry_run = true;
    service::TaskInput input{tier, "", argv, [&] { return simulated_request(tier, workspace.path(), argv); }};
    auto planned = service::run_task(input, run_settings, launcher);
    if (planned.runner_error || !planned.dry_run) {
      result.error = planned.context.error.empty() ? "the tier could not be planned" : planned.context.error;
    } else {
      plan = std::move(planned.dry_run->plan);
    }
  } catch (const Error& error) {
    result.error = error.what();
  }
  result.at = rfc3339_utc(std::chrono::system_clock::now());
  if (!plan) return result;

  HostContext host{host_ipv4_addresses(), "tbxrt" + new_run_id().substr(0, 10), caller_home(), settings.slow};
  const auto scenarios = plan_scenarios(profile, *plan, host);
  const std::string agent = (plan->workspace ? plan->workspace->target : "/workspace") + "/" + kAgentName;
  argv = {agent};
  for (const auto& scenario : scenarios)
    if (scenario.not_run.empty())
      for (const auto& attempt : scenario.attempts) argv.push_back(attempt.argument);
  argv.push_back("hold:" + std::to_string(kHoldSeconds));

  Evidence evidence;
  run_settings.dry_run = false;
  service::TaskInput input;
  input.tier = tier;
  input.argv = argv;
  input.make_request = [&] { return simulated_request(tier, workspace.path(), argv); };
  input.simulation = "redteam";
  service::TaskResult ran;
  {
    CapturedStdio stdio;
    {
      Stopper stopper(policy::load_runner_config(settings.config_dirs).state_dir, host.survivor_name,
                            [&stdio] { return stdio.text(); });
      ran = service::run_task(input, run_settings, launcher);
      evidence.stopped = stopper.finish();
      evidence.survivors = stopper.survivors();
    }
    stdio.restore();
    const auto report = nlohmann::json::parse(stdio.text(), nullptr, false);
    if (!report.is_discarded() && report.is_object()) evidence.attempts = report.value("attempts", nlohmann::json::object());
  }
  result.run_id = ran.context.run_id;
  result.at = rfc3339_utc(std::chrono::system_clock::now());
  evidence.launched = !ran.runner_error && ran.outcome.exec_succeeded;
  evidence.launch_error = ran.context.error;
  if (evidence.launched && evidence.attempts.empty()) {
    evidence.launched = false;
    evidence.launch_error = "the scenario program gave no report (exit status " + std::to_string(ran.exit_status()) + ")";
  }
  if (ran.outcome.network) evidence.dropped_destinations = ran.outcome.network->dropped_destinations;
  for (const int pid : processes_named(host.survivor_name))
    if (std::find(evidence.survivors.begin(), evidence.survivors.end(), pid) == evidence.survivors.end())
      evidence.survivors.push_back(pid);
  for (const auto& scenario : scenarios) result.rows.push_back(judge(scenario, evidence));
  return result;
}

nlohmann::json to_json(const TierResult& result) {
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& row : result.rows) rows.push_back(to_json(row));
  const bool not_run = !result.error.empty() ||
                       std::any_of(result.rows.begin(), result.rows.end(), [](const Row& r) { return r.verdict == "not run"; });
  return {{"tier", result.tier},
          {"profile_sha256", result.profile_sha256},
          {"at", result.at},
          {"run_id", result.run_id},
          {"error", result.error.empty() ? nlohmann::json(nullptr) : nlohmann::json(result.error)},
          {"verdict", result.weaker() ? "weaker" : !result.error.empty() ? "not run" : not_run ? "partial" : "pass"},
          {"scenarios", rows}};
}

void store_result(const std::filesystem::path& state_dir, const TierResult& result) {
  // Only a tier that loaded is stored: its name is then a tiers/NAME.json stem.
  if (result.profile_sha256.empty() || result.tier.empty() || result.tier.find('/') != std::string::npos ||
      result.tier.front() == '.')
    return;
  const auto dir = state_dir / "redteam";
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw Error("redteam: mkdir " + dir.string() + ": " + ec.message(), exit_code::runner_failed);
  ::chmod(dir.c_str(), 0755);
  write_file_atomically(dir / (result.tier + ".json"), to_json(result).dump(2) + "\n", 0644, Durability::fsync);
}

std::optional<nlohmann::json> load_result(const std::filesystem::path& state_dir, const std::string& tier) {
  std::ifstream in(state_dir / "redteam" / (tier + ".json"));
  if (!in) return std::nullopt;
  auto document = nlohmann::json::parse(in, nullptr, false);
  if (document.is_discarded() || !document.is_object()) return std::nullopt;
  return document;
}

}  // namespace tierbox::redteam
