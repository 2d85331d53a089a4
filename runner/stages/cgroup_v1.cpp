// cgroup v1: one directory per hierarchy the run uses (memory, pids, cpu,
// blkio, freezer), each below the runner's own cgroup in that hierarchy. v1
// has no CLONE_INTO_CGROUP: they are made while the child builds its root,
// and the child joins them itself after sync #2, through `tasks` files the
// parent opened and sent it (cgroup_join.h).
// The tree is killed with the freezer: frozen processes cannot fork, so one
// pass of SIGKILL over cgroup.procs gets them all; thawing lets them die.
#include <signal.h>

#include <algorithm>

#include "common/errors.h"
#include "stages/cgroup.h"
#include "stages/cgroup_internal.h"

namespace tierbox::stages {
namespace {

using namespace cgroup_internal;

constexpr std::uint64_t kCpuPeriodUs = 100000;  // the kernel's default cpu.cfs_period_us

// cgroup v2's io weight (1-10000, default 100) on v1's scale (1-1000 for
// BFQ, 10-1000 for CFQ; default 100 on both, hence a tenth, at least minimum).
std::uint64_t v1_io_weight(std::uint64_t weight, std::uint64_t minimum) {
  return std::clamp<std::uint64_t>((weight + 9) / 10, minimum, 1000);
}

std::vector<LimitFile> v1_limit_files(const policy::CgroupLimits& limits, const CgroupDir& dir) {
  std::vector<LimitFile> files;
  if (dir.serves(CgroupUse::memory) && limits.memory.value) {
    const auto memory = *limits.memory.value;
    files.push_back({"memory", limits.memory.required, memory, {{"memory.limit_in_bytes", std::to_string(memory)}}});
    // memsw is memory plus swap, so it must come after memory.limit_in_bytes
    // (the kernel keeps memsw >= memory). No swap unless the tier grants it.
    const auto& swap = limits.memory_swap;
    LimitFile swap_file{"memory_swap", swap.required, swap.value.value_or(0),
                        {{"memory.memsw.limit_in_bytes", std::to_string(memory + swap.value.value_or(0))}}};
    swap_file.implicit = !swap.value;
    swap_file.missing_reason = "the kernel has no swap accounting (swapaccount=1)";
    files.push_back(swap_file);
  }
  if (dir.serves(CgroupUse::pids) && limits.pids.value)
    files.push_back({"pids", limits.pids.required, *limits.pids.value, {{"pids.max", std::to_string(*limits.pids.value)}}});
  if (dir.serves(CgroupUse::cpu) && limits.cpu_millicores.value) {
    const auto quota = static_cast<std::uint64_t>(*limits.cpu_millicores.value) * kCpuPeriodUs / 1000;
    files.push_back({"cpu", limits.cpu_millicores.required, *limits.cpu_millicores.value,
                     {{"cpu.cfs_quota_us", std::to_string(quota)}}});
  }
  if (dir.serves(CgroupUse::io) && limits.io_weight.value) {
    const auto weight = *limits.io_weight.value;
    LimitFile io{"io_weight", limits.io_weight.required, weight,
                 {{"blkio.bfq.weight", std::to_string(v1_io_weight(weight, 1))},
                  {"blkio.weight", std::to_string(v1_io_weight(weight, 10))}}};
    io.missing_reason = "neither BFQ (blkio.bfq.weight) nor CFQ (blkio.weight) is the disk scheduler";
    files.push_back(io);
  }
  return files;
}

class CgroupV1Driver final : public CgroupDriver {
 public:
  // existing: the directories were made by another process (a running
  // run's, attached by a control command).
  CgroupV1Driver(CgroupSyscalls& syscalls, std::vector<CgroupDir> dirs, bool existing)
      : syscalls_(syscalls), dirs_(std::move(dirs)), created_(existing ? dirs_.size() : 0) {}

