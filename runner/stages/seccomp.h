// The seccomp concern. Parent side, before clone: compile the plan's two
// filters with libseccomp and export them as classic BPF (or take them from
// the cache, see seccomp_cache.h). Child side, last before the task starts:
// install them, after no_new_privs and the capability drop, so nothing the
// child still does for its own setup needs to be allowed.
#pragma once

#include <linux/filter.h>

#include <cstdint>
#include <string>
#include <vector>

#include "policy/seccomp_rules.h"
#include "stages/child_failure.h"

namespace tierbox::stages {

using BpfProgram = std::vector<struct sock_filter>;

struct CompiledSeccomp {
  BpfProgram arguments;  // empty: not installed (no argument rules)
  BpfProgram syscalls;
  bool log_denials = false;
  bool listener = false;  // the syscalls filter notifies: install it with a listener (count_denials)
};

// One filter, with libseccomp: the spec's rules, exported with
// seccomp_export_bpf. Throws tierbox::Error naming the rule libseccomp refused.
BpfProgram compile_filter(const policy::SeccompFilterSpec& spec);
CompiledSeccomp compile_seccomp(const policy::SeccompPlan& plan);

// libseccomp's version, "2.5.4": part of the cache key.
std::string libseccomp_version();

// Child side: installs arguments, then syscalls (the syscalls filter may not
// allow seccomp(2) itself, so it goes last). Needs no_new_privs. With
// filters.listener, *listener_fd receives the notification fd
// (SECCOMP_FILTER_FLAG_NEW_LISTENER); else it is -1.
bool install_seccomp(const CompiledSeccomp& filters, int* listener_fd, ChildFailure& failure) noexcept;

}  // namespace tierbox::stages
