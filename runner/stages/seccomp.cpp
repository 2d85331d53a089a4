#include "stages/seccomp.h"

#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <memory>

#include "common/errors.h"
#include "common/unique_fd.h"

namespace tierbox::stages {
namespace {

using ContextPtr = std::unique_ptr<void, decltype(&seccomp_release)>;

std::uint32_t libseccomp_action(const policy::SeccompAction& action, bool notify_errors = false) {
  using Kind = policy::SeccompAction::Kind;
  switch (action.kind) {
    case Kind::allow: return SCMP_ACT_ALLOW;
    case Kind::error: return notify_errors ? SCMP_ACT_NOTIFY : SCMP_ACT_ERRNO(static_cast<std::uint32_t>(action.error_number));
    case Kind::kill_process: return SCMP_ACT_KILL_PROCESS;
    case Kind::log: return SCMP_ACT_LOG;
  }
  throw Error("seccomp: unknown action", exit_code::runner_failed);
}

void check(int result, const std::string& call) {
  if (result < 0) throw SysError(-result, "seccomp: " + call);
}

void add_rule(scmp_filter_ctx context, const policy::SeccompRule& rule, bool notify_errors, std::uint32_t default_action) {
  const int number = seccomp_syscall_resolve_name(rule.syscall.c_str());
  if (number == __NR_SCMP_ERROR)
    throw Error("seccomp: libseccomp " + libseccomp_version() + " does not know the syscall " + quote(rule.syscall),
                exit_code::runner_failed);
  const auto action = libseccomp_action(rule.action, notify_errors);
  // With notify_errors, EPERM and ENOSYS rules both become NOTIFY, like an
  // errno default: such a rule changes nothing (libseccomp refuses it).
  if (!rule.match && action == default_action) return;
  if (!rule.match) {
    check(seccomp_rule_add(context, action, number, 0), "seccomp_rule_add(" + rule.syscall + ")");
    return;
  }
  std::string text = "seccomp_rule_add(" + rule.syscall;
  const auto comparison = [&text](const policy::ArgumentMatch& match) {
    const bool at_least = match.compare == policy::ArgumentMatch::Compare::at_least;
    text += ", arg" + std::to_string(match.arg) + (at_least ? " >= " : " masked == ") + std::to_string(match.value);
    return at_least ? scmp_arg_cmp{match.arg, SCMP_CMP_GE, match.value, 0}
                    : scmp_arg_cmp{match.arg, SCMP_CMP_MASKED_EQ, match.mask, match.value};
  };
  // libseccomp ANDs the comparisons of one rule (each on its own argument).
  struct scmp_arg_cmp compare[2];
  unsigned count = 0;
  compare[count++] = comparison(*rule.match);
  if (rule.and_match) compare[count++] = comparison(*rule.and_match);
  check(seccomp_rule_add_array(context, action, number, count, compare), text + ")");
}

BpfProgram export_bpf(scmp_filter_ctx context) {
  // libseccomp 2.5 exports only to an fd; a memfd never blocks, whatever the
  // program's size (a pipe would, past its buffer).
  UniqueFd memory(::memfd_create("tierbox-seccomp", MFD_CLOEXEC));
  if (!memory) throw_sys_error("memfd_create(\"tierbox-seccomp\", MFD_CLOEXEC)");
  check(seccomp_export_bpf(context, memory.get()), "seccomp_export_bpf");
  const off_t size = ::lseek(memory.get(), 0, SEEK_END);
  if (size < 0) throw_sys_error("lseek(seccomp memfd)");
  if (size == 0 || size % sizeof(struct sock_filter) != 0 ||
      size > static_cast<off_t>(BPF_MAXINSNS * sizeof(struct sock_filter)))
    throw Error("seccomp: the exported filter has " + std::to_string(size) + " bytes, not 1 to " +
                    std::to_string(BPF_MAXINSNS) + " BPF instructions (fix: allow or deny fewer syscalls)",
                exit_code::runner_failed);
  BpfProgram program(static_cast<std::size_t>(size) / sizeof(struct sock_filter));
  if (::pread(memory.get(), program.data(), static_cast<std::size_t>(size), 0) != size)
    throw_sys_error("pread(seccomp memfd)");
  return program;
}

}  // namespace

std::string libseccomp_version() {
  const auto* version = seccomp_version();
  return std::to_string(version->major) + "." + std::to_string(version->minor) + "." + std::to_string(version->micro);
}

BpfProgram compile_filter(const policy::SeccompFilterSpec& spec) {
  const auto default_action = libseccomp_action(spec.default_action, spec.notify_errors);
  ContextPtr context(seccomp_init(default_action), &seccomp_release);
  if (!context) throw Error("seccomp: seccomp_init failed", exit_code::runner_failed);
  check(seccomp_attr_set(context.get(), SCMP_FLTATR_ACT_BADARCH, libseccomp_action(spec.bad_arch_action)),
        "seccomp_attr_set(SCMP_FLTATR_ACT_BADARCH)");
  // A binary tree of syscall numbers instead of a linear list: fewer
  // instructions run per syscall, and fewer for the kernel's action cache to
  // emulate when the filter is attached.
  check(seccomp_attr_set(context.get(), SCMP_FLTATR_CTL_OPTIMIZE, 2), "seccomp_attr_set(SCMP_FLTATR_CTL_OPTIMIZE, 2)");
  if (spec.foreign_arches) {
    check(seccomp_arch_add(context.get(), SCMP_ARCH_X86), "seccomp_arch_add(SCMP_ARCH_X86)");
    check(seccomp_arch_add(context.get(), SCMP_ARCH_X32), "seccomp_arch_add(SCMP_ARCH_X32)");
  }
  for (const auto& rule : spec.rules) add_rule(context.get(), rule, spec.notify_errors, default_action);
  return export_bpf(context.get());
}

CompiledSeccomp compile_seccomp(const policy::SeccompPlan& plan) {
  CompiledSeccomp compiled;
  if (!plan.arguments.rules.empty()) compiled.arguments = compile_filter(plan.arguments);
  compiled.syscalls = compile_filter(plan.syscalls);
  compiled.log_denials = plan.log_denials;
  compiled.listener = plan.syscalls.notify_errors;
  return compiled;
}

namespace {

// Returns the new listener fd with SECCOMP_FILTER_FLAG_NEW_LISTENER, else 0;
// -1 on failure.
int install_one(const BpfProgram& program, unsigned flags, const char* which, ChildFailure& failure) noexcept {
  struct sock_fprog fprog {static_cast<unsigned short>(program.size()), const_cast<struct sock_filter*>(program.data())};
  const long result = ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &fprog);
  if (result >= 0) return static_cast<int>(result);
  failure.record(errno).add("seccomp(SECCOMP_SET_MODE_FILTER").add(flags & SECCOMP_FILTER_FLAG_LOG ? ", SECCOMP_FILTER_FLAG_LOG" : "")
      .add(flags & SECCOMP_FILTER_FLAG_NEW_LISTENER ? ", SECCOMP_FILTER_FLAG_NEW_LISTENER" : "")
      .add(", the ").add(which).add(" filter of ").add_number(static_cast<std::int64_t>(program.size())).add(" instructions)");
  return -1;
}

}  // namespace

bool install_seccomp(const CompiledSeccomp& filters, int* listener_fd, ChildFailure& failure) noexcept {
  *listener_fd = -1;
  const unsigned flags = filters.log_denials ? SECCOMP_FILTER_FLAG_LOG : 0U;
  if (!filters.arguments.empty() && install_one(filters.arguments, flags, "arguments", failure) < 0) return false;
  const unsigned listener = filters.listener ? SECCOMP_FILTER_FLAG_NEW_LISTENER : 0U;
  const int result = install_one(filters.syscalls, flags | listener, "syscalls", failure);
  if (result < 0) return false;
  if (filters.listener) *listener_fd = result;
  return true;
}

}  // namespace tierbox::stages
