// Review entries of governance: owner and review dates, `final`, and the
// controls other components will add (approvals, syscall filtering).
#include "policy/review/review.h"

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

// Controls other issues are building; each replaces its line with its own
// section when it lands, so explain never claims a control that is not there.
void explain_pending_controls(const Profile&, const ExplainContext&, Explanation& out) {
  out.push_back({"Approvals", {"not configured (the approval matrix is not built yet; see docs/governance.md once available)"}});
}

void compare_pending_controls(const Profile&, const Profile&, Changes&) {}

}  // namespace tierbox::policy
