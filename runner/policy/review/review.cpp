#include "policy/review/review.h"

#include <algorithm>

namespace tierbox::policy {

const char* to_string(Effect effect) {
  switch (effect) {
    case Effect::widens: return "widens";
    case Effect::narrows: return "narrows";
    case Effect::changes: return "changes";
  }
  return "?";
}

void add_change(Changes& out, std::string field, Effect effect, std::string text) {
  out.push_back({std::move(field), effect, std::move(text)});
}

const std::vector<SectionReview>& section_reviews() {
  // Sections added later (seccomp, approvals, network destinations, ...)
  // register here with their own compare and explain functions.
  static const std::vector<SectionReview> kSections = {
      {"governance", {}, compare_governance, explain_governance},
      {"filesystem",
       {"mounts", "workspace", "workspace.writable", "workspace.target", "shm_size"},
       compare_filesystem,
       explain_filesystem},
      {"data_access", {"max_data_class", "protected_paths"}, compare_data_access, explain_data_access},
      {"process",
       {"allowed_commands", "environment", "environment.set", "environment.pass", "environment.allow", "hostname", "user"},
       compare_process,
       explain_process},
      {"network", {"network", "network.mode"}, compare_network, explain_network},
      {"limits", {"limits", "limits.wall_time"}, compare_limits, explain_limits},
      {"kernel", {"seccomp", "landlock"}, compare_kernel_surface, explain_kernel_surface},
      {"approvals", {"widening"}, compare_approvals, explain_approvals},
  };
  return kSections;
}

Changes compare_profiles(const Profile& before, const Profile& after) {
  Changes changes;
  for (const auto& section : section_reviews()) section.compare(before, after, changes);
  return changes;
}

Explanation explain_profile(const Profile& profile, const ExplainContext& context) {
  Explanation explanation;
  for (const auto& section : section_reviews()) section.explain(profile, context, explanation);
  return explanation;
}

std::vector<std::string> final_field_names() {
  std::vector<std::string> names;
  for (const auto& section : section_reviews())
    for (const char* field : section.final_fields) names.emplace_back(field);
  std::sort(names.begin(), names.end());
  return names;
}

bool is_final_field_name(const std::string& name) {
  auto names = final_field_names();
  return std::find(names.begin(), names.end(), name) != names.end();
}

bool final_covers(const std::string& final_name, const std::string& field) {
  return field == final_name || (field.size() > final_name.size() && field.compare(0, final_name.size(), final_name) == 0 &&
                                 field[final_name.size()] == '.');
}

}  // namespace tierbox::policy
