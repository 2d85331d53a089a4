// Processes and limits: orphans, /proc/self/limits, fork bomb, memory hog, CPU spin, a stubborn task.
#include "probe.h"

#include <dirent.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <thread>

namespace probe {
namespace {

double monotonic_seconds() {
  struct timespec now {};
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) / 1e9;
}

double cpu_seconds() {
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

}  // namespace

json orphans(int count) {
  for (int i = 0; i < count; ++i) {
    pid_t child = fork();
    if (child == 0) {
      // The middle process exits at once; its child becomes an orphan of
      // init and exits shortly after.
      if (fork() == 0) {
        usleep(20000);
        _exit(0);
      }
      _exit(0);
    }
    waitpid(child, nullptr, 0);
  }
  usleep(300000);
  int zombies = 0;
  if (DIR* dir = opendir("/proc")) {
    while (auto* entry = readdir(dir)) {
      if (entry->d_name[0] < '1' || entry->d_name[0] > '9') continue;
      std::string stat_text = read_text(std::string("/proc/") + entry->d_name + "/stat");
      auto paren = stat_text.rfind(')');
      if (paren != std::string::npos && paren + 2 < stat_text.size() && stat_text[paren + 2] == 'Z') ++zombies;
    }
    closedir(dir);
  }
  return {{"zombies", zombies}};
}

json limits() {
  json report;
  json table = json::object();
  std::istringstream in(read_text("/proc/self/limits"));
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    // "Max open files            256                  256                  files"
    if (line.size() < 47) continue;
    std::string name = line.substr(0, 26);
    name.erase(name.find_last_not_of(' ') + 1);
    std::istringstream values(line.substr(26));
    std::string soft, hard;
    values >> soft >> hard;
    table[name] = {{"soft", soft}, {"hard", hard}};
  }
  report["limits"] = table;
  json cgroups = json::array();
  std::istringstream cgroup(read_text("/proc/self/cgroup"));
  while (std::getline(cgroup, line)) cgroups.push_back(line);
  report["cgroup"] = cgroups;
  return report;
}

json forkbomb(double seconds) {
  const double deadline = monotonic_seconds() + seconds;
  const pid_t first = getpid();
  long failed = 0, forked = 0;
  while (monotonic_seconds() < deadline) {
    const pid_t child = fork();
    if (child < 0) {
      ++failed;
      usleep(2000);  // the limit holds: no need to burn the CPU
    } else if (child == 0) {
      failed = forked = 0;  // a copy: forks on, reports nothing
    } else {
      ++forked;
    }
  }
  if (getpid() != first) _exit(0);
  return {{"forked", forked}, {"failed", failed}, {"errno", failed > 0 ? "EAGAIN" : "ok"}};
}

json hog(long long bytes) {
  std::vector<char*> chunks;
  long long touched = 0;
  while (touched < bytes) {
    char* chunk = static_cast<char*>(malloc(1 << 20));
    if (!chunk) return {{"touched", touched}, {"result", "ENOMEM"}};
    memset(chunk, 0x5a, 1 << 20);  // touch every page: charged to the cgroup
    chunks.push_back(chunk);
    touched += 1 << 20;
    if (touched % (16 << 20) == 0) std::cerr << "hog: " << (touched >> 20) << " MiB" << std::endl;
  }
  return {{"touched", touched}, {"result", "ok"}};
}

json spin(double seconds, int threads) {
  const double start_wall = monotonic_seconds();
  const double start_cpu = cpu_seconds();
  std::vector<std::thread> spinners;
  for (int i = 0; i < threads; ++i)
    spinners.emplace_back([&] {
      volatile unsigned long counter = 0;
      while (monotonic_seconds() - start_wall < seconds) counter = counter + 1;
    });
  for (auto& spinner : spinners) spinner.join();
  const double wall = monotonic_seconds() - start_wall;
  const double cpu = cpu_seconds() - start_cpu;
  return {{"wall_ms", static_cast<long>(wall * 1000)}, {"cpu_ms", static_cast<long>(cpu * 1000)}, {"cores", cpu / wall}};
}

// A task that will not stop on SIGTERM: it ignores it, and double-forks a
// grandchild that leaves the task's session and process group (so a signal
// to the group misses it) and ignores SIGTERM too. Never returns.
json stubborn() {
  signal(SIGTERM, SIG_IGN);
  pid_t middle = fork();
  if (middle == 0) {
    if (fork() == 0) {
      setsid();
      for (;;) sleep(1000);
    }
    _exit(0);
  }
  waitpid(middle, nullptr, 0);
  std::cerr << "probe: stubborn" << std::endl;
  for (;;) sleep(1000);
}

}  // namespace probe
