#include "stages/landlock.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

namespace tierbox::stages {
namespace {

// The kernel's structures (include/uapi/linux/landlock.h), declared here:
// Debian 12's header has only the ABI 1 ruleset attribute. A kernel with an
// older ABI accepts the longer struct as long as the fields it does not know
// are zero.
struct RulesetAttr {
  std::uint64_t handled_access_fs;
  std::uint64_t handled_access_net;  // ABI 4
  std::uint64_t scoped;              // ABI 6
};

struct PathBeneathAttr {
  std::uint64_t allowed_access;
  std::int32_t parent_fd;
} __attribute__((packed));

struct NetPortAttr {
  std::uint64_t allowed_access;
  std::uint64_t port;
};

constexpr int kRulePathBeneath = 1;
constexpr int kRuleNetPort = 2;

#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#define SYS_landlock_add_rule 445
#define SYS_landlock_restrict_self 446
#endif

bool add_path_rule(int ruleset, const policy::LandlockPathRule& rule, ChildFailure& failure) noexcept {
  const int fd = ::open(rule.path.c_str(), O_PATH | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT && rule.optional) return true;
    return failure.fail_errno("open(O_PATH) for a Landlock rule", rule.path.c_str());
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    failure.fail_errno("fstat", rule.path.c_str());
    ::close(fd);
    return false;
  }
  // A rule on a file may only hold file rights.
  const std::uint64_t access =
      S_ISDIR(st.st_mode) ? rule.access : rule.access & policy::landlock::kFileRights;
  PathBeneathAttr attr{access, fd};
  const long added = access == 0 ? 0 : ::syscall(SYS_landlock_add_rule, ruleset, kRulePathBeneath, &attr, 0);
  const int err = errno;
  ::close(fd);
  if (added == 0) return true;
  failure.record(err).add("landlock_add_rule(LANDLOCK_RULE_PATH_BENEATH, ").add_quoted(rule.path.c_str()).add(", access ")
      .add_number(static_cast<std::int64_t>(access)).add(")");
  return false;
}

bool add_port_rule(int ruleset, const policy::LandlockPortRule& rule, ChildFailure& failure) noexcept {
  NetPortAttr attr{rule.access, rule.port};
  if (::syscall(SYS_landlock_add_rule, ruleset, kRuleNetPort, &attr, 0) == 0) return true;
  failure.record(errno).add("landlock_add_rule(LANDLOCK_RULE_NET_PORT, port ").add_number(rule.port).add(")");
  return false;
}

bool add_rules(int ruleset, const policy::LandlockPlan& plan, ChildFailure& failure) noexcept {
  for (const auto& rule : plan.paths)
    if (!add_path_rule(ruleset, rule, failure)) return false;
  for (const auto& rule : plan.ports)
    if (!add_port_rule(ruleset, rule, failure)) return false;
  return true;
}

}  // namespace

bool apply_landlock(const policy::LandlockPlan& plan, ChildFailure& failure) noexcept {
  if (plan.abi == 0) return true;
  RulesetAttr attr{plan.handled_fs, plan.handled_net, plan.scoped};
  const int ruleset = static_cast<int>(::syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0));
  if (ruleset < 0) {
    failure.record(errno).add("landlock_create_ruleset(handled_access_fs ").add_number(static_cast<std::int64_t>(plan.handled_fs))
        .add(", handled_access_net ").add_number(static_cast<std::int64_t>(plan.handled_net))
        .add(", scoped ").add_number(static_cast<std::int64_t>(plan.scoped)).add(")");
    return false;
  }
  bool ok = add_rules(ruleset, plan, failure);
  if (ok && ::syscall(SYS_landlock_restrict_self, ruleset, 0) != 0) ok = failure.fail_errno("landlock_restrict_self");
  ::close(ruleset);
  return ok;
}

}  // namespace tierbox::stages
