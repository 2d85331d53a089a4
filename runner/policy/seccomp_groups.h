// The named syscall groups a tier's `seccomp` section may use ("@file-system",
// "@network-io", ...), in the spirit of systemd's SystemCallFilter= sets, and
// the items that are blocked in every tier unless it opts in explicitly
// (seccomp.allow_dangerous). Pure data and lookups; docs/seccomp.md lists the
// same tables for readers.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tierbox::policy {

struct SyscallGroup {
  std::string_view name;  // with the leading '@'
  std::string_view description;
  std::span<const std::string_view> members;  // syscall names or other "@groups"
};

// Every group, in the order docs/seccomp.md lists them.
std::span<const SyscallGroup> syscall_groups();
const SyscallGroup* find_syscall_group(std::string_view name);

// The syscall names of a name or "@group", groups expanded recursively.
// Empty for an unknown group; a plain name is returned as it is.
std::vector<std::string> expand_syscall_names(std::string_view name_or_group);
// Calls visit for each syscall name of name_or_group (views of the table's
// names or of name_or_group itself); a name may come more than once.
void for_each_syscall(std::string_view name_or_group, const std::function<void(std::string_view)>& visit);

// Whether libseccomp knows name as a syscall of any architecture.
bool is_known_syscall(std::string_view name);

// What tierbox's own init and the start of the task need once the filter is
// in place (init: sigwaitinfo, wait4, kill, getrusage, write, exit; the task:
// clone, close_range, setpgid, rt_sigaction, rt_sigprocmask, send, execve).
// Always allowed; a tier may not deny them.
std::span<const std::string_view> runtime_syscalls();

// A condition on one syscall argument: (args[arg] & mask) == value, or
// args[arg] >= value on all 64 bits (mask unused).
struct ArgumentMatch {
  enum class Compare : std::uint8_t { masked_equal, at_least };
  unsigned arg = 0;
  std::uint64_t mask = 0;
  std::uint64_t value = 0;
  Compare compare = Compare::masked_equal;
};

// A syscall that an always-blocked item blocks only for some arguments:
// match, and and_match too when there is one (on another argument).
struct ArgumentBlock {
  std::string_view syscall;
  ArgumentMatch match;
  std::optional<ArgumentMatch> and_match{};
};

// One entry of the always-blocked list.
struct BlockedItem {
  std::string_view id;           // what allow_dangerous names
  std::string_view description;  // for docs, `profile check` and errors
  std::span<const std::string_view> syscalls;          // blocked whatever the arguments
  std::span<const std::string_view> enosys_syscalls;   // answered ENOSYS whatever the tier's deny_action (clone3)
  std::span<const ArgumentBlock> argument_blocks;      // blocked for these arguments only
  bool foreign_abi = false;      // 32-bit x86 and x32 entry on x86_64
  // The errno the argument blocks answer when the tier's deny_action is an
  // errno (0: that errno). kill_process stays kill_process.
  int refusal_errno = 0;
};

std::span<const BlockedItem> always_blocked_items();
const BlockedItem* find_blocked_item(std::string_view id);
// The item that blocks syscall whatever its arguments, or nullptr.
const BlockedItem* blocked_item_of_syscall(std::string_view syscall);

}  // namespace tierbox::policy
