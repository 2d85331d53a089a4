// The pure step from a tier's `seccomp` section to filter rules: which
// syscall gets which action, under which argument condition. The launcher
// compiles the result with libseccomp (stages/seccomp); nothing here makes a
// syscall, so every decision is unit-testable.
//
// Two filters, installed one after the other. The kernel runs every filter
// and the most restrictive answer wins, which is what lets a syscall be
// allowed in general and refused for some arguments (libseccomp drops
// conditional rules of a syscall that also has an unconditional one):
//   arguments  default allow; refuses the always-blocked argument patterns
//              (clone/unshare with CLONE_NEWUSER, ioctl TIOCSTI/TIOCLINUX,
//              personality flags that weaken ASLR, socket families other
//              than unix, IP and netlink, set-user-ID and set-group-ID
//              modes)
//   syscalls   the tier's allow list; everything else gets default_action,
//              the deny list and the always-blocked syscalls deny_action
// Both kill a process entering through a foreign ABI (32-bit x86, x32).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "policy/seccomp_groups.h"
#include "policy/sections/seccomp.h"

namespace tierbox::policy {

struct SeccompRule {
  std::string syscall;
  SeccompAction action;
  std::optional<ArgumentMatch> match;      // none: whatever the arguments
  std::optional<ArgumentMatch> and_match;  // a second condition that must hold too (only with match)
};

// One BPF program.
struct SeccompFilterSpec {
  SeccompAction default_action;
  SeccompAction bad_arch_action{SeccompAction::Kind::kill_process, 0};
  bool foreign_arches = false;  // also x86 (ia32) and x32: allow_dangerous "foreign_abi"
  // errno actions (rules and default) become SECCOMP_RET_USER_NOTIF: tierbox
  // answers them with the errno of the rule and counts them (count_denials).
  bool notify_errors = false;
  std::vector<SeccompRule> rules;  // sorted by syscall, then condition; never default_action
};

struct SeccompPlan {
  SeccompFilterSpec arguments;  // not installed when it has no rules
  SeccompFilterSpec syscalls;
  bool log_denials = false;
  std::vector<std::string> opted_in;  // allow_dangerous, as given
};

SeccompPlan make_seccomp_plan(const SeccompSpec& spec);

// A canonical text of the plan: one line per filter setting and rule. Equal
// plans give equal texts.
std::string describe(const SeccompPlan& plan);

// A canonical text of a section (lists sorted, duplicates dropped): sections
// with equal texts give equal plans, with the same tierbox build.
std::string describe(const SeccompSpec& spec);

}  // namespace tierbox::policy
