// The `limits` section of a tier: what a task may use (docs/profiles.md).
//
// Cgroup limits (memory, memory_swap, pids, cpu, io_weight) are enforced by
// the run's own cgroups (stages/cgroup.h). Each is `required` unless the tier
// says otherwise: a host that cannot enforce a required limit refuses the
// launch (fail closed); one that cannot enforce an optional limit runs the
// task with a warning and says so in the result. rlimits are set in the
// sandbox by setrlimit, which every host can do.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace tierbox::policy {

class JsonObjectReader;

template <typename T>
struct CgroupLimit {
  std::optional<T> value;  // nullopt: no limit
  bool required = true;
};

struct CgroupLimits {
  CgroupLimit<std::uint64_t> memory;          // bytes
  CgroupLimit<std::uint64_t> memory_swap;     // bytes of swap on top of memory
  CgroupLimit<std::uint64_t> pids;            // processes and threads
  CgroupLimit<std::uint32_t> cpu_millicores;  // 500: half a core
  CgroupLimit<std::uint32_t> io_weight;       // 1-10000, cgroup v2's scale (default 100)
};

inline constexpr std::uint64_t kRlimitUnlimited = ~0ULL;  // RLIM_INFINITY

// The smallest rlimits a launch works with (validate_limits refuses less).
// nofile: the child sets it while it still holds stdio and one fd per cgroup
// v1 hierarchy it joins, and then receives sync #2's fds, which need free
// numbers below the limit (else recvmsg cuts them: "the parent did not send
// sync #2: EMSGSIZE"). Measured on a host with four v1 hierarchies: 0-8
// fail, 9 works; each further hierarchy (blkio for io_weight) takes one
// more. 16 covers every hierarchy tierbox joins.
inline constexpr std::uint64_t kMinNofile = 16;
// Measured on x86-64 Debian: /bin/true needs 12 KiB of stack (8 KiB dies
// with SIGSEGV); the kernel also fits argv and the environment in a quarter
// of it at execve.
inline constexpr std::uint64_t kMinStackBytes = 64 << 10;
// Measured: /bin/true needs 2.5 MB of address space, below that ld.so
// cannot map libc ("failed to map segment from shared object").
inline constexpr std::uint64_t kMinAddressSpaceBytes = 8 << 20;

struct RlimitValue {
  std::uint64_t soft = 0;
  std::uint64_t hard = 0;
};

// nullopt: the caller's own limit is inherited. core is 0 unless a tier sets
// it: a core dump would write the task's memory, secrets included, to disk.
struct RlimitsSpec {
  std::optional<RlimitValue> nofile;
  std::optional<RlimitValue> nproc;
  std::optional<RlimitValue> fsize;
  std::optional<RlimitValue> core = RlimitValue{0, 0};
  std::optional<RlimitValue> stack;
  std::optional<RlimitValue> as;
};

struct LimitsSpec {
  std::chrono::milliseconds wall_time{std::chrono::hours(1)};
  CgroupLimits cgroup;
  // The most the task may write to disk: the size of its staged layer's
  // tmpfs (docs/staged-writes.md). Where the task writes the host's disk
  // directly (a read-write workspace or bind) nothing can enforce it on a
  // plain ext4, so a required limit refuses such a tier.
  CgroupLimit<std::uint64_t> disk;
  // The most the task may write to stdout and stderr together; nullopt: the
  // task writes straight to the caller's fds.
  std::optional<std::uint64_t> output_bytes;
  RlimitsSpec rlimits;
};

void apply_limits(JsonObjectReader reader, LimitsSpec& spec);
// Checks across fields, once every layer of the tier is applied; file names
// the leaf for messages.
void validate_limits(const LimitsSpec& spec, const std::string& file);

}  // namespace tierbox::policy
