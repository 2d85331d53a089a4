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
      {"governance", compare_governance, explain_governance},
      {"filesystem", compare_filesystem, explain_filesystem},
      {"data_access", compare_data_access, explain_data_access},
      {"process", compare_process, explain_process},
      {"network", compare_network, explain_network},
      {"limits", compare_limits, explain_limits},
      {"kernel", compare_kernel_surface, explain_kernel_surface},
      {"approvals", compare_approvals, explain_approvals},
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

bool is_final_field_name(const std::string& name) {
  auto names = final_field_names();
  return std::find(names.begin(), names.end(), name) != names.end();
}

bool final_covers(const std::string& final_name, const std::string& field) {
  return field == final_name || (field.size() > final_name.size() && field.compare(0, final_name.size(), final_name) == 0 &&
                                 field[final_name.size()] == '.');
}

}  // namespace tierbox::policy
