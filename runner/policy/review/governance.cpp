// Review entries of governance: owner and review dates, `final`, the
// approval rules that apply to the tier and what a caller may widen.
#include "policy/review/review.h"

#include "common/units.h"
#include "policy/approval_matrix.h"

namespace tierbox::policy {

void compare_governance(const Profile& before, const Profile& after, Changes& out) {
  if (before.metadata.owner != after.metadata.owner)
    add_change(out, "owner", Effect::changes, before.metadata.owner + " -> " + after.metadata.owner);
  const auto date = [](const std::optional<Date>& value) { return value ? value->str() : std::string("(unset)"); };
  if (before.metadata.review_by != after.metadata.review_by)
    add_change(out, "review_by", Effect::changes, date(before.metadata.review_by) + " -> " + date(after.metadata.review_by));
  if (before.metadata.reviewed_by != after.metadata.reviewed_by || before.metadata.reviewed_on != after.metadata.reviewed_on)
    add_change(out, "reviewed_by", Effect::changes,
               before.metadata.reviewed_by + " on " + date(before.metadata.reviewed_on) + " -> " +
                   after.metadata.reviewed_by + " on " + date(after.metadata.reviewed_on));
  for (const auto& [field, file] : before.final_fields)
    if (!after.final_fields.count(field)) add_change(out, "final", Effect::widens, field + " is no longer final");
  for (const auto& [field, file] : after.final_fields)
    if (!before.final_fields.count(field)) add_change(out, "final", Effect::narrows, field + " is now final");
}

void explain_governance(const Profile& profile, const ExplainContext& context, Explanation& out) {
  ExplainSection section{"Tier " + profile.name, {}};
  section.lines.push_back(profile.description.empty() ? "(no description)" : profile.description);
  std::string chain;
  for (const auto& file : profile.chain) chain += (chain.empty() ? "" : " <- ") + file.string();
  section.lines.push_back("Files: " + chain);
  const auto& metadata = profile.metadata;
  section.lines.push_back("Owner: " + metadata.owner);
  section.lines.push_back("Reviewed by " + metadata.reviewed_by + " on " +
                          (metadata.reviewed_on ? metadata.reviewed_on->str() : "?") + ", next review by " +
                          (metadata.review_by ? metadata.review_by->str() : "?") +
                          (metadata.source.empty() || metadata.source == profile.file.string() ? "" : " (from " + metadata.source + ")"));
  if (context.today) section.lines.push_back("Review status: " + describe(review_status(metadata, *context.today)));
  if (!profile.final_fields.empty()) {
    std::string finals;
    for (const auto& [field, file] : profile.final_fields) finals += (finals.empty() ? "" : ", ") + field;
    section.lines.push_back("Final (a tier extending this one may only tighten): " + finals);
  }
  section.lines.push_back("Profile sha256: " + profile.sha256);
  out.push_back(std::move(section));
}

namespace {

std::string ceiling(const std::optional<std::uint64_t>& value, bool size) {
  if (!value) return "not above the tier's";
  return size ? format_size(*value) : std::to_string(*value);
}

std::vector<std::string> widening_lines(const WideningSpec& spec) {
  std::vector<std::string> lines;
  lines.push_back(std::string("Extra binds (--bind/--bind-rw): ") + to_string(spec.binds));
  lines.push_back(std::string("Extra network destinations (--allow-net): ") + (spec.network ? "allowed" : "no"));
  lines.push_back("Raised limits up to: memory " + ceiling(spec.memory, true) + ", pids " + ceiling(spec.pids, false) +
                  ", cpu " + (spec.cpu_millicores ? std::to_string(*spec.cpu_millicores) + " millicores" : "not above the tier's") +
                  ", wall time " + (spec.wall_time ? format_duration(*spec.wall_time) : "not above the tier's"));
  return lines;
}

}  // namespace

// The tier's approval rules (profiles/approvals.json) and what a caller may
// ask for beyond the tier (its `widening`).
void explain_approvals(const Profile& profile, const ExplainContext& context, Explanation& out) {
  ExplainSection section{"Approvals", {}};
  if (!context.matrix) {
    section.lines.push_back("no approval matrix (approvals.json) found: every launch is refused (docs/governance.md)");
  } else if (!matrix_knows_tier(*context.matrix, profile.name)) {
    section.lines.push_back("tier '" + profile.name + "' is not in " + context.matrix->file.string() +
                            " (tiers): every launch is refused");
  } else {
    section.lines.push_back("Matrix: " + context.matrix->file.string() + " (the strictest matching rule applies)");
    for (const auto* rule : rules_for_tier(*context.matrix, profile.name))
      section.lines.push_back("rule '" + rule->id + "': " + describe_requirement(rule->require, rule->approvers) + ", " +
                              describe_conditions(*rule));
  }
  for (auto& line : widening_lines(profile.widening)) section.lines.push_back(std::move(line));
  out.push_back(std::move(section));
}

void compare_approvals(const Profile& before, const Profile& after, Changes& out) {
  const auto& a = before.widening;
  const auto& b = after.widening;
  if (a.binds != b.binds)
    add_change(out, "widening.binds", b.binds > a.binds ? Effect::widens : Effect::narrows,
               std::string(to_string(a.binds)) + " -> " + to_string(b.binds));
  if (a.network != b.network)
    add_change(out, "widening.network", b.network ? Effect::widens : Effect::narrows,
               std::string(a.network ? "true" : "false") + " -> " + (b.network ? "true" : "false"));
  const auto limit = [&](const char* field, auto old_value, auto new_value) {
    if (old_value == new_value) return;
    const bool wider = new_value && (!old_value || *new_value > *old_value);
    add_change(out, field, wider ? Effect::widens : Effect::narrows, "the most a caller may ask for changed");
  };
  limit("widening.limits.memory", a.memory, b.memory);
  limit("widening.limits.pids", a.pids, b.pids);
  limit("widening.limits.cpu", a.cpu_millicores, b.cpu_millicores);
  limit("widening.limits.wall_time", a.wall_time, b.wall_time);
}

}  // namespace tierbox::policy
