#include "policy/seccomp_rules.h"

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <set>
#include <tuple>
#include <unordered_map>

namespace tierbox::policy {
namespace {

using Kind = SeccompAction::Kind;

bool opted_in(const SeccompSpec& spec, std::string_view id) {
  return std::find(spec.allow_dangerous.begin(), spec.allow_dangerous.end(), id) != spec.allow_dangerous.end();
}

// Rules with the filter's default action are left out: they change nothing,
// and libseccomp refuses them.
void add_rule(SeccompFilterSpec& filter, std::string_view syscall, SeccompAction action,
              std::optional<ArgumentMatch> match = std::nullopt, std::optional<ArgumentMatch> and_match = std::nullopt) {
  if (!match && action == filter.default_action) return;
  filter.rules.push_back({std::string(syscall), action, match, match ? and_match : std::nullopt});
}

void sort_rules(SeccompFilterSpec& filter) {
  std::sort(filter.rules.begin(), filter.rules.end(), [](const SeccompRule& a, const SeccompRule& b) {
    const auto left = a.match.value_or(ArgumentMatch{});
    const auto right = b.match.value_or(ArgumentMatch{});
    const auto left_and = a.and_match.value_or(ArgumentMatch{});
    const auto right_and = b.and_match.value_or(ArgumentMatch{});
    return std::tie(a.syscall, left.arg, left.compare, left.mask, left.value, left_and.arg, left_and.mask,
                    left_and.value) < std::tie(b.syscall, right.arg, right.compare, right.mask, right.value,
                                               right_and.arg, right_and.mask, right_and.value);
  });
}

SeccompFilterSpec make_arguments_filter(const SeccompSpec& spec) {
  SeccompFilterSpec filter;
  filter.default_action = {Kind::allow, 0};
  filter.foreign_arches = opted_in(spec, "foreign_abi");
  for (const auto& item : always_blocked_items()) {
    if (opted_in(spec, item.id)) continue;
    auto action = spec.deny_action;
    if (item.refusal_errno != 0 && action.kind == Kind::error) action.error_number = item.refusal_errno;
    for (const auto& block : item.argument_blocks) add_rule(filter, block.syscall, action, block.match, block.and_match);
  }
  sort_rules(filter);
  return filter;
}

// How a syscall is treated in the syscalls filter; the highest applies.
enum class Treatment : std::uint8_t { allow, deny, enosys, blocked };

SeccompFilterSpec make_syscalls_filter(const SeccompSpec& spec) {
  SeccompFilterSpec filter;
  filter.default_action = spec.default_action;
  filter.foreign_arches = opted_in(spec, "foreign_abi");

  // Every named syscall with its treatment (the highest wins), then sorted
  // once: a launch makes this plan, so it is kept to hashing and one sort of
  // a few hundred names.
  std::unordered_map<std::string_view, Treatment> treatments;
  treatments.reserve(512);
  const auto treat = [&](std::string_view syscall, Treatment treatment) {
    auto [it, inserted] = treatments.emplace(syscall, treatment);
    if (!inserted && treatment > it->second) it->second = treatment;
  };
  for (const auto& name : spec.allow) for_each_syscall(name, [&](auto syscall) { treat(syscall, Treatment::allow); });
  for (auto syscall : runtime_syscalls()) treat(syscall, Treatment::allow);
  for (const auto& name : spec.deny) for_each_syscall(name, [&](auto syscall) { treat(syscall, Treatment::deny); });
  for (const auto& item : always_blocked_items()) {
    // Opting in allows the item's syscalls; otherwise they are blocked.
    const bool opt_in = opted_in(spec, item.id);
    for (auto syscall : item.syscalls) treat(syscall, opt_in ? Treatment::allow : Treatment::blocked);
    for (auto syscall : item.enosys_syscalls) treat(syscall, opt_in ? Treatment::allow : Treatment::enosys);
  }
  std::vector<std::pair<std::string_view, Treatment>> entries(treatments.begin(), treatments.end());
  std::sort(entries.begin(), entries.end());

  const SeccompAction allow{Kind::allow, 0};
  const SeccompAction no_such_syscall{Kind::error, ENOSYS};
  for (const auto& [syscall, treatment] : entries) {
    switch (treatment) {
      case Treatment::blocked:
      case Treatment::deny: add_rule(filter, syscall, spec.deny_action); break;
      case Treatment::enosys: add_rule(filter, syscall, no_such_syscall); break;
      case Treatment::allow: add_rule(filter, syscall, allow); break;
    }
  }
  return filter;  // in name order already
}

void describe_filter(const char* name, const SeccompFilterSpec& filter, std::string& out) {
  out += std::string("filter ") + name + " default " + to_string(filter.default_action) + " bad_arch " +
         to_string(filter.bad_arch_action) + (filter.foreign_arches ? " arches x86_64,x86,x32" : " arches x86_64") +
         (filter.notify_errors ? " notify_errors" : "") + "\n";
  out.reserve(out.size() + filter.rules.size() * 24);
  SeccompAction last_action{Kind::allow, 0};
  std::string action_text = to_string(last_action);
  for (const auto& rule : filter.rules) {
    if (!(rule.action == last_action)) {
      last_action = rule.action;
      action_text = to_string(last_action);
    }
    out.append("  ").append(rule.syscall).append(" ").append(action_text);
    const auto condition = [&out](const char* lead, const ArgumentMatch& match) {
      char text[96];
      if (match.compare == ArgumentMatch::Compare::at_least)
        std::snprintf(text, sizeof text, " %s arg%u >= 0x%" PRIx64, lead, match.arg, match.value);
      else
        std::snprintf(text, sizeof text, " %s (arg%u & 0x%" PRIx64 ") == 0x%" PRIx64, lead, match.arg, match.mask,
                      match.value);
      out += text;
    };
    if (rule.match) condition("if", *rule.match);
    if (rule.and_match) condition("and", *rule.and_match);
    out += "\n";
  }
}

}  // namespace

SeccompPlan make_seccomp_plan(const SeccompSpec& spec) {
  SeccompPlan plan;
  plan.arguments = make_arguments_filter(spec);
  plan.syscalls = make_syscalls_filter(spec);
  plan.syscalls.notify_errors = spec.count_denials;
  plan.log_denials = spec.log_denials;
  plan.opted_in = spec.allow_dangerous;
  return plan;
}

std::string describe(const SeccompSpec& spec) {
  const auto list = [](const char* key, std::vector<std::string> names) {
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    std::string line = key;
    for (const auto& name : names) line.append(" ").append(name);
    return line + "\n";
  };
  return "default_action " + to_string(spec.default_action) + "\ndeny_action " + to_string(spec.deny_action) + "\n" +
         list("allow", spec.allow) + list("deny", spec.deny) + list("allow_dangerous", spec.allow_dangerous) +
         "log_denials " + (spec.log_denials ? "1" : "0") + "\ncount_denials " + (spec.count_denials ? "1" : "0") + "\n";
}

std::string describe(const SeccompPlan& plan) {
  std::string out = std::string("log_denials ") + (plan.log_denials ? "1" : "0") + "\n";
  describe_filter("arguments", plan.arguments, out);
  describe_filter("syscalls", plan.syscalls, out);
  return out;
}

}  // namespace tierbox::policy
