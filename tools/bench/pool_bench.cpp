// pool_bench: launch-to-exit of a command in a tier through the warm path
// (service::PooledLauncher, in this process, its pool prepared ahead) next to
// the cold path in this process (launch::launch behind the same run_task),
// the cold CLI (`tierbox run`, a fresh runner per launch) and any other
// commands (bwrap with the same isolation), interleaved in one run. Prints
// medians, p10/p90, the ratio to the last command, and where the in-process
// launches spend their time: run_task() before the launcher (config, tier,
// inventory, host facts, plan, approval matrix, the audit log opened), the
// launcher (warm: the run's part, sync #1b to the task's end and teardown;
// cold: all of the sandbox), and after it (the end record).
//
//   pool_bench [--runs N] [--tier T] [--config-dir D]... [--audit-log F] NAME=COMMAND...
//
// Root only. Before every sample the pool is refilled (wait_until_full), so
// a refill never runs during a measurement and every warm sample is warm.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "common/logging.h"
#include "policy/runner_config.h"
#include "service/pooled_launcher.h"
#include "service/run_task.h"
#include "timing.h"

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;
using tierbox::bench::percentile;
using tierbox::bench::run_once;
using tierbox::bench::split;
namespace service = tierbox::service;
namespace policy = tierbox::policy;
namespace launch = tierbox::launch;

double ms_between(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double, std::milli>(b - a).count(); }


// Times the launcher call inside run_task().
class TimedLauncher final : public service::Launcher {
 public:
  explicit TimedLauncher(service::Launcher& inner) : inner_(inner) {}
  launch::Outcome launch(const policy::LaunchPlan& plan, const policy::RunnerConfig& config,
                         const launch::LaunchHooks& hooks) override {
    entered = Clock::now();
    auto outcome = inner_.launch(plan, config, hooks);
    left = Clock::now();
    return outcome;
  }
  Clock::time_point entered, left;

 private:
  service::Launcher& inner_;
};

struct Series {
  std::string name;
  std::vector<double> total, before, launcher, after;
};

struct InProcess {
  std::vector<std::filesystem::path> config_dirs;
  std::string audit_log;
  std::string tier;
  std::vector<std::string> argv;

  // One run_task(); false when it did not exit 0.
  bool run(service::Launcher& launcher, Series& series) const {
    service::TaskInput input;
    input.tier = tier;
    input.argv = argv;
    input.make_request = [&] {
      policy::TaskRequest request;
      request.tier = tier;
      request.argv = argv;
      request.caller.uid = ::getuid();
      request.caller.gid = ::getgid();
      request.caller_cwd = "/";
      return request;
    };
    service::RunSettings settings;
    settings.config_dirs = config_dirs;
    settings.audit_log = audit_log;
    TimedLauncher timed(launcher);
    const auto start = Clock::now();
    const auto result = service::run_task(input, settings, timed);
    const auto end = Clock::now();
    if (result.exit_status() != 0) {
      std::fprintf(stderr, "pool_bench: %s: %s\n", series.name.c_str(), result.context.error.c_str());
      return false;
    }
    series.total.push_back(ms_between(start, end));
    series.before.push_back(ms_between(start, timed.entered));
    series.launcher.push_back(ms_between(timed.entered, timed.left));
    series.after.push_back(ms_between(timed.left, end));
    return true;
  }
};



void print(const Series& series, double reference, bool breakdown) {
  const double median = percentile(series.total, 0.5);
  std::printf("%-22s %9.3f %9.3f %9.3f %8.2fx", series.name.c_str(), median, percentile(series.total, 0.1),
              percentile(series.total, 0.9), median / reference);
  if (breakdown)
    std::printf("   before %.3f  launcher %.3f  after %.3f", percentile(series.before, 0.5),
                percentile(series.launcher, 0.5), percentile(series.after, 0.5));
  std::printf("\n");
}

}  // namespace

int main(int argc, char** argv) {
  int runs = 200;
  InProcess setup;
  setup.tier = "untrusted";
  setup.argv = {"/bin/true"};
  std::vector<std::pair<std::string, std::vector<std::string>>> commands;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--runs" && i + 1 < argc) runs = std::stoi(argv[++i]);
    else if (arg == "--tier" && i + 1 < argc) setup.tier = argv[++i];
    else if (arg == "--config-dir" && i + 1 < argc) setup.config_dirs.emplace_back(argv[++i]);
    else if (arg == "--audit-log" && i + 1 < argc) setup.audit_log = argv[++i];
    else if (auto eq = arg.find('='); eq != std::string::npos) commands.emplace_back(arg.substr(0, eq), split(arg.substr(eq + 1)));
    else {
      std::fprintf(stderr, "usage: pool_bench [--runs N] [--tier T] [--config-dir D]... [--audit-log F] NAME=COMMAND...\n");
      return 2;
    }
  }
  if (::geteuid() != 0 || setup.config_dirs.empty()) {
    std::fprintf(stderr, "pool_bench: needs root and at least one --config-dir\n");
    return 2;
  }
  tierbox::logging::mark_process_start();
  tierbox::logging::configure(false);
  const auto config = policy::load_runner_config(setup.config_dirs);
  service::PooledLauncher pool(config);
  service::SandboxLauncher cold;
  Series warm_series{"warm (pool, in-process)"}, cold_series{"cold (in-process)"};
  std::vector<Series> spawned;
  for (const auto& [name, command] : commands) spawned.push_back({name});

  // Warm-up, and the pool's pattern: the first pooled launch is cold.
  Series ignored{"warm-up"};
  for (int i = 0; i < 10; ++i) {
    if (!setup.run(pool, ignored) || !setup.run(cold, ignored)) return 1;
    for (const auto& [name, command] : commands) run_once(command);
  }
  for (int i = 0; i < runs; ++i) {
    pool.wait_until_full(std::chrono::seconds(10));
    if (!setup.run(pool, warm_series)) return 1;
    pool.wait_until_full(std::chrono::seconds(10));
    if (!setup.run(cold, cold_series)) return 1;
    for (std::size_t c = 0; c < commands.size(); ++c) {
      pool.wait_until_full(std::chrono::seconds(10));
      const double ms = run_once(commands[c].second);
      if (ms < 0) {
        std::fprintf(stderr, "pool_bench: %s failed\n", commands[c].first.c_str());
        return 1;
      }
      spawned[c].total.push_back(ms);
    }
  }
  const auto counts = pool.counts();
  const double reference = spawned.empty() ? percentile(cold_series.total, 0.5) : percentile(spawned.back().total, 0.5);
  std::printf("%-22s %9s %9s %9s %9s\n", "command", "median_ms", "p10_ms", "p90_ms", "vs_last");
  print(warm_series, reference, true);
  print(cold_series, reference, true);
  for (const auto& series : spawned) print(series, reference, false);
  std::printf("# pool: %llu warm, %llu cold launches; %llu prepared, %llu dropped\n",
              static_cast<unsigned long long>(counts.warm), static_cast<unsigned long long>(counts.cold),
              static_cast<unsigned long long>(counts.prepared), static_cast<unsigned long long>(counts.dropped));
  return 0;
}
