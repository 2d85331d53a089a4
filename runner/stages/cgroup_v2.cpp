// cgroup v2: the run's one cgroup in the unified hierarchy. The sandbox is
// placed in it by clone3(CLONE_INTO_CGROUP) (launcher.cpp), so it never runs
// anywhere else; limits are the controllers' files, usage is read from
// memory.peak, memory.events, pids.peak, pids.events and cpu.stat, and the
// tree is killed with cgroup.kill.
#include <signal.h>

#include "common/errors.h"
#include "common/logging.h"
#include "stages/cgroup.h"
#include "stages/cgroup_internal.h"

namespace tierbox::stages {
namespace {

using namespace cgroup_internal;

constexpr std::uint64_t kCpuPeriodUs = 100000;

std::vector<LimitFile> v2_limit_files(const policy::CgroupLimits& limits, const CgroupDir& dir) {
  std::vector<LimitFile> files;
  if (dir.serves(CgroupUse::memory) && limits.memory.value) {
    files.push_back({"memory", limits.memory.required, *limits.memory.value,
                     {{"memory.max", std::to_string(*limits.memory.value)}}});
    // Without a swap limit the memory limit could be dodged by swapping out:
    // no swap unless the tier grants some. Best effort where the kernel has
    // no swap accounting (then it has no memory.swap.max).
    const auto& swap = limits.memory_swap;
    LimitFile swap_file{"memory_swap", swap.required, swap.value.value_or(0),
                        {{"memory.swap.max", std::to_string(swap.value.value_or(0))}}};
    swap_file.implicit = !swap.value;
    swap_file.missing_reason = "the kernel has no swap accounting";
    files.push_back(swap_file);
  }
  if (dir.serves(CgroupUse::pids) && limits.pids.value)
    files.push_back({"pids", limits.pids.required, *limits.pids.value, {{"pids.max", std::to_string(*limits.pids.value)}}});
  if (dir.serves(CgroupUse::cpu) && limits.cpu_millicores.value) {
    // cores * period: 0.5 core is 50 ms of CPU time per 100 ms.
    const auto quota = static_cast<std::uint64_t>(*limits.cpu_millicores.value) * kCpuPeriodUs / 1000;
    files.push_back({"cpu", limits.cpu_millicores.required, *limits.cpu_millicores.value,
                     {{"cpu.max", std::to_string(quota) + " " + std::to_string(kCpuPeriodUs)}}});
  }
  if (dir.serves(CgroupUse::io) && limits.io_weight.value) {
    // io.weight is blk-iocost's; io.bfq.weight the BFQ scheduler's. Either
    // gives the task this share of the disks against its siblings.
    const auto weight = std::to_string(*limits.io_weight.value);
    LimitFile io{"io_weight", limits.io_weight.required, *limits.io_weight.value,
                 {{"io.weight", "default " + weight}, {"io.bfq.weight", "default " + weight}}};
    io.missing_reason = "neither blk-iocost (io.weight) nor BFQ (io.bfq.weight) is active";
    files.push_back(io);
  }
  return files;
}

class CgroupV2Driver final : public CgroupDriver {
 public:
  CgroupV2Driver(CgroupSyscalls& syscalls, CgroupDir dir) : syscalls_(syscalls), dirs_{std::move(dir)} {}

  [[nodiscard]] CgroupVersion version() const override { return CgroupVersion::v2; }
  [[nodiscard]] const std::vector<CgroupDir>& dirs() const override { return dirs_; }

  void create(const policy::CgroupLimits& limits, const std::string& tier, CgroupReport& report) override {
    const auto& dir = dirs_.front();
    make_run_directory(syscalls_, dir.path);
    created_ = true;
    for (const auto& limit : v2_limit_files(limits, dir)) write_limit(syscalls_, dir.path, limit, tier, report);
  }

  std::vector<UniqueFd> open_join_files() override { return {}; }  // clone3(CLONE_INTO_CGROUP) does it

  bool kill() override {
    const auto& dir = dirs_.front().path;
    // cgroup.kill (Linux 5.14) kills every process of the cgroup in one
    // step; forks racing with it are killed too.
    const int err = syscalls_.write_file(join(dir, "cgroup.kill"), "1");
    if (err == 0) return true;
    if (err != ENOENT) {
      errno = err;
      throw_sys_error("write(" + quote(join(dir, "cgroup.kill")) + ", \"1\")");
    }
    // Older kernels: frozen processes cannot fork, so one pass kills them all.
    freeze();
    kill_listed(syscalls_, dir);
    thaw();
    return true;
  }

