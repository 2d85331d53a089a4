// A classic-BPF interpreter for seccomp programs, for unit tests: runs an
// exported filter on a seccomp_data the test makes up (syscall number,
// architecture, arguments) and returns the filter's verdict, with no kernel
// involved. It accepts the instructions the kernel accepts in a seccomp
// filter (kernel/seccomp.c: seccomp_check_filter and bpf_check_classic) and
// refuses, with a reason, what the kernel would refuse: unknown opcodes,
// jumps out of the program, loads outside seccomp_data or unaligned, a
// program that can fall off its end.
#pragma once

#include <linux/filter.h>
#include <linux/seccomp.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>

namespace tierbox::testing {

struct SyscallCall {
  int nr = 0;
  std::uint32_t arch = 0;  // AUDIT_ARCH_*
  std::uint64_t args[6] = {};
};

// The reason program is not a valid seccomp filter, or nullopt.
std::optional<std::string> check_seccomp_program(std::span<const struct sock_filter> program);

// The filter's return value (SECCOMP_RET_*) for call. The program must pass
// check_seccomp_program.
std::uint32_t run_seccomp_program(std::span<const struct sock_filter> program, const SyscallCall& call);

// The kernel's verdict when several filters are installed: every one runs,
// and the most restrictive action wins (kernel/seccomp.c, seccomp_run_filters:
// the lowest action value, compared as signed).
std::uint32_t most_restrictive(std::uint32_t a, std::uint32_t b);

// "ALLOW", "ERRNO(1)", "KILL_PROCESS", "LOG", ...: readable test failures.
std::string describe_verdict(std::uint32_t verdict);

}  // namespace tierbox::testing
