// The seccomp concern without a kernel: the rules a tier's section turns
// into, and the compiled BPF run through a classic-BPF interpreter
// (unit/bpf_interpreter.h) for sample syscalls, both filters together with
// the kernel's "most restrictive wins".
#include <linux/audit.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/personality.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <boost/test/unit_test.hpp>

#include <fstream>
#include <map>

#include "common/errors.h"
#include "common/temp_dir.h"
#include "profile_text.h"
#include "policy/profile_loader.h"
#include "policy/seccomp_groups.h"
#include "policy/seccomp_rules.h"
#include "stages/seccomp.h"
#include "stages/seccomp_cache.h"
#include "unit/bpf_interpreter.h"

using namespace tierbox;
using namespace tierbox::policy;
using namespace tierbox::testing;

namespace {

constexpr std::uint32_t kX32Bit = 0x40000000;
constexpr int kI386Getpid = 20;
constexpr int kI386Ioctl = 54;

std::uint32_t errno_verdict(int err) { return SECCOMP_RET_ERRNO | static_cast<std::uint32_t>(err); }

// The kernel's verdict for call with both filters installed.
std::uint32_t decide(const stages::CompiledSeccomp& filters, int nr, std::initializer_list<std::uint64_t> args = {},
                     std::uint32_t arch = AUDIT_ARCH_X86_64) {
  SyscallCall call;
  call.nr = nr;
  call.arch = arch;
  int i = 0;
  for (auto arg : args) call.args[i++] = arg;
  std::uint32_t verdict = run_seccomp_program(filters.syscalls, call);
  if (!filters.arguments.empty()) verdict = most_restrictive(verdict, run_seccomp_program(filters.arguments, call));
  return verdict;
}

#define CHECK_VERDICT(filters, expected, ...)                                                      \
  do {                                                                                             \
    const auto got_ = decide(filters, __VA_ARGS__);                                                \
    BOOST_TEST(got_ == (expected), #__VA_ARGS__ << ": " << describe_verdict(got_) << ", expected " \
                                                << describe_verdict(expected));                    \
  } while (0)

stages::CompiledSeccomp compile(const SeccompSpec& spec) {
  auto filters = stages::compile_seccomp(make_seccomp_plan(spec));
  for (const auto* program : {&filters.arguments, &filters.syscalls}) {
    if (program->empty()) continue;
    auto problem = check_seccomp_program(*program);
    BOOST_REQUIRE_MESSAGE(!problem, "the kernel would refuse the filter: " << problem.value_or(""));
  }
  return filters;
}

// A small policy: a few syscalls and one group allowed, socket denied.
SeccompSpec small_policy() {
  SeccompSpec spec;
  spec.allow = {"read", "write", "getpid", "ioctl", "clone", "unshare", "personality", "@signal"};
  spec.deny = {"socket"};
  return spec;
}

const SeccompRule* find_rule(const SeccompFilterSpec& filter, const std::string& syscall) {
  for (const auto& rule : filter.rules)
    if (rule.syscall == syscall) return &rule;
  return nullptr;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(seccomp_rules)

BOOST_AUTO_TEST_CASE(every_group_member_is_a_syscall_libseccomp_knows_or_a_group) {
  for (const auto& group : syscall_groups()) {
    BOOST_TEST(group.name.front() == '@');
    for (auto member : group.members) {
      if (member.front() == '@') BOOST_TEST(find_syscall_group(member) != nullptr, group.name << ": " << member);
      else BOOST_TEST(is_known_syscall(member), group.name << ": " << member);
    }
  }
  for (const auto& item : always_blocked_items()) {
    for (auto syscall : item.syscalls) BOOST_TEST(is_known_syscall(syscall), item.id << ": " << syscall);
    for (auto block : item.argument_blocks) BOOST_TEST(is_known_syscall(block.syscall), item.id << ": " << block.syscall);
  }
  for (auto syscall : runtime_syscalls()) BOOST_TEST(is_known_syscall(syscall), syscall);
}

BOOST_AUTO_TEST_CASE(groups_expand_recursively) {
  auto service = expand_syscall_names("@system-service");
  for (const char* expected : {"read", "openat", "execve", "socket", "rt_sigaction", "ioctl", "setpgid", "seccomp"})
    BOOST_TEST((std::find(service.begin(), service.end(), expected) != service.end()), expected);
  BOOST_TEST(expand_syscall_names("@no-such-group").empty());
  BOOST_TEST((expand_syscall_names("read") == std::vector<std::string>{"read"}));
}

BOOST_AUTO_TEST_CASE(the_shipped_allow_list_holds_no_always_blocked_syscall) {
  for (const auto& syscall : expand_syscall_names("@system-service")) {
    const auto* item = blocked_item_of_syscall(syscall);
    BOOST_TEST(!item, syscall << " is in @system-service and always blocked by " << (item ? item->id : ""));
  }
}

BOOST_AUTO_TEST_CASE(always_blocked_syscalls_get_the_deny_action_even_when_a_group_allows_them) {
  SeccompSpec spec;
  spec.allow = {"@system-service", "@debug", "@mount", "@keyring", "@io-uring", "@bpf"};
  spec.default_action = {SeccompAction::Kind::kill_process, 0};  // so that clone3's ENOSYS needs a rule
  const auto plan = make_seccomp_plan(spec);
  for (const char* syscall : {"ptrace", "mount", "umount2", "pivot_root", "open_tree", "move_mount", "fsopen",
                              "fsmount", "kexec_load", "init_module", "finit_module", "delete_module", "bpf",
                              "perf_event_open", "keyctl", "add_key", "request_key", "process_vm_readv",
                              "process_vm_writev", "userfaultfd", "io_uring_setup", "io_uring_enter"}) {
    const auto* rule = find_rule(plan.syscalls, syscall);
    BOOST_REQUIRE_MESSAGE(rule, syscall << " has no rule");
    BOOST_TEST((rule->action == spec.deny_action), syscall << ": " << to_string(rule->action));
    BOOST_TEST(!rule->match.has_value());
  }
  const auto* clone3 = find_rule(plan.syscalls, "clone3");
  BOOST_REQUIRE(clone3);
  BOOST_TEST(to_string(clone3->action) == "errno:ENOSYS");
}

BOOST_AUTO_TEST_CASE(opting_in_allows_exactly_the_named_item) {
  SeccompSpec spec;
  spec.allow_dangerous = {"ptrace", "tiocsti", "new_user_namespace"};
  const auto plan = make_seccomp_plan(spec);
  BOOST_TEST(to_string(find_rule(plan.syscalls, "ptrace")->action) == "allow");
  BOOST_TEST(to_string(find_rule(plan.syscalls, "clone3")->action) == "allow");
  BOOST_TEST(to_string(find_rule(plan.syscalls, "process_vm_readv")->action) == "errno:EPERM");
  for (const auto& rule : plan.arguments.rules) {
    BOOST_TEST(rule.syscall != "clone");
    BOOST_TEST(rule.syscall != "unshare");
    BOOST_TEST(!(rule.syscall == "ioctl" && rule.match->value == TIOCSTI));
  }
  BOOST_TEST(plan.opted_in == spec.allow_dangerous, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(tierbox_runtime_syscalls_are_allowed_whatever_the_allow_list) {
  SeccompSpec spec;
  spec.allow = {};
  const auto plan = make_seccomp_plan(spec);
  for (auto syscall : runtime_syscalls()) {
    const auto* rule = find_rule(plan.syscalls, std::string(syscall));
    BOOST_REQUIRE_MESSAGE(rule, syscall);
    BOOST_TEST(to_string(rule->action) == "allow", syscall);
  }
}

BOOST_AUTO_TEST_CASE(docs_list_every_group_with_its_members_and_every_item) {
  std::ifstream in(std::string(TIERBOX_SOURCE_DIR) + "/docs/seccomp.md");
  std::map<std::string, std::string> rows;  // first cell -> last cell
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("| `", 0) != 0) continue;
    const auto name_end = line.find('`', 3);
    const auto cell = line.rfind('|', line.size() - 2) + 1;  // the last cell, without the closing '|'
    rows[line.substr(3, name_end - 3)] = line.substr(cell, line.size() - 1 - cell);
  }
  for (const auto& group : syscall_groups()) {
    BOOST_REQUIRE_MESSAGE(rows.count(std::string(group.name)), group.name << " is not in docs/seccomp.md");
    std::string members;
    for (auto member : group.members) members += (members.empty() ? " " : ", ") + std::string(member);
    BOOST_TEST(rows[std::string(group.name)] == members + " ", group.name << " lists other members in docs/seccomp.md");
  }
  for (const auto& item : always_blocked_items())
    BOOST_TEST(rows.count(std::string(item.id)) == 1u, item.id << " is not in docs/seccomp.md");
}

BOOST_AUTO_TEST_CASE(the_plan_text_is_canonical) {
  auto a = small_policy();
  auto b = small_policy();
  std::reverse(b.allow.begin(), b.allow.end());
  BOOST_TEST(describe(make_seccomp_plan(a)) == describe(make_seccomp_plan(b)));
  b.deny.clear();
  BOOST_TEST(describe(make_seccomp_plan(a)) != describe(make_seccomp_plan(b)));
  BOOST_TEST(describe(a) != describe(b));
  BOOST_TEST(stages::seccomp_cache_key(a) != stages::seccomp_cache_key(b));
  // The section's text is canonical too: order and repetition do not matter.
  auto c = small_policy();
  c.allow.push_back("read");
  std::reverse(c.allow.begin(), c.allow.end());
  BOOST_TEST(describe(c) == describe(small_policy()));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(seccomp_bpf)

BOOST_AUTO_TEST_CASE(small_policy_decisions) {
  const auto filters = compile(small_policy());
  CHECK_VERDICT(filters, SECCOMP_RET_ALLOW, SYS_read);
  CHECK_VERDICT(filters, SECCOMP_RET_ALLOW, SYS_rt_sigaction);  // from @signal
  CHECK_VERDICT(filters, SECCOMP_RET_ALLOW, SYS_execve);        // tierbox's runtime
  CHECK_VERDICT(filters, errno_verdict(ENOSYS), SYS_openat);    // not listed: default action
  CHECK_VERDICT(filters, errno_verdict(ENOSYS), 1000);          // a number no kernel has yet
  CHECK_VERDICT(filters, errno_verdict(EPERM), SYS_socket);     // denied
  CHECK_VERDICT(filters, errno_verdict(EPERM), SYS_ptrace);     // always blocked
  CHECK_VERDICT(filters, errno_verdict(EPERM), SYS_mount);
  CHECK_VERDICT(filters, errno_verdict(EPERM), SYS_bpf);
  CHECK_VERDICT(filters, errno_verdict(ENOSYS), SYS_clone3);    // libc falls back to clone
}

BOOST_AUTO_TEST_CASE(new_user_namespaces_are_refused_by_flag) {
  const auto filters = compile(small_policy());
  CHECK_VERDICT(filters, SECCOMP_RET_ALLOW, SYS_clone, {SIGCHLD});
  CHECK_VERDICT(filters, SECCOMP_RET_ALLOW, SYS_clone, {CLONE_VM | CLONE_VFORK | SIGCHLD});
  CHECK_VERDICT(filters, errno_verdict(EPERM), SYS_clone, {CLONE_NEWUSER | SIGCHLD});
  CHECK_VERDICT(filters, errno_verdict(EPERM), SYS_clone, {CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID});
  CHECK_VERDICT(filters, SECCOMP_RET_ALLOW, SYS_unshare, {CLONE_NEWNS});  // the kernel refuses it: no capabilities
  CHECK_VERDICT(filters, errno_verdict(EPERM), SYS_unshare, {CLONE_NEWUSER});
  CHECK_VERDICT(filters, errno_verdict(EPERM), SYS_unshare, {0xffffffff00000000ULL | CLONE_NEWUSER});
}

BOOST_AUTO_TEST_CASE(tiocsti_and_tioclinux_are_refused_whatever_the_upper_bits) {
  const auto filters = compile(small_policy());
  CHECK_VERDICT(filters, SECCOMP_RET_ALLOW, SYS_ioctl, {0, TCGETS});
  CHECK_VERDICT(filters, SECCOMP_RET_ALLOW, SYS_ioctl, {0, TIOCGWINSZ});
  CHECK_VERDICT(filters, errno_verdict(EPERM), SYS_ioctl, {0, TIOCSTI});
  CHECK_VERDICT(filters, errno_verdict(EPERM), SYS_ioctl, {0, TIOCLINUX});
  CHECK_VERDICT(filters, errno_verdict(EPERM), SYS_ioctl, {0, TIOCSETD});
  CHECK_VERDICT(filters, SECCOMP_RET_ALLOW, SYS_ioctl, {0, TIOCGETD});
  CHECK_VERDICT(filters, errno_verdict(EPERM), SYS_ioctl, {0, 0x700000000ULL | TIOCSETD});
  // The kernel reads the request as an unsigned int: 0x1'0000'5412 is TIOCSTI.
  CHECK_VERDICT(filters, errno_verdict(EPERM), SYS_ioctl, {0, 0x100000000ULL | TIOCSTI});
  CHECK_VERDICT(filters, errno_verdict(EPERM), SYS_ioctl, {0, 0xdeadbeef00000000ULL | TIOCLINUX});
}

BOOST_AUTO_TEST_CASE(personality_flags_that_weaken_aslr_are_refused) {
  const auto filters = compile(small_policy());
  CHECK_VERDICT(filters, SECCOMP_RET_ALLOW, SYS_personality, {PER_LINUX});
  CHECK_VERDICT(filters, SECCOMP_RET_ALLOW, SYS_personality, {PER_LINUX32});
  CHECK_VERDICT(filters, SECCOMP_RET_ALLOW, SYS_personality, {UNAME26});
  for (std::uint64_t flag : {ADDR_NO_RANDOMIZE, ADDR_COMPAT_LAYOUT, READ_IMPLIES_EXEC, MMAP_PAGE_ZERO,
                             ADDR_LIMIT_32BIT, ADDR_LIMIT_3GB}) {
    CHECK_VERDICT(filters, errno_verdict(EPERM), SYS_personality, {flag});
    CHECK_VERDICT(filters, errno_verdict(EPERM), SYS_personality, {flag | PER_LINUX32 | 0xff00000000ULL});
  }
  // The query has every bit set; see seccomp_groups.cpp for why it is refused.
  CHECK_VERDICT(filters, errno_verdict(EPERM), SYS_personality, {0xffffffffULL});
}

BOOST_AUTO_TEST_CASE(socket_families_other_than_unix_ip_and_netlink_are_refused) {
  auto spec = small_policy();
  spec.allow.push_back("socket");  // allowed, so only the family rules answer
  spec.deny = {};
  const auto filters = compile(spec);
  for (std::uint64_t family : {AF_UNIX, AF_INET, AF_INET6, AF_NETLINK}) {
    CHECK_VERDICT(filters, SECCOMP_RET_ALLOW, SYS_socket, {family, SOCK_STREAM, 0});
    // The kernel reads an int: upper bits do not change the family, so a
    // permitted one with junk above it is refused on all 64 bits (fail closed).
    CHECK_VERDICT(filters, errno_verdict(EAFNOSUPPORT), SYS_socket, {0x100000000ULL | family, SOCK_STREAM, 0});
  }
  // Every family this build knows, and a few beyond: exactly the four pass.
  for (std::uint64_t family = 0; family < AF_MAX + 4; ++family) {
    const bool permitted = family == AF_UNIX || family == AF_INET || family == AF_INET6 || family == AF_NETLINK;
    CHECK_VERDICT(filters, permitted ? SECCOMP_RET_ALLOW : errno_verdict(EAFNOSUPPORT), SYS_socket,
                  {family, SOCK_DGRAM, 0});
  }
  // A refused family hidden under upper bits, families this build does not
  // know, and negative numbers.
  CHECK_VERDICT(filters, errno_verdict(EAFNOSUPPORT), SYS_socket, {0xffffffff00000000ULL | AF_VSOCK, SOCK_STREAM, 0});
  CHECK_VERDICT(filters, errno_verdict(EAFNOSUPPORT), SYS_socket, {AF_MAX, SOCK_STREAM, 0});
  CHECK_VERDICT(filters, errno_verdict(EAFNOSUPPORT), SYS_socket, {255, SOCK_STREAM, 0});
  CHECK_VERDICT(filters, errno_verdict(EAFNOSUPPORT), SYS_socket, {0xffffffffffffffffULL, SOCK_STREAM, 0});
  // Other syscalls on families are the kernel's: socketpair only makes unix pairs.
  CHECK_VERDICT(filters, SECCOMP_RET_ALLOW, SYS_read, {AF_VSOCK});

  spec.deny_action = {SeccompAction::Kind::kill_process, 0};
  CHECK_VERDICT(compile(spec), SECCOMP_RET_KILL_PROCESS, SYS_socket, {AF_VSOCK, SOCK_STREAM, 0});
  spec.deny_action = {SeccompAction::Kind::error, EPERM};
  spec.allow_dangerous = {"socket_families"};
  const auto opted = compile(spec);
  CHECK_VERDICT(opted, SECCOMP_RET_ALLOW, SYS_socket, {AF_VSOCK, SOCK_STREAM, 0});
  CHECK_VERDICT(opted, SECCOMP_RET_ALLOW, SYS_socket, {AF_MAX, SOCK_STREAM, 0});
}

BOOST_AUTO_TEST_CASE(setuid_and_setgid_modes_are_refused_wherever_a_mode_is_given) {
  constexpr int kFchmodat2 = 452;  // newer than this libc's headers
  const std::uint64_t at_fdcwd = static_cast<std::uint64_t>(AT_FDCWD);
  SeccompSpec spec;  // the shipped default: @system-service
  const auto filters = compile(spec);
  for (std::uint64_t bit : {std::uint64_t{S_ISUID}, std::uint64_t{S_ISGID}}) {
    for (std::uint64_t mode : {bit | 0755, bit | 0700, std::uint64_t{0xffff0000} | bit | 0644}) {
      CHECK_VERDICT(filters, errno_verdict(EPERM), SYS_chmod, {0, mode});
      CHECK_VERDICT(filters, errno_verdict(EPERM), SYS_fchmod, {3, mode});
      CHECK_VERDICT(filters, errno_verdict(EPERM), SYS_fchmodat, {at_fdcwd, 0, mode});
      CHECK_VERDICT(filters, errno_verdict(EPERM), kFchmodat2, {at_fdcwd, 0, mode, 0});
      CHECK_VERDICT(filters, errno_verdict(EPERM), SYS_creat, {0, mode});
      CHECK_VERDICT(filters, errno_verdict(EPERM), SYS_mknodat, {at_fdcwd, 0, S_IFREG | mode, 0});
      CHECK_VERDICT(filters, errno_verdict(EPERM), SYS_open, {0, O_WRONLY | O_CREAT | O_TRUNC, mode});
      CHECK_VERDICT(filters, errno_verdict(EPERM), SYS_openat, {at_fdcwd, 0, O_WRONLY | O_CREAT | O_EXCL, mode});
      CHECK_VERDICT(filters, errno_verdict(EPERM), SYS_openat, {at_fdcwd, 0, O_RDWR | O_TMPFILE, mode});
      // Without O_CREAT or O_TMPFILE the kernel ignores the mode.
      CHECK_VERDICT(filters, SECCOMP_RET_ALLOW, SYS_openat, {at_fdcwd, 0, O_RDONLY, mode});
      CHECK_VERDICT(filters, SECCOMP_RET_ALLOW, SYS_open, {0, O_RDWR | O_APPEND, mode});
    }
  }
  // Ordinary modes, the sticky bit, and mkdir (which drops both bits itself).
  for (std::uint64_t mode : {0755U, 0644U, 01777U, 0600U}) {
    CHECK_VERDICT(filters, SECCOMP_RET_ALLOW, SYS_chmod, {0, mode});
    CHECK_VERDICT(filters, SECCOMP_RET_ALLOW, SYS_fchmodat, {at_fdcwd, 0, mode});
    CHECK_VERDICT(filters, SECCOMP_RET_ALLOW, SYS_openat, {at_fdcwd, 0, O_WRONLY | O_CREAT, mode});
  }
  CHECK_VERDICT(filters, SECCOMP_RET_ALLOW, SYS_mkdir, {0, S_ISGID | 0755});
  CHECK_VERDICT(filters, errno_verdict(ENOSYS), SYS_openat2);  // its mode cannot be read: libc falls back

  spec.allow_dangerous = {"setuid_files"};
  const auto opted = compile(spec);
  CHECK_VERDICT(opted, SECCOMP_RET_ALLOW, SYS_chmod, {0, S_ISUID | 0755});
  CHECK_VERDICT(opted, SECCOMP_RET_ALLOW, SYS_openat2);
}

BOOST_AUTO_TEST_CASE(foreign_abis_are_killed) {
  const auto filters = compile(small_policy());
  // int 0x80: the i386 table, AUDIT_ARCH_I386.
  CHECK_VERDICT(filters, SECCOMP_RET_KILL_PROCESS, kI386Getpid, {}, AUDIT_ARCH_I386);
  CHECK_VERDICT(filters, SECCOMP_RET_KILL_PROCESS, kI386Ioctl, {0, TIOCSTI}, AUDIT_ARCH_I386);
  // x32: the x86_64 architecture with bit 30 set in the number.
  CHECK_VERDICT(filters, SECCOMP_RET_KILL_PROCESS, static_cast<int>(kX32Bit | SYS_getpid));
  CHECK_VERDICT(filters, SECCOMP_RET_KILL_PROCESS, static_cast<int>(kX32Bit | SYS_ioctl), {0, TIOCSTI});
  CHECK_VERDICT(filters, SECCOMP_RET_KILL_PROCESS, SYS_getpid, {}, AUDIT_ARCH_AARCH64);
}

BOOST_AUTO_TEST_CASE(opting_in_to_foreign_abis_applies_the_same_rules_there) {
  auto spec = small_policy();
  spec.allow_dangerous = {"foreign_abi"};
  const auto filters = compile(spec);
  CHECK_VERDICT(filters, SECCOMP_RET_ALLOW, kI386Getpid, {}, AUDIT_ARCH_I386);
  CHECK_VERDICT(filters, errno_verdict(EPERM), kI386Ioctl, {0, TIOCSTI}, AUDIT_ARCH_I386);
  CHECK_VERDICT(filters, SECCOMP_RET_ALLOW, static_cast<int>(kX32Bit | SYS_getpid));
  CHECK_VERDICT(filters, SECCOMP_RET_KILL_PROCESS, SYS_getpid, {}, AUDIT_ARCH_AARCH64);
}

BOOST_AUTO_TEST_CASE(kill_process_as_the_deny_action) {
  auto spec = small_policy();
  spec.deny_action = {SeccompAction::Kind::kill_process, 0};
  const auto filters = compile(spec);
  CHECK_VERDICT(filters, SECCOMP_RET_KILL_PROCESS, SYS_ptrace);
  CHECK_VERDICT(filters, SECCOMP_RET_KILL_PROCESS, SYS_socket);
  CHECK_VERDICT(filters, SECCOMP_RET_KILL_PROCESS, SYS_ioctl, {0, TIOCSTI});
  CHECK_VERDICT(filters, SECCOMP_RET_KILL_PROCESS, SYS_clone, {CLONE_NEWUSER});
  CHECK_VERDICT(filters, errno_verdict(ENOSYS), SYS_clone3);  // ENOSYS whatever the deny action
  CHECK_VERDICT(filters, errno_verdict(ENOSYS), SYS_openat);
  CHECK_VERDICT(filters, SECCOMP_RET_ALLOW, SYS_read);
}

BOOST_AUTO_TEST_CASE(log_as_the_default_action_still_blocks_what_is_always_blocked) {
  auto spec = small_policy();
  spec.default_action = {SeccompAction::Kind::log, 0};
  const auto filters = compile(spec);
  CHECK_VERDICT(filters, SECCOMP_RET_LOG, SYS_openat);
  CHECK_VERDICT(filters, SECCOMP_RET_ALLOW, SYS_read);
  CHECK_VERDICT(filters, errno_verdict(EPERM), SYS_ptrace);
  CHECK_VERDICT(filters, errno_verdict(EPERM), SYS_ioctl, {0, TIOCSTI});
  CHECK_VERDICT(filters, errno_verdict(EPERM), SYS_socket);
}

BOOST_AUTO_TEST_CASE(count_denials_turns_errno_denials_of_the_syscalls_filter_into_notifications) {
  auto spec = small_policy();
  spec.count_denials = true;
  const auto filters = compile(spec);
  BOOST_TEST(filters.listener);
  CHECK_VERDICT(filters, SECCOMP_RET_ALLOW, SYS_read);
  CHECK_VERDICT(filters, SECCOMP_RET_USER_NOTIF, SYS_openat);  // default ENOSYS
  CHECK_VERDICT(filters, SECCOMP_RET_USER_NOTIF, SYS_socket, {AF_UNIX});  // denied EPERM
  CHECK_VERDICT(filters, SECCOMP_RET_USER_NOTIF, SYS_clone3);
  // The arguments filter keeps its errno (one listener per filter chain).
  CHECK_VERDICT(filters, errno_verdict(EPERM), SYS_ioctl, {0, TIOCSTI});
  CHECK_VERDICT(filters, SECCOMP_RET_KILL_PROCESS, kI386Getpid, {}, AUDIT_ARCH_I386);
  auto kill = spec;
  kill.deny_action = {SeccompAction::Kind::kill_process, 0};
  CHECK_VERDICT(compile(kill), SECCOMP_RET_KILL_PROCESS, SYS_socket);  // kills stay kills
}

BOOST_AUTO_TEST_CASE(the_shipped_default_runs_ordinary_programs_and_blocks_the_list) {
  const auto filters = compile(SeccompSpec{});
  for (int nr : {SYS_read, SYS_openat, SYS_mmap, SYS_execve, SYS_wait4, SYS_connect, SYS_pipe2, SYS_rt_sigaction,
                 SYS_futex, SYS_getdents64, SYS_statx, SYS_setpgid, SYS_prctl, SYS_seccomp})
    CHECK_VERDICT(filters, SECCOMP_RET_ALLOW, nr);
  CHECK_VERDICT(filters, SECCOMP_RET_ALLOW, SYS_socket, {AF_INET6, SOCK_DGRAM, 0});
  CHECK_VERDICT(filters, errno_verdict(EAFNOSUPPORT), SYS_socket, {AF_VSOCK, SOCK_STREAM, 0});
  for (int nr : {SYS_ptrace, SYS_mount, SYS_umount2, SYS_pivot_root, SYS_kexec_load, SYS_init_module, SYS_bpf,
                 SYS_perf_event_open, SYS_keyctl, SYS_add_key, SYS_process_vm_readv, SYS_userfaultfd,
                 SYS_io_uring_setup, SYS_open_tree, SYS_move_mount, SYS_fsopen, SYS_fsmount})
    CHECK_VERDICT(filters, errno_verdict(EPERM), nr);
  // Privileged syscalls are denied by name: "not permitted".
  for (int nr : {SYS_reboot, SYS_settimeofday, SYS_sethostname, SYS_chroot, SYS_swapon, SYS_iopl, SYS_modify_ldt})
    CHECK_VERDICT(filters, errno_verdict(EPERM), nr);
  CHECK_VERDICT(filters, errno_verdict(ENOSYS), SYS_fanotify_mark);  // listed nowhere: the default
  CHECK_VERDICT(filters, errno_verdict(ENOSYS), 470);                 // newer than libseccomp
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(seccomp_cache)

namespace {

bool same_program(const stages::BpfProgram& a, const stages::BpfProgram& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(struct sock_filter)) == 0;
}

std::filesystem::path only_entry(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> entries;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) entries.push_back(entry.path());
  BOOST_REQUIRE_EQUAL(entries.size(), 1u);
  return entries.front();
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_second_load_comes_from_the_cache_and_is_identical) {
  TempDir dir;
  const auto cache = dir.path() / "cache" / "seccomp";
  const auto plan = small_policy();
  auto first = stages::load_or_compile_seccomp(plan, cache);
  BOOST_TEST(!first.from_cache);
  auto second = stages::load_or_compile_seccomp(plan, cache);
  BOOST_TEST(second.from_cache, second.cache_note);
  BOOST_TEST(same_program(first.filters.syscalls, second.filters.syscalls));
  BOOST_TEST(same_program(first.filters.arguments, second.filters.arguments));
  const auto entry = only_entry(cache);
  BOOST_TEST(entry.filename().string() == stages::seccomp_cache_key(plan) + ".bpf");
  struct stat st {};
  BOOST_REQUIRE(::stat(entry.c_str(), &st) == 0);
  BOOST_TEST((st.st_mode & 07777) == 0600u);
  BOOST_REQUIRE(::stat(cache.c_str(), &st) == 0);
  BOOST_TEST((st.st_mode & 07777) == 0700u);
}

BOOST_AUTO_TEST_CASE(a_tampered_entry_is_never_used) {
  TempDir dir;
  const auto cache = dir.path() / "seccomp";
  const auto plan = small_policy();
  const auto compiled = stages::load_or_compile_seccomp(plan, cache).filters;
  const auto entry = only_entry(cache);
  // Flip a bit of the last instruction (a return value): the digest no longer matches.
  {
    std::fstream file(entry, std::ios::in | std::ios::out | std::ios::binary);
    file.seekg(-1, std::ios::end);
    char byte = 0;
    file.read(&byte, 1);
    byte ^= 0x01;
    file.seekp(-1, std::ios::end);
    file.write(&byte, 1);
  }
  auto reloaded = stages::load_or_compile_seccomp(plan, cache);
  BOOST_TEST(!reloaded.from_cache);
  BOOST_TEST(reloaded.cache_note.find("digest") != std::string::npos, reloaded.cache_note);
  BOOST_TEST(same_program(reloaded.filters.syscalls, compiled.syscalls));
  // It was rewritten: the next load is from the cache again.
  BOOST_TEST(stages::load_or_compile_seccomp(plan, cache).from_cache);
  // A group- or world-writable entry is not trusted.
  BOOST_REQUIRE(::chmod(entry.c_str(), 0666) == 0);
  auto loose = stages::load_or_compile_seccomp(plan, cache);
  BOOST_TEST(!loose.from_cache);
  // A cache directory others can write is not used at all.
  BOOST_REQUIRE(::chmod(entry.c_str(), 0600) == 0);
  BOOST_REQUIRE(stages::load_or_compile_seccomp(plan, cache).from_cache);
  BOOST_REQUIRE(::chmod(cache.c_str(), 0777) == 0);
  auto shared = stages::load_or_compile_seccomp(plan, cache);
  BOOST_TEST(!shared.from_cache);
  BOOST_TEST(shared.cache_note.find("not used") != std::string::npos, shared.cache_note);
  BOOST_TEST(same_program(shared.filters.syscalls, compiled.syscalls));
}

BOOST_AUTO_TEST_CASE(the_key_names_the_tierbox_build_or_else_the_derived_rules) {
  BOOST_REQUIRE_MESSAGE(!stages::executable_build_id().empty(), "the test binary has no ELF build ID");
  BOOST_TEST(stages::executable_build_id().size() >= 32u);
  const auto spec = small_policy();
  BOOST_TEST(stages::seccomp_cache_key(spec) == stages::seccomp_cache_key(spec, stages::executable_build_id()));
  BOOST_TEST(stages::seccomp_cache_key(spec, "aaaa") != stages::seccomp_cache_key(spec, "bbbb"));
  // Without a build ID the derived rules are the key: sections that give
  // the same rules share it (the opt-in of an item the allow list names anyway).
  auto same_rules = spec;
  same_rules.allow.push_back("@signal");
  BOOST_TEST(stages::seccomp_cache_key(spec, "") == stages::seccomp_cache_key(same_rules, ""));
  BOOST_TEST(stages::seccomp_cache_key(spec, "") != stages::seccomp_cache_key(spec, "aaaa"));
}

BOOST_AUTO_TEST_CASE(an_entry_for_another_plan_is_not_confused_with_this_one) {
  TempDir dir;
  const auto cache = dir.path() / "seccomp";
  auto other = small_policy();
  other.deny.clear();
  const auto plan = small_policy();
  stages::load_or_compile_seccomp(other, cache);
  // Put the other plan's entry under this plan's name: its header's key differs.
  std::filesystem::rename(only_entry(cache), cache / (stages::seccomp_cache_key(plan) + ".bpf"));
  auto loaded = stages::load_or_compile_seccomp(plan, cache);
  BOOST_TEST(!loaded.from_cache);
  BOOST_TEST(loaded.cache_note.find("header") != std::string::npos, loaded.cache_note);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(seccomp_profile)

BOOST_AUTO_TEST_CASE(shipped_tiers_allow_the_system_service_set_and_opt_in_to_nothing) {
  for (const char* tier : {"untrusted", "readonly", "workspace-write"}) {
    const auto profile = load_tier(tier, {kShipped});
    // base.json's list is the built-in default's; untrusted adds inotify
    // with `deny+`.
    auto expected = SeccompSpec{}.deny;
    if (std::string(tier) == "untrusted") expected.insert(expected.end(), {"inotify_add_watch", "inotify_init", "inotify_init1"});
    BOOST_TEST((profile.seccomp.deny == expected), tier << ": base.json, the built-in default and the tier differ");
    BOOST_TEST(profile.seccomp.allow_dangerous.empty(), tier);
    BOOST_TEST((profile.seccomp.allow == std::vector<std::string>{"@system-service"}), tier);
    BOOST_TEST(to_string(profile.seccomp.deny_action) == "errno:EPERM", tier);
    BOOST_TEST(to_string(profile.seccomp.default_action) == "errno:ENOSYS", tier);
  }
}

BOOST_AUTO_TEST_CASE(a_tier_overrides_single_keys_of_its_base) {
  TempDir dir;
  auto profile = load_text(dir, R"({"extends": "base", "seccomp": {"deny_action": "kill_process", "deny": ["@ipc"]}})");
  BOOST_TEST(to_string(profile.seccomp.deny_action) == "kill_process");
  BOOST_TEST((profile.seccomp.deny == std::vector<std::string>{"@ipc"}));
  BOOST_TEST((profile.seccomp.allow == std::vector<std::string>{"@system-service"}));  // the base's
}

BOOST_AUTO_TEST_CASE(deny_plus_adds_to_the_list_in_effect) {
  TempDir dir;
  // Onto the base's list, once each (@swap is in it already).
  auto added = load_text(dir, R"({"extends": "base", "seccomp": {"deny+": ["@ipc", "@swap"]}})");
  auto expected = SeccompSpec{}.deny;
  expected.push_back("@ipc");
  BOOST_TEST((added.seccomp.deny == expected));
  // After this file's own `deny`, which replaces the base's first.
  auto both = load_text(dir, R"({"extends": "base", "seccomp": {"deny": ["@swap"], "deny+": ["@ipc"]}})");
  BOOST_TEST((both.seccomp.deny == std::vector<std::string>{"@swap", "@ipc"}));
  // Through a chain: each file adds to what the one before left.
  dir.write("tiers/middle.json", R"({"extends": "base", "seccomp": {"deny+": ["@ipc"]}})");
  auto chained = load_text(dir, R"({"extends": "middle", "seccomp": {"deny+": ["inotify_init1"]}})");
  BOOST_TEST(chained.seccomp.deny.back() == "inotify_init1");
  BOOST_TEST(chained.seccomp.deny[chained.seccomp.deny.size() - 2] == "@ipc");
  // The same checks as `deny`, naming `deny+`.
  expect_error(R"({"seccomp": {"deny+": ["@filesystem"]}})", {"/seccomp/deny+/0", "unknown syscall group"});
  expect_error(R"({"seccomp": {"deny+": ["read", "wait4"]}})", {"/seccomp/deny+/1", "wait4", "init"});
  expect_error(R"({"seccomp": {"deny+": "@ipc"}})", {"/seccomp/deny+"});
}

BOOST_AUTO_TEST_CASE(unknown_names_groups_items_and_actions_name_the_json_path) {
  expect_error(R"({"seccomp": {"allow": ["read", "raed"]}})", {"t.json: /seccomp/allow/1", "unknown syscall \"raed\""});
  expect_error(R"({"seccomp": {"deny": ["@filesystem"]}})", {"/seccomp/deny/0", "unknown syscall group", "@file-system"});
  expect_error(R"({"seccomp": {"allow_dangerous": ["everything"]}})", {"/seccomp/allow_dangerous/0", "ptrace"});
  expect_error(R"({"seccomp": {"default_action": "allow"}})", {"/seccomp/default_action", "errno:ENOSYS"});
  expect_error(R"({"seccomp": {"deny_action": "log"}})", {"/seccomp/deny_action"});
  expect_error(R"({"seccomp": {"log_denial": true}})", {"/seccomp/log_denial", "unknown key"});
  expect_error(R"({"seccomp": {"allow": "@default"}})", {"/seccomp/allow"});
  expect_error(R"({"seccomp": {"count_denials": true, "allow_dangerous": ["foreign_abi"]}})",
               {"/seccomp/count_denials", "foreign_abi"});
}

BOOST_AUTO_TEST_CASE(always_blocked_syscalls_need_the_explicit_opt_in) {
  expect_error(R"({"seccomp": {"allow": ["@default", "ptrace"]}})",
               {"/seccomp/allow/1", "always blocked", "\"allow_dangerous\": [\"ptrace\"]"});
  expect_error(R"({"seccomp": {"allow": ["clone3"]}})", {"/seccomp/allow/0", "new_user_namespace"});
  expect_error(R"({"seccomp": {"allow": ["io_uring_setup"]}})", {"/seccomp/allow/0", "\"io_uring\""});
  TempDir dir;
  auto profile = load_text(dir, R"({"extends": "base", "seccomp": {"allow": ["@default", "ptrace"], "allow_dangerous": ["ptrace"]}})");
  BOOST_TEST((profile.seccomp.allow_dangerous == std::vector<std::string>{"ptrace"}));
}

BOOST_AUTO_TEST_CASE(denying_what_tierbox_init_needs_is_an_error) {
  expect_error(R"({"seccomp": {"deny": ["wait4"]}})", {"/seccomp/deny/0", "wait4", "init"});
  expect_error(R"({"seccomp": {"deny": ["@signal"]}})", {"/seccomp/deny/0", "rt_sigaction"});
}

BOOST_AUTO_TEST_SUITE_END()
