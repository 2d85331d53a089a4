// Review entries of data access: max_data_class and protected_paths.
#include <map>
#include <nlohmann/json.hpp>

#include "policy/review/review.h"

namespace tierbox::policy {
namespace {

std::string class_text(const std::optional<DataClass>& data_class) {
  return data_class ? to_string(*data_class) : "(unset)";
}

std::map<std::string, const ProtectedPath*> by_pattern(const std::vector<ProtectedPath>& paths) {
  std::map<std::string, const ProtectedPath*> map;
  for (const auto& entry : paths) map[entry.pattern.text] = &entry;
  return map;
}

}  // namespace

void compare_data_access(const Profile& before, const Profile& after, Changes& out) {
  const auto& old_max = before.data_access.max_data_class;
  const auto& new_max = after.data_access.max_data_class;
  if (old_max != new_max) {
    // Unset is treated as the widest: a tier without it cannot be run anyway.
    const int old_rank = old_max ? static_cast<int>(*old_max) : 99;
    const int new_rank = new_max ? static_cast<int>(*new_max) : 99;
    compare_ordered(out, "max_data_class", old_rank, new_rank, true, class_text(old_max), class_text(new_max));
  }
  auto old_paths = by_pattern(before.data_access.protected_paths);
  auto new_paths = by_pattern(after.data_access.protected_paths);
  for (const auto& [pattern, old_entry] : old_paths) {
    auto now = new_paths.find(pattern);
    if (now == new_paths.end()) {
      add_change(out, "protected_paths", Effect::widens, "no longer protected: " + pattern);
      continue;
    }
    const auto mode = old_entry->mode;
    const auto new_mode = now->second->mode;
    if (new_mode != mode)
      add_change(out, "protected_paths", new_mode == ProtectionMode::read_only ? Effect::widens : Effect::narrows,
                 pattern + ": " + to_string(mode) + " -> " + to_string(new_mode));
    // What a missing path's placeholder holds can change what programs on
    // the host do with it (git follows .git/commondir): neither side of it.
    if (now->second->placeholder != old_entry->placeholder)
      add_change(out, "protected_paths", Effect::changes,
                 pattern + ": placeholder " + nlohmann::json(old_entry->placeholder).dump() + " -> " +
                     nlohmann::json(now->second->placeholder).dump());
  }
  for (const auto& [pattern, entry] : new_paths)
    if (!old_paths.count(pattern))
      add_change(out, "protected_paths", Effect::narrows,
                 "newly protected (" + std::string(to_string(entry->mode)) + "): " + pattern);
}

void explain_data_access(const Profile& profile, const ExplainContext& context, Explanation& out) {
  ExplainSection classes{"Data classes", {}};
  const auto& max = profile.data_access.max_data_class;
  classes.lines.push_back(std::string("The task may see data up to class \"") + class_text(max) + "\".");
  if (context.classifier && max) {
    const auto& inventory = context.classifier->inventory();
    classes.lines.push_back("Inventory " + inventory.file.string() + ": unlisted paths are \"" +
                            to_string(inventory.default_class) + "\".");
    for (const auto& rule : inventory.rules) {
      if (rule.data_class <= *max) continue;
      const bool anywhere = rule.pattern.anchor == PatternAnchor::anywhere;
      classes.lines.push_back("Hidden from this tier (" + std::string(to_string(rule.data_class)) + "): " + rule.pattern.text +
                              (anywhere ? " (masked inside mounted trees)" : " (a mount exposing it is refused)"));
    }
  }
  out.push_back(std::move(classes));
  ExplainSection protected_paths{"Protected paths (inside the workspace and writable binds)", {}};
  for (const auto& entry : profile.data_access.protected_paths) {
    protected_paths.lines.push_back(entry.pattern.text + ": " +
                                    (entry.mode == ProtectionMode::hidden ? "hidden (an empty read-only stand-in)"
                                                                          : "read-only") +
                                    (entry.pattern.has_wildcards()
                                         ? "; names matching at launch"
                                         : "; also when missing at launch: the task cannot create it"));
  }
  if (protected_paths.lines.empty()) protected_paths.lines.push_back("none");
  out.push_back(std::move(protected_paths));
}

}  // namespace tierbox::policy
