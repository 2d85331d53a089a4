// What a reviewer reads: the security-relevant difference between two
// versions of a tier (`tierbox profile diff`), and a plain-language account of
// what a tier allows (`tierbox profile explain`). The same comparison decides
// whether a child tier only tightens the fields its base marks `final`.
//
// Each profile section contributes its own entries through one SectionReview
// (review/*.cpp), so a new section adds its fields in one place.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "policy/data_classes.h"
#include "policy/profile.h"
#include "policy/sections/metadata.h"
#include "policy/sections/registry.h"

namespace tierbox::policy {

struct ApprovalMatrix;

enum class Effect {
  widens,   // the new version allows more (CI gates on this)
  narrows,  // the new version allows less
  changes,  // different, neither wider nor narrower (e.g. the hostname)
};

const char* to_string(Effect effect);

struct Change {
  std::string field;  // "workspace.writable", "mounts", "limits.wall_time", ...
  Effect effect = Effect::changes;
  std::string text;   // "read-only -> writable"
};

using Changes = std::vector<Change>;

// What explain needs besides the profile.
struct ExplainContext {
  const DataClassifier* classifier = nullptr;  // classes of bound paths; nullptr: not shown
  std::optional<Date> today;                   // review status; nullopt: not shown
  const ApprovalMatrix* matrix = nullptr;      // the approval matrix; nullptr: none found
};

struct ExplainSection {
  std::string title;
  std::vector<std::string> lines;
};

using Explanation = std::vector<ExplainSection>;

struct SectionReview {
  const char* name;  // "limits"; profile sections name it (sections/registry.h), which gives its `final` fields
  void (*compare)(const Profile& before, const Profile& after, Changes& out);
  void (*explain)(const Profile& profile, const ExplainContext& context, Explanation& out);
};

// Every section, in the order explain prints them.
const std::vector<SectionReview>& section_reviews();

Changes compare_profiles(const Profile& before, const Profile& after);
Explanation explain_profile(const Profile& profile, const ExplainContext& context);

// Whether name can appear in `final` (a field, or a section for all its
// fields): the registry's final_field_names().
bool is_final_field_name(const std::string& name);
// Whether the `final` name covers the changed field ("limits" covers
// "limits.wall_time").
bool final_covers(const std::string& final_name, const std::string& field);

// Section functions (review/*.cpp).
void compare_filesystem(const Profile& before, const Profile& after, Changes& out);
void explain_filesystem(const Profile& profile, const ExplainContext& context, Explanation& out);
void compare_data_access(const Profile& before, const Profile& after, Changes& out);
void explain_data_access(const Profile& profile, const ExplainContext& context, Explanation& out);
void compare_process(const Profile& before, const Profile& after, Changes& out);
void explain_process(const Profile& profile, const ExplainContext& context, Explanation& out);
void compare_limits(const Profile& before, const Profile& after, Changes& out);
void explain_limits(const Profile& profile, const ExplainContext& context, Explanation& out);
void compare_network(const Profile& before, const Profile& after, Changes& out);
void explain_network(const Profile& profile, const ExplainContext& context, Explanation& out);
void compare_governance(const Profile& before, const Profile& after, Changes& out);
void explain_governance(const Profile& profile, const ExplainContext& context, Explanation& out);
void compare_kernel_surface(const Profile& before, const Profile& after, Changes& out);
void explain_kernel_surface(const Profile& profile, const ExplainContext& context, Explanation& out);
void compare_approvals(const Profile& before, const Profile& after, Changes& out);
void explain_approvals(const Profile& profile, const ExplainContext& context, Explanation& out);

// Helpers for section files.
void add_change(Changes& out, std::string field, Effect effect, std::string text);
// Ordered values: higher is wider when higher_widens.
template <typename T>
void compare_ordered(Changes& out, const std::string& field, const T& before, const T& after, bool higher_widens,
                     const std::string& before_text, const std::string& after_text) {
  if (before == after) return;
  const bool wider = higher_widens ? after > before : after < before;
  add_change(out, field, wider ? Effect::widens : Effect::narrows, before_text + " -> " + after_text);
}

}  // namespace tierbox::policy
