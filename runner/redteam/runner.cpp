#include "redteam/runner.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>

#include "audit/audit_log.h"
#include "common/digest.h"
#include "common/errors.h"
#include "common/files.h"
#include "common/logging.h"
#include "common/process_info.h"
#include "common/rfc3339.h"
#include "common/run_id.h"
#include "common/unique_fd.h"
#include "common/users.h"
#include "policy/profile_loader.h"
#include "policy/runner_config.h"
#include "redteam/run_watch.h"
#include "service/run_task.h"
#include "staged/operations.h"

namespace tierbox::redteam {
namespace {

constexpr const char* kAgentName = "tierbox-redteam-agent";
// How long the program stays after its report, waiting to be stopped.
constexpr int kHoldSeconds = 30;

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

namespace {

// What a simulated run of the program takes besides the tier: who asks, the
// workspace, and the simulation's additions (policy/request.h).
struct SimulatedRun {
  std::string tier;
  std::filesystem::path workspace;
  std::string agent_sha256;
  const RedteamSettings* settings = nullptr;

  service::TaskResult run(const std::vector<std::string>& argv, const AgentChannels& channels, bool admit_agent,
                          service::Launcher& launcher, bool dry_run = false) const {
    service::RunSettings run_settings;
    run_settings.config_dirs = settings->config_dirs;
    run_settings.audit_log = settings->audit_log;
    run_settings.dry_run = dry_run;
    service::TaskInput input;
    input.tier = tier;
    input.argv = argv;
    input.simulation = "redteam";
    input.stdio = {channels.task_stdin(), channels.task_stdout(), 2};
    input.make_request = [&] {
      auto request = simulated_request(tier, workspace, argv);
      policy::SimulationAdditions additions;
      if (!dry_run) additions.report_fd = channels.report_fd();
      if (admit_agent) additions.admitted_command_sha256 = agent_sha256;
      request.simulation = additions;
      return request;
    };
    return service::run_task(input, run_settings, launcher);
  }
};

std::string sha256_of(const std::filesystem::path& file) {
  UniqueFd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) throw_sys_error("open(" + quote(file.string()) + ", O_RDONLY)");
  return sha256_hex_of_fd(fd.get(), file.string());
}

std::int64_t free_bytes(const std::filesystem::path& directory) {
  struct statvfs fs {};
  if (::statvfs(directory.c_str(), &fs) != 0) throw_sys_error("statvfs(" + quote(directory.string()) + ")");
  return static_cast<std::int64_t>(fs.f_bavail) * static_cast<std::int64_t>(fs.f_frsize);
}

bool any_attempted(const std::vector<Scenario>& scenarios, bool Scenario::*flag) {
  return std::any_of(scenarios.begin(), scenarios.end(),
                     [flag](const Scenario& s) { return s.*flag && s.not_run.empty(); });
}

// A staged run's layer holds what the program wrote (up to limits.disk of
// memory): discarded at once, audited as part of the simulation.
void discard_layer(const RedteamSettings& settings, const std::string& run_id) {
  staged::OperationSettings operation;
  operation.config_dirs = settings.config_dirs;
  operation.audit_log = settings.audit_log;
  operation.caller_uid = ::getuid();
  operation.simulation = "redteam";
  staged::OpenedRun opened(operation, run_id, staged::StagedAction::discard);
  staged::discard_staged(opened, operation);
}

}  // namespace

TierResult redteam_tier(const std::string& tier, const RedteamSettings& settings, service::Launcher& launcher) {
  TierResult result;
  result.tier = tier;
  const AgentWorkspace workspace(settings.agent);
  const SimulatedRun simulated{tier, workspace.path(), sha256_of(workspace.path() / kAgentName), &settings};

  // The plan first (a dry run: nothing launched or recorded): the scenarios'
  // expectations come from it. The program is admitted as in the real run.
  policy::Profile profile;
  std::optional<policy::LaunchPlan> plan;
  try {
    profile = policy::load_tier(tier, settings.config_dirs);
    result.profile_sha256 = profile.sha256;
    const AgentChannels channels;
    auto planned = simulated.run({"/workspace/" + std::string(kAgentName)}, channels, true, launcher, true);
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
  Evidence evidence;

  // unlisted-command: in a tier that lists its commands, the program
  // without the simulation's admission is a command the tier does not
  // list, and its launch must be refused (audited as a refusal).
  if (profile.commands.allowed) {
    const AgentChannels channels;
    const auto unlisted = simulated.run({agent}, channels, false, launcher);
    evidence.unlisted = UnlistedLaunch{!unlisted.runner_error && unlisted.outcome.exec_succeeded, unlisted.context.error};
  }

  const AgentChannels channels;
  std::vector<std::string> argv{agent, "report-fd:" + std::to_string(channels.report_fd())};
  for (const auto& scenario : scenarios)
    if (scenario.not_run.empty())
      for (const auto& attempt : scenario.attempts) argv.push_back(attempt.argument);
  argv.push_back("hold:" + std::to_string(kHoldSeconds));

  const auto config = policy::load_runner_config(settings.config_dirs);
  StopSettings stop{config.state_dir, audit::audit_log_path(settings.audit_log, config.audit_log), config.audit_syslog,
                    "redteam"};
  // disk-exhaustion of a staged workspace: the host, looked at while the
  // filled file is in the run's layer.
  const bool look_at_disk = any_attempted(scenarios, &Scenario::disk_host_check);
  const auto free_before = look_at_disk ? free_bytes(workspace.path()) : 0;
  const auto look = [&] {
    if (!look_at_disk) return;
    try {
      const auto fill = workspace.path() / kFillName;
      std::error_code ec;
      const bool on_host = std::filesystem::exists(fill, ec);
      if (ec) throw Error("stat(" + quote(fill.string()) + "): " + ec.message(), exit_code::runner_failed);
      evidence.disk = DiskEvidence{workspace.path().string(), free_before - free_bytes(workspace.path()), on_host};
    } catch (const Error& error) {
      logging::warn("redteam: the host's disk could not be looked at: {}", error.what());
    }
  };
  service::TaskResult ran;
  {
    Stopper stopper(stop, host.survivor_name, [&channels] { return channels.report(); }, look);
    ran = simulated.run(argv, channels, true, launcher);
    evidence.stopped = stopper.finish();
    evidence.survivors = stopper.survivors();
  }
  const auto report = nlohmann::json::parse(channels.report(), nullptr, false);
  if (!report.is_discarded() && report.is_object()) evidence.attempts = report.value("attempts", nlohmann::json::object());
  result.run_id = ran.context.run_id;
  result.at = rfc3339_utc(std::chrono::system_clock::now());
  evidence.launched = !ran.runner_error && ran.outcome.exec_succeeded;
  evidence.launch_error = ran.context.error;
  if (evidence.launched && evidence.attempts.empty()) {
    evidence.launched = false;
    evidence.launch_error = "the scenario program gave no report (exit status " + std::to_string(ran.exit_status()) + ")";
  }
  if (const auto& output = ran.context.output)
    evidence.output = OutputEvidence{output->limit_bytes, output->bytes, output->cut, channels.stdout_bytes()};
  if (ran.outcome.network) evidence.dropped_destinations = ran.outcome.network->dropped_destinations;
  for (const int pid : processes_named(host.survivor_name))
    if (std::find(evidence.survivors.begin(), evidence.survivors.end(), pid) == evidence.survivors.end())
      evidence.survivors.push_back(pid);
  if (plan->workspace && plan->workspace->staged && evidence.launched) {
    try {
      discard_layer(settings, ran.context.run_id);
    } catch (const Error& error) {
      logging::warn("redteam: run {}: its staged layer was not discarded: {} (fix: tierbox discard {})",
                    ran.context.run_id, error.what(), ran.context.run_id);
    }
  }
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
