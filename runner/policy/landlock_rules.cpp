#include "policy/landlock_rules.h"

#include <algorithm>

#include "common/errors.h"

namespace tierbox::policy {

namespace landlock {

std::uint64_t filesystem_rights(int abi) {
  if (abi < 1) return 0;
  std::uint64_t rights = (kMakeSym << 1) - 1;  // ABI 1: execute .. make_sym
  if (abi >= 2) rights |= kRefer;
  if (abi >= 3) rights |= kTruncate;
  if (abi >= 5) rights |= kIoctlDev;
  return rights;
}

}  // namespace landlock

namespace {

using namespace landlock;
using Use = LandlockPathInput::Use;

std::uint64_t rights_for(Use use, std::uint64_t handled) {
  constexpr std::uint64_t kRead = kReadFile | kReadDir;
  constexpr std::uint64_t kDevice = kReadFile | kWriteFile | kTruncate | kIoctlDev;
  switch (use) {
    case Use::read: return kRead & handled;
    case Use::read_execute: return (kRead | kExecute) & handled;
    // Writes to /proc/self/... (comm, oom_score_adj); /proc/sys is read-only by mount.
    case Use::proc: return (kRead | kWriteFile | kTruncate) & handled;
    case Use::device: return kDevice & handled;
    case Use::device_directory: return (kDevice | kReadDir) & handled;
    case Use::write: return handled;
  }
  return 0;
}

// What the tier would have enforced on the newest ABI tierbox knows, and
// this kernel cannot.
std::vector<std::string> missing_restrictions(int abi, bool wants_tcp) {
  std::vector<std::string> missing;
  if (abi < 1) {
    missing.emplace_back("Landlock itself (the kernel does not offer it)");
    return missing;
  }
  if (abi < 3) missing.emplace_back("truncate of files outside the writable paths (ABI 3, Linux 6.2)");
  if (abi < 4 && wants_tcp) missing.emplace_back("TCP bind and connect ports (ABI 4, Linux 6.7)");
  if (abi < 5) missing.emplace_back("ioctl on device files (ABI 5, Linux 6.10)");
  if (abi < 6) missing.emplace_back("scoping of abstract unix sockets and signals (ABI 6, Linux 6.12)");
  return missing;
}

std::string joined(const std::vector<std::string>& items) {
  std::string text;
  for (const auto& item : items) text += (text.empty() ? "" : "; ") + item;
  return text;
}

// One line: what the tier asks, what the kernel has, what it lacks, the fix.
std::string refusal(const LandlockSetting& setting, int kernel_abi, const std::vector<std::string>& missing,
                    const std::string& tier) {
  const std::string asks = setting.minimum_abi >= kLandlockFullAbi
                               ? "requires Landlock (\"landlock\": \"required\")"
                               : "requires Landlock ABI " + std::to_string(setting.minimum_abi) +
                                     " (\"landlock\": " + to_string(setting) + ")";
  return "tier '" + tier + "' " + asks + ", but this kernel " +
         (kernel_abi < 1 ? std::string("has no Landlock") : "has Landlock ABI " + std::to_string(kernel_abi)) +
         " and cannot enforce: " + joined(missing) +
         " (fix: run on a kernel with Landlock ABI " + std::to_string(setting.minimum_abi) + " or newer, or set " +
         (kernel_abi >= 1 ? "\"landlock\": {\"minimum_abi\": " + std::to_string(kernel_abi) + "} or " : std::string()) +
         "\"landlock\": \"best_effort\" in the tier)";
}

void add_ports(LandlockPlan& plan, const std::vector<std::uint16_t>& ports, std::uint64_t access) {
  for (auto port : ports) {
    auto it = std::find_if(plan.ports.begin(), plan.ports.end(), [&](const auto& rule) { return rule.port == port; });
    if (it == plan.ports.end()) plan.ports.push_back({port, access});
    else it->access |= access;
  }
}

}  // namespace

LandlockPlan make_landlock_plan(const LandlockSetting& setting, int kernel_abi, const std::vector<LandlockPathInput>& paths,
                                const std::optional<LandlockTcpPorts>& tcp, const std::string& tier) {
  LandlockPlan plan;
  plan.setting = setting;
  if (setting.mode == LandlockMode::off) return plan;
  plan.not_enforced = missing_restrictions(kernel_abi, tcp.has_value());
  if (setting.mode == LandlockMode::required && kernel_abi < setting.minimum_abi)
    throw Error(refusal(setting, kernel_abi, plan.not_enforced, tier), exit_code::runner_failed);
  if (kernel_abi < 1) return plan;

  // Rules of the newest ABI tierbox knows; a newer kernel accepts them.
  const int abi = std::min(kernel_abi, kLandlockFullAbi);
  plan.abi = kernel_abi;
  plan.handled_fs = filesystem_rights(abi);
  for (const auto& path : paths) plan.paths.push_back({path.path, rights_for(path.use, plan.handled_fs), path.optional});
  if (tcp && abi >= 4) {
    plan.handled_net = kBindTcp | kConnectTcp;
    add_ports(plan, tcp->bind, kBindTcp);
    add_ports(plan, tcp->connect, kConnectTcp);
  }
  if (abi >= 6) plan.scoped = kScopeAbstractUnixSocket | kScopeSignal;
  return plan;
}

nlohmann::json landlock_report(const LandlockPlan& plan) {
  return {{"mode", to_string(plan.setting.mode)},
          {"minimum_abi", plan.setting.minimum_abi},
          {"abi", plan.abi},
          {"not_enforced", plan.not_enforced}};
}

}  // namespace tierbox::policy
