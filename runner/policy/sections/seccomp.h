// The `seccomp` section of a tier: which system calls a task may make.
// docs/seccomp.md describes the groups, the always-blocked list and how
// denials are seen; policy/seccomp_rules turns this into filter rules.
#pragma once

#include <cerrno>
#include <string>
#include <vector>

namespace tierbox::policy {

class JsonObjectReader;

struct SeccompAction {
  enum class Kind { allow, error, kill_process, log };
  Kind kind = Kind::error;
  int error_number = 0;  // Kind::error: the errno the syscall returns

  friend bool operator==(const SeccompAction&, const SeccompAction&) = default;
};

struct SeccompSpec {
  // What a syscall the allow list does not name gets: errno ENOSYS (libc
  // and runtimes treat it as "this kernel lacks it" and fall back), EPERM,
  // kill_process, or log (allowed, and logged by the kernel: for writing a
  // tier, never for running untrusted code).
  SeccompAction default_action{SeccompAction::Kind::error, ENOSYS};
  // What the deny list and the always-blocked items get: EPERM, ENOSYS or
  // kill_process.
  SeccompAction deny_action{SeccompAction::Kind::error, EPERM};
  std::vector<std::string> allow{"@system-service"};  // syscall names and "@groups"
  // Subtracted from allow, and answered with deny_action. By default what
  // needs privileges a task never has: it then reads "not permitted" (EPERM)
  // rather than "not implemented" (ENOSYS, for syscalls nobody listed).
  std::vector<std::string> deny{"@clock", "@cpu-emulation", "@module", "@mount", "@obsolete", "@raw-io", "@reboot",
                                "@swap", "acct", "fanotify_init", "nfsservctl", "open_by_handle_at", "quotactl",
                                "quotactl_fd", "setdomainname", "sethostname", "vhangup"};
  std::vector<std::string> allow_dangerous;           // always-blocked item ids the tier opts in to
  bool log_denials = false;  // SECCOMP_FILTER_FLAG_LOG: the kernel logs every denial
  // The syscalls filter hands errno denials to tierbox (SECCOMP_RET_USER_NOTIF),
  // which answers with the same errno and counts them per syscall for the run.
  bool count_denials = false;
};

// Applies one file's `seccomp` object over spec: each key present replaces
// the base's value. Unknown syscalls, groups and items are errors naming the
// JSON path; so is naming an always-blocked syscall in `allow` (it belongs in
// allow_dangerous) or one tierbox's init needs in `deny`.
void apply_seccomp(JsonObjectReader reader, SeccompSpec& spec);

// "errno:EPERM", "kill_process", ...
std::string to_string(const SeccompAction& action);

}  // namespace tierbox::policy