  [[nodiscard]] CgroupVersion version() const override { return CgroupVersion::v1; }
  [[nodiscard]] const std::vector<CgroupDir>& dirs() const override { return dirs_; }

  void create(const policy::CgroupLimits& limits, const std::string& tier, CgroupReport& report) override {
    for (const auto& dir : dirs_) {
      make_run_directory(syscalls_, dir.path);
      ++created_;
      for (const auto& limit : v1_limit_files(limits, dir)) write_limit(syscalls_, dir.path, limit, tier, report);
    }
  }

  std::vector<UniqueFd> open_join_files() override {
    std::vector<UniqueFd> fds;
    for (const auto& dir : dirs_) fds.push_back(syscalls_.open_for_writing(join(dir.path, "tasks")));
    return fds;
  }

  bool kill() override {
    const auto* freezer = freezer_dir();
    if (!freezer) return false;
    freeze();
    kill_listed(syscalls_, freezer->path);
    thaw();
    return true;
  }

  void freeze() override {
    const auto* freezer = freezer_dir();
    if (!freezer) throw Error("cgroup v1: this run has no freezer cgroup", exit_code::runner_failed);
    const auto state = join(freezer->path, "freezer.state");
    write_or_throw(syscalls_, state, "FROZEN");
    // FREEZING until every task has stopped. If one never does (stuck in an
    // uninterruptible sleep), the kill pass still goes ahead.
    wait_for_content(syscalls_, state, "FROZEN");
  }

  void thaw() override {
    if (const auto* freezer = freezer_dir()) write_or_throw(syscalls_, join(freezer->path, "freezer.state"), "THAWED");
  }

  void add_usage(CgroupUsage& usage) override {
    for (const auto& dir : dirs_) {
      if (dir.serves(CgroupUse::memory)) {
        if (auto peak = syscalls_.read_file(join(dir.path, "memory.max_usage_in_bytes")))
          usage.memory_peak_bytes = number_in(*peak);
        // "oom_kill N": Linux 4.13 and later.
        if (auto control = syscalls_.read_file(join(dir.path, "memory.oom_control")))
          usage.oom_killed = keyed_value(*control, "oom_kill").value_or(0) > 0;
      }
      if (dir.serves(CgroupUse::pids)) {
        if (auto peak = syscalls_.read_file(join(dir.path, "pids.peak"))) usage.pids_peak = number_in(*peak);
        if (auto events = syscalls_.read_file(join(dir.path, "pids.events")))
          usage.pids_limit_hit = keyed_value(*events, "max").value_or(0) > 0;
      }
      if (dir.serves(CgroupUse::cpu)) {
        if (auto stat = syscalls_.read_file(join(dir.path, "cpu.stat"))) {
          if (auto throttled_ns = keyed_value(*stat, "throttled_time")) usage.cpu_throttled_us = *throttled_ns / 1000;
        }
      }
    }
  }

  void read_limits(RunLimits& limits) override {
    for (const auto& dir : dirs_) {
      const auto read = [&](const char* file) -> std::optional<std::uint64_t> {
        auto text = syscalls_.read_file(join(dir.path, file));
        return text ? limit_in(*text) : std::nullopt;
      };
      if (dir.serves(CgroupUse::memory)) {
        limits.memory = read("memory.limit_in_bytes");
        // memsw is memory plus swap; tierbox's swap is what lies on top.
        const auto memsw = read("memory.memsw.limit_in_bytes");
        if (memsw && limits.memory)
          limits.memory_swap = *memsw == kCgroupUnlimited || *limits.memory == kCgroupUnlimited
                                   ? kCgroupUnlimited
                                   : *memsw - std::min(*memsw, *limits.memory);
      }
      if (dir.serves(CgroupUse::pids)) limits.pids = read("pids.max");
      if (dir.serves(CgroupUse::cpu)) {
        const auto quota = read("cpu.cfs_quota_us");
        const auto period = read("cpu.cfs_period_us");
        if (quota == kCgroupUnlimited) limits.cpu_millicores = kCgroupUnlimited;
        else if (quota && period && *period > 0 && *period != kCgroupUnlimited) limits.cpu_millicores = *quota * 1000 / *period;
      }
    }
  }

