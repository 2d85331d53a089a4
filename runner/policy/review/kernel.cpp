// Review entries of the kernel attack surface: `seccomp` and `landlock`.
#include <algorithm>
#include <set>

#include "policy/review/review.h"
#include "policy/seccomp_groups.h"
#include "policy/seccomp_rules.h"

namespace tierbox::policy {
namespace {

// The syscalls the tier's filter lets through unconditionally.
std::set<std::string> allowed_syscalls(const SeccompSpec& spec) {
  std::set<std::string> names;
  for (const auto& rule : make_seccomp_plan(spec).syscalls.rules)
    if (rule.action.kind == SeccompAction::Kind::allow && !rule.match) names.insert(rule.syscall);
  return names;
}

// How much a default action lets through: kill < errno < log (log allows).
int openness(const SeccompAction& action) {
  switch (action.kind) {
    case SeccompAction::Kind::kill_process: return 0;
    case SeccompAction::Kind::error: return 1;
    case SeccompAction::Kind::log:
    case SeccompAction::Kind::allow: return 2;
  }
  return 1;
}

std::string joined(const std::vector<std::string>& names, std::size_t limit = 12) {
  std::string text;
  for (std::size_t i = 0; i < names.size() && i < limit; ++i) text += (i ? ", " : "") + names[i];
  if (names.size() > limit) text += ", ... (" + std::to_string(names.size()) + " in all)";
  return text;
}

void compare_syscall_sets(const SeccompSpec& before, const SeccompSpec& after, Changes& out) {
  // The same lists give the same rules: no need to derive them.
  if (before.allow == after.allow && before.deny == after.deny && before.allow_dangerous == after.allow_dangerous) return;
  const auto old_set = allowed_syscalls(before);
  const auto new_set = allowed_syscalls(after);
  std::vector<std::string> added, removed;
  std::set_difference(new_set.begin(), new_set.end(), old_set.begin(), old_set.end(), std::back_inserter(added));
  std::set_difference(old_set.begin(), old_set.end(), new_set.begin(), new_set.end(), std::back_inserter(removed));
  if (!added.empty()) add_change(out, "seccomp.allow", Effect::widens, "syscalls allowed: " + joined(added));
  if (!removed.empty()) add_change(out, "seccomp.allow", Effect::narrows, "syscalls no longer allowed: " + joined(removed));
}

std::string landlock_meaning(const LandlockSetting& setting) {
  switch (setting.mode) {
    case LandlockMode::off: return "not applied (the mount namespace alone confines file access).";
    case LandlockMode::best_effort:
      return "file access confined to the planned mounts as far as this kernel supports; what it cannot enforce is "
             "named in a warning, the result and the audit record.";
    case LandlockMode::required: break;
  }
  if (setting.minimum_abi >= kLandlockFullAbi)
    return "file access confined to exactly the planned mounts; a kernel that cannot enforce every restriction "
           "refuses the launch.";
  return "file access confined to the planned mounts; a kernel below Landlock ABI " +
         std::to_string(setting.minimum_abi) +
         " refuses the launch; above it, everything the kernel supports is applied and the rest named in a warning, "
         "the result and the audit record.";
}

}  // namespace

void compare_kernel_surface(const Profile& before, const Profile& after, Changes& out) {
  const auto& old_spec = before.seccomp;
  const auto& new_spec = after.seccomp;
  compare_syscall_sets(old_spec, new_spec, out);
  compare_ordered(out, "seccomp.default_action", openness(old_spec.default_action), openness(new_spec.default_action),
                  true, to_string(old_spec.default_action), to_string(new_spec.default_action));
  if (old_spec.deny_action != new_spec.deny_action)
    add_change(out, "seccomp.deny_action", Effect::changes,
               to_string(old_spec.deny_action) + " -> " + to_string(new_spec.deny_action));
  const std::set<std::string> old_opt_in(old_spec.allow_dangerous.begin(), old_spec.allow_dangerous.end());
  const std::set<std::string> new_opt_in(new_spec.allow_dangerous.begin(), new_spec.allow_dangerous.end());
  for (const auto& item : new_opt_in)
    if (!old_opt_in.count(item))
      add_change(out, "seccomp.allow_dangerous", Effect::widens, "opts in to the always-blocked '" + item + "'");
  for (const auto& item : old_opt_in)
    if (!new_opt_in.count(item))
      add_change(out, "seccomp.allow_dangerous", Effect::narrows, "no longer opts in to '" + item + "'");
  if (old_spec.log_denials != new_spec.log_denials)
    add_change(out, "seccomp.log_denials", Effect::changes, new_spec.log_denials ? "denials logged" : "denials not logged");
  if (old_spec.count_denials != new_spec.count_denials)
    add_change(out, "seccomp.count_denials", Effect::changes,
               new_spec.count_denials ? "denials counted" : "denials not counted");
  // off < best_effort < {"minimum_abi": 1} < ... < required: a lower floor
  // lets the tier run on kernels that enforce less.
  compare_ordered(out, "landlock", strictness(before.landlock), strictness(after.landlock), false,
                  to_string(before.landlock), to_string(after.landlock));
}

void explain_kernel_surface(const Profile& profile, const ExplainContext&, Explanation& out) {
  const auto& spec = profile.seccomp;
  ExplainSection section{"System calls", {}};
  section.lines.push_back("Allowed: " + joined(spec.allow) + " (" + std::to_string(allowed_syscalls(spec).size()) +
                          " syscalls); any other gets " + to_string(spec.default_action) + ".");
  if (!spec.deny.empty())
    section.lines.push_back("Denied with " + to_string(spec.deny_action) + ": " + joined(spec.deny, 20) + ".");
  // From the item table, so a new item shows up here without an edit.
  std::string blocked;
  for (const auto& item : always_blocked_items()) {
    if (std::find(spec.allow_dangerous.begin(), spec.allow_dangerous.end(), item.id) != spec.allow_dangerous.end())
      continue;
    blocked += (blocked.empty() ? "" : ", ") + std::string(item.id);
  }
  section.lines.push_back("Always blocked (every tier that does not opt in): " + blocked + " (docs/seccomp.md).");
  if (spec.allow_dangerous.empty()) section.lines.push_back("Opt-ins to always-blocked items: none.");
  for (const auto& item : spec.allow_dangerous) {
    const auto* opted = find_blocked_item(item);
    section.lines.push_back("WARNING: opts in to '" + item + "'" +
                            (opted ? ": " + std::string(opted->description) : std::string()));
  }
  if (spec.log_denials) section.lines.push_back("Denials are logged by the kernel (audit records).");
  if (spec.count_denials) section.lines.push_back("Denials are counted per syscall by tierbox.");
  out.push_back(std::move(section));
  out.push_back({"Landlock", {to_string(profile.landlock) + ": " + landlock_meaning(profile.landlock)}});
}

}  // namespace tierbox::policy
