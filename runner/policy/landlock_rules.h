// The pure step from a plan's mounts to Landlock rules: which path inside the
// new root may be accessed how, for the kernel's Landlock ABI. The child
// applies them (stages/landlock) after pivot_root, so the paths are the
// sandbox's own. docs/profiles.md ("Landlock") describes the result.
//
// Why, on top of the mount namespace: the rules attach to the inodes of what
// the plan mounts, and Landlock checks every access by walking up from the
// file actually reached. A task that finds some way to a host path (an fd
// passed in, a /proc magic link, a kernel bug in path resolution) reaches a
// file none of whose ancestors carries a rule, and is refused.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "policy/sections/landlock.h"

namespace tierbox::policy {

// Landlock's access rights and flags, as the kernel defines them
// (include/uapi/linux/landlock.h). Defined here because Debian 12's header
// stops at ABI 2.
namespace landlock {
inline constexpr std::uint64_t kExecute = 1ULL << 0;
inline constexpr std::uint64_t kWriteFile = 1ULL << 1;
inline constexpr std::uint64_t kReadFile = 1ULL << 2;
inline constexpr std::uint64_t kReadDir = 1ULL << 3;
inline constexpr std::uint64_t kRemoveDir = 1ULL << 4;
inline constexpr std::uint64_t kRemoveFile = 1ULL << 5;
inline constexpr std::uint64_t kMakeChar = 1ULL << 6;
inline constexpr std::uint64_t kMakeDir = 1ULL << 7;
inline constexpr std::uint64_t kMakeReg = 1ULL << 8;
inline constexpr std::uint64_t kMakeSock = 1ULL << 9;
inline constexpr std::uint64_t kMakeFifo = 1ULL << 10;
inline constexpr std::uint64_t kMakeBlock = 1ULL << 11;
inline constexpr std::uint64_t kMakeSym = 1ULL << 12;
inline constexpr std::uint64_t kRefer = 1ULL << 13;     // ABI 2
inline constexpr std::uint64_t kTruncate = 1ULL << 14;  // ABI 3
inline constexpr std::uint64_t kIoctlDev = 1ULL << 15;  // ABI 5
// Rights that apply to a file (not a directory); a rule on a file may hold no other.
inline constexpr std::uint64_t kFileRights = kExecute | kWriteFile | kReadFile | kTruncate | kIoctlDev;

inline constexpr std::uint64_t kBindTcp = 1ULL << 0;     // ABI 4, handled_access_net
inline constexpr std::uint64_t kConnectTcp = 1ULL << 1;  // ABI 4

inline constexpr std::uint64_t kScopeAbstractUnixSocket = 1ULL << 0;  // ABI 6, scoped
inline constexpr std::uint64_t kScopeSignal = 1ULL << 1;              // ABI 6

// The filesystem rights an ABI knows; the ruleset handles all of them.
std::uint64_t filesystem_rights(int abi);
}  // namespace landlock

// A path the plan puts in the new root, with what it may be used for.
struct LandlockPathInput {
  enum class Use { read, read_execute, write, proc, device, device_directory };
  std::string path;  // absolute, inside the new root
  Use use = Use::read;
  bool optional = false;  // may be missing (an optional bind whose source was absent)
};

// TCP ports a network policy allows (ABI 4). Network mode "none" has none of
// these: its namespace has only lo, which servers of the task itself use.
struct LandlockTcpPorts {
  std::vector<std::uint16_t> bind;
  std::vector<std::uint16_t> connect;
};

struct LandlockPathRule {
  std::string path;
  std::uint64_t access = 0;  // for a directory; the child keeps the file rights for a file
  bool optional = false;
};

struct LandlockPortRule {
  std::uint16_t port = 0;
  std::uint64_t access = 0;
};

struct LandlockPlan {
  LandlockSetting setting{LandlockMode::off, 0};
  int abi = 0;  // the ABI the rules are made for; 0: Landlock is not applied
  std::uint64_t handled_fs = 0;
  std::uint64_t handled_net = 0;
  std::uint64_t scoped = 0;
  std::vector<LandlockPathRule> paths;
  std::vector<LandlockPortRule> ports;
  // What the newest ABI would enforce and this kernel cannot: the launch
  // names each in a warning, the result and the audit record. A kernel
  // below the tier's minimum_abi refuses the launch instead.
  std::vector<std::string> not_enforced;
};

// kernel_abi: landlock_create_ruleset(NULL, 0, VERSION), 0 when unsupported.
// Throws tierbox::Error (exit 125) when the setting is required and the
// kernel is below its minimum_abi.
LandlockPlan make_landlock_plan(const LandlockSetting& setting, int kernel_abi, const std::vector<LandlockPathInput>& paths,
                                const std::optional<LandlockTcpPorts>& tcp, const std::string& tier);

}  // namespace tierbox::policy

namespace tierbox::policy {

// What a launch gets from Landlock, as `run -v`, the result file (docs/result.md)
// and the audit start and end records show it: {"mode", "minimum_abi",
// "abi" (0: not applied), "not_enforced" [...]}.
nlohmann::json landlock_report(const LandlockPlan& plan);

}  // namespace tierbox::policy