  void write_limits(const RunLimits& change, const RunLimits& now) override {
    for (const auto& dir : dirs_) {
      if (dir.serves(CgroupUse::memory) && (change.memory || change.memory_swap)) write_memory(dir, change, now);
      if (dir.serves(CgroupUse::pids) && change.pids)
        write_or_throw(syscalls_, join(dir.path, "pids.max"), limit_text(*change.pids, "max"));
      if (dir.serves(CgroupUse::cpu) && change.cpu_millicores) {
        const auto quota = *change.cpu_millicores == kCgroupUnlimited ? kCgroupUnlimited
                                                                       : *change.cpu_millicores * kCpuPeriodUs / 1000;
        write_or_throw(syscalls_, join(dir.path, "cpu.cfs_quota_us"), limit_text(quota, "-1"));
      }
    }
  }

  void destroy() override {
    // In creation order, so the freezer (last) is still there to kill a
    // leftover that keeps another directory busy.
    for (; removed_ < created_; ++removed_)
      remove_directory(syscalls_, dirs_[removed_].path, [this] { kill_everywhere(); });
  }

 private:
  // The freezer directory, if it exists (created, not yet removed).
  const CgroupDir* freezer_dir() const {
    for (std::size_t i = removed_; i < created_; ++i)
      if (dirs_[i].serves(CgroupUse::freezer)) return &dirs_[i];
    return nullptr;
  }

  // The kernel keeps memory.memsw.limit_in_bytes >= memory.limit_in_bytes
  // at every write (EINVAL otherwise): raising memory, memsw goes first;
  // lowering it, memory goes first. memsw keeps the swap on top unless the
  // change sets it too; it is left alone where the kernel has no swap
  // accounting (no memsw file: now.memory_swap unset).
  void write_memory(const CgroupDir& dir, const RunLimits& change, const RunLimits& now) {
    const auto memory = change.memory.value_or(now.memory.value_or(kCgroupUnlimited));
    const auto swap = change.memory_swap ? change.memory_swap : now.memory_swap;
    const auto memory_file = join(dir.path, "memory.limit_in_bytes");
    const auto memsw_file = join(dir.path, "memory.memsw.limit_in_bytes");
    std::string memsw_text;
    if (swap) {
      const bool unlimited = memory == kCgroupUnlimited || *swap == kCgroupUnlimited || memory + *swap < memory;
      memsw_text = unlimited ? "-1" : std::to_string(memory + *swap);
    }
    const bool raising = memory > now.memory.value_or(kCgroupUnlimited);
    if (raising && swap) write_or_throw(syscalls_, memsw_file, memsw_text);
    write_or_throw(syscalls_, memory_file, limit_text(memory, "-1"));
    if (!raising && swap) write_or_throw(syscalls_, memsw_file, memsw_text);
  }

  void kill_everywhere() {
    if (kill()) return;
    for (std::size_t i = removed_; i < created_; ++i) kill_listed(syscalls_, dirs_[i].path);
  }

  CgroupSyscalls& syscalls_;
  std::vector<CgroupDir> dirs_;
  std::size_t created_ = 0;
  std::size_t removed_ = 0;
};

}  // namespace

std::unique_ptr<CgroupDriver> make_cgroup_v1_driver(CgroupSyscalls& syscalls, std::vector<CgroupDir> dirs) {
  return std::make_unique<CgroupV1Driver>(syscalls, std::move(dirs), false);
}

std::unique_ptr<CgroupDriver> attach_cgroup_v1_driver(CgroupSyscalls& syscalls, std::vector<CgroupDir> dirs) {
  return std::make_unique<CgroupV1Driver>(syscalls, std::move(dirs), true);
}

}  // namespace tierbox::stages