  void freeze() override {
    const auto& dir = dirs_.front().path;
    write_or_throw(syscalls_, join(dir, "cgroup.freeze"), "1");
    // cgroup.events says "frozen 1" once every process has stopped.
    for (int i = 0; i < 1000; ++i) {
      auto events = syscalls_.read_file(join(dir, "cgroup.events"));
      if (!events || keyed_value(*events, "frozen").value_or(1) == 1) return;
      syscalls_.pause(std::chrono::microseconds(1000));
    }
  }

  void thaw() override { write_or_throw(syscalls_, join(dirs_.front().path, "cgroup.freeze"), "0"); }

  void add_usage(CgroupUsage& usage) override {
    const auto& dir = dirs_.front();
    if (dir.serves(CgroupUse::memory)) {
      // memory.peak: Linux 5.19; older kernels leave it unknown.
      if (auto peak = syscalls_.read_file(join(dir.path, "memory.peak"))) usage.memory_peak_bytes = number_in(*peak);
      if (auto events = syscalls_.read_file(join(dir.path, "memory.events")))
        usage.oom_killed = keyed_value(*events, "oom_kill").value_or(0) > 0;
    }
    if (dir.serves(CgroupUse::pids)) {
      if (auto peak = syscalls_.read_file(join(dir.path, "pids.peak"))) usage.pids_peak = number_in(*peak);
      if (auto events = syscalls_.read_file(join(dir.path, "pids.events")))
        usage.pids_limit_hit = keyed_value(*events, "max").value_or(0) > 0;
    }
    // cpu.stat's usage lines are core: present without the cpu controller.
    if (auto stat = syscalls_.read_file(join(dir.path, "cpu.stat"))) {
      usage.cpu_user_us = keyed_value(*stat, "user_usec");
      usage.cpu_system_us = keyed_value(*stat, "system_usec");
      if (dir.serves(CgroupUse::cpu)) usage.cpu_throttled_us = keyed_value(*stat, "throttled_usec");
    }
  }

  void read_limits(RunLimits& limits) override {
    const auto& dir = dirs_.front();
    const auto read = [&](const char* file) -> std::optional<std::uint64_t> {
      auto text = syscalls_.read_file(join(dir.path, file));
      return text ? limit_in(*text) : std::nullopt;
    };
    if (dir.serves(CgroupUse::memory)) {
      limits.memory = read("memory.max");
      limits.memory_swap = read("memory.swap.max");
    }
    if (dir.serves(CgroupUse::pids)) limits.pids = read("pids.max");
    if (dir.serves(CgroupUse::cpu)) {
      // "QUOTA PERIOD" or "max PERIOD"
      if (auto text = syscalls_.read_file(join(dir.path, "cpu.max"))) {
        const auto space = text->find(' ');
        const auto quota = limit_in(text->substr(0, space));
        const auto period = space == std::string::npos ? std::nullopt : number_in(text->substr(space + 1));
        if (quota == kCgroupUnlimited) limits.cpu_millicores = kCgroupUnlimited;
        else if (quota && period && *period > 0) limits.cpu_millicores = *quota * 1000 / *period;
      }
    }
  }

  void write_limits(const RunLimits& change, const RunLimits& /*now*/) override {
    // memory.max and memory.swap.max are independent on v2: any order.
    const auto& dir = dirs_.front();
    if (dir.serves(CgroupUse::memory)) {
      if (change.memory) write_or_throw(syscalls_, join(dir.path, "memory.max"), limit_text(*change.memory, "max"));
      if (change.memory_swap)
        write_or_throw(syscalls_, join(dir.path, "memory.swap.max"), limit_text(*change.memory_swap, "max"));
    }
    if (dir.serves(CgroupUse::pids) && change.pids)
      write_or_throw(syscalls_, join(dir.path, "pids.max"), limit_text(*change.pids, "max"));
    if (dir.serves(CgroupUse::cpu) && change.cpu_millicores) {
      const auto quota = *change.cpu_millicores == kCgroupUnlimited ? kCgroupUnlimited
                                                                     : *change.cpu_millicores * kCpuPeriodUs / 1000;
      write_or_throw(syscalls_, join(dir.path, "cpu.max"), limit_text(quota, "max") + " " + std::to_string(kCpuPeriodUs));
    }
  }

  void destroy() override {
    if (!created_) return;
    remove_directory(syscalls_, dirs_.front().path, [this] { kill(); });
    created_ = false;
  }

 private:
  CgroupSyscalls& syscalls_;
  std::vector<CgroupDir> dirs_;
  bool created_ = false;
};

}  // namespace

std::unique_ptr<CgroupDriver> make_cgroup_v2_driver(CgroupSyscalls& syscalls, CgroupDir dir) {
  return std::make_unique<CgroupV2Driver>(syscalls, std::move(dir));
}

}  // namespace tierbox::stages
