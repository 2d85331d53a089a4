// launch_bench: launch-to-exit latency of sandboxes, several commands measured
// in the same run, interleaved so that machine noise falls on all of them
// alike. Prints the median, p10 and p90 per command, the ratio of each median
// to the last command's (the reference, bwrap), and launches per second with
// N parallel callers, and the median CPU time (user + system) of the
// command's own process tree per launch (cpu_ms: wait4's rusage; a daemon's
// work is not in it, daemon_ab.sh adds that).
//
//   launch_bench [--runs N] [--parallel P] [--seconds S] [--as-uid UID] NAME=COMMAND...
//
// --as-uid: every command runs as that uid and gid with no supplementary
// groups, set in the forked child just before its exec (what setpriv does,
// without setpriv's exec); the same for every command, so comparisons stay
// fair.
//
// COMMAND is split on spaces (no quoting); leading VAR=VALUE words go into its
// environment; the process's stdout and stderr go to /dev/null and its exit
// status must be 0.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "timing.h"

extern char** environ;

namespace {

using tierbox::bench::percentile;
using tierbox::bench::run_once;
using tierbox::bench::split;

struct Command {
  std::string name;
  std::vector<std::string> argv;
  std::vector<double> samples_ms;
  std::vector<double> cpu_ms;  // of the command's own process tree
};




double throughput(const std::vector<std::string>& argv, int parallel, double seconds) {
  std::atomic<long> launches{0};
  std::atomic<bool> failed{false};
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  std::vector<std::thread> callers;
  for (int i = 0; i < parallel; ++i) {
    callers.emplace_back([&] {
      while (std::chrono::steady_clock::now() < deadline) {
        if (run_once(argv) < 0) failed = true;
        ++launches;
      }
    });
  }
  for (auto& caller : callers) caller.join();
  return failed ? -1 : static_cast<double>(launches) / seconds;
}

}  // namespace

int main(int argc, char** argv) {
  int runs = 300, parallel = 2;
  double seconds = 5;
  std::vector<Command> commands;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--runs" && i + 1 < argc) runs = std::stoi(argv[++i]);
    else if (arg == "--parallel" && i + 1 < argc) parallel = std::stoi(argv[++i]);
    else if (arg == "--seconds" && i + 1 < argc) seconds = std::stod(argv[++i]);
    else if (arg == "--as-uid" && i + 1 < argc) tierbox::bench::g_as_uid = std::stol(argv[++i]);
    else if (auto eq = arg.find('='); eq != std::string::npos) commands.push_back({arg.substr(0, eq), split(arg.substr(eq + 1)), {}});
    else {
      std::fprintf(stderr, "usage: launch_bench [--runs N] [--parallel P] [--seconds S] [--as-uid UID] NAME=COMMAND...\n");
      return 2;
    }
  }
  if (commands.empty()) return 2;
  for (auto& command : commands) {
    for (int i = 0; i < 10; ++i) {  // warm-up: page cache, dentries
      if (run_once(command.argv) < 0) {
        std::fprintf(stderr, "launch_bench: %s failed\n", command.name.c_str());
        return 1;
      }
    }
  }
  for (int i = 0; i < runs; ++i) {
    for (auto& command : commands) {
      command.samples_ms.push_back(run_once(command.argv));
      command.cpu_ms.push_back(tierbox::bench::g_last_cpu_ms);
    }
  }
  const double reference = percentile(commands.back().samples_ms, 0.5);
  std::printf("%-28s %9s %9s %9s %12s %14s %10s\n", "command", "median_ms", "p10_ms", "p90_ms", "vs_reference",
              ("launches/s@" + std::to_string(parallel)).c_str(), "cpu_ms");
  for (auto& command : commands) {
    if (std::any_of(command.samples_ms.begin(), command.samples_ms.end(), [](double v) { return v < 0; })) {
      std::printf("%-28s failed during the run\n", command.name.c_str());
      return 1;
    }
    const double median = percentile(command.samples_ms, 0.5);
    std::printf("%-28s %9.3f %9.3f %9.3f %11.2fx %14.0f %10.3f\n", command.name.c_str(), median,
                percentile(command.samples_ms, 0.1), percentile(command.samples_ms, 0.9), median / reference,
                throughput(command.argv, parallel, seconds), percentile(command.cpu_ms, 0.5));
    std::fflush(stdout);
  }
  return 0;
}
