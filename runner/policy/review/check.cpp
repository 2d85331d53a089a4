#include "policy/review/check.h"

#include <algorithm>
#include <map>
#include <set>

#include "common/errors.h"
#include "common/filesystems.h"
#include "policy/command_resolution.h"
#include "policy/data_access.h"
#include "policy/planner.h"
#include "policy/profile_loader.h"
#include "policy/seccomp_groups.h"

namespace tierbox::policy {
namespace {

namespace fs = std::filesystem;

void check_review(const Profile& profile, Date today, CheckReport& report) {
  const auto status = review_status(profile.metadata, today);
  if (status.state == ReviewState::expired) report.errors.push_back("review: " + describe(status) + " (runs are refused)");
  else if (status.state == ReviewState::due_soon) report.warnings.push_back("review: " + describe(status));
  const auto& leaf = profile.metadata.chain.back();
  if (leaf.reviewed_by.empty() && !leaf.review_by && profile.chain.size() > 1)
    report.warnings.push_back("review: this file states no review of its own; it inherits " + profile.metadata.source + "'s");
  for (const auto& entry : profile.metadata.chain)
    if (entry.reviewed_on && *entry.reviewed_on > today)
      report.warnings.push_back("review: " + entry.file + " has reviewed_on " + entry.reviewed_on->str() + ", in the future");
}

void check_data_classes(const Profile& profile, const DataClassInventory* inventory, const HostView& view,
                        CheckReport& report) {
  if (!inventory) return report.errors.push_back("data classes: no inventory could be loaded");
  const auto max = profile.data_access.max_data_class.value_or(DataClass::public_data);
  auto assessment = assess_data_access(profile, *inventory, std::nullopt, view);
  for (const auto& exposure : assessment.exposures)
    report.errors.push_back("data classes (on this host): " + describe(exposure, profile.name, max));
  for (const auto& tree : assessment.trees)
    for (const auto& problem : tree.problems) report.errors.push_back(tree.target + ": " + problem);
}

std::string search_path_of(const Profile& profile) {
  auto path = profile.environment.set.find("PATH");
  return path == profile.environment.set.end() ? kDefaultPath : path->second;
}

void check_commands(const Profile& profile, const HostView& view, const std::string& image_tree, CheckReport& report) {
  if (!profile.commands.allowed) return;
  if (profile.rootfs.is_image() && image_tree.empty()) {
    report.warnings.push_back("allowed_commands: resolved in the image " + profile.rootfs.image +
                              " at launch; not checked here (the store has no such image)");
    return;
  }
  const auto mounts = sandbox_mounts(profile, std::nullopt, view, image_tree);
  for (const auto& entry : *profile.commands.allowed) {
    const auto where = "allowed_commands " + entry.command + " (" + entry.origin + ")";
    if (entry.command.front() == '/' && is_same_or_under(entry.command, profile.workspace.target)) {
      report.warnings.push_back(where + ": lies in the workspace, checked at launch");
      continue;
    }
    auto resolved = resolve_command(entry.command, search_path_of(profile), "/", mounts, view);
    if (!resolved.found) {
      report.warnings.push_back(where + ": not found in the sandbox on this host");
      continue;
    }
    if (entry.sha256.empty()) continue;
    try {
      auto actual = view.sha256_of_file(resolved.file.host);
      if (actual != entry.sha256)
        report.errors.push_back(where + ": " + resolved.candidate + " (file " + resolved.file.host + ") has sha256 " +
                                actual + ", the pin is " + entry.sha256 + " (launches are refused)");
    } catch (const Error& error) {
      report.errors.push_back(where + ": " + error.what());
    }
  }
}

// The same refusal as at launch (planner.cpp), reported before a launch.
void check_kernel_filesystems(const Profile& profile, const HostView& view, CheckReport& report) {
  for (const auto& mount : profile.mounts) {
    if (mount.type != MountType::bind) continue;
    const auto magic = view.filesystem_of(mount.source);
    if (magic && is_kernel_filesystem(*magic))
      report.errors.push_back(mount.origin + ": " + mount.source + ": a directory of the kernel's " +
                              filesystem_name(*magic) +
                              " filesystem, not of a project; launches are refused (fix: remove the mount; the "
                              "sandbox has its own /proc and /dev)");
  }
}

int rank(const std::optional<DataClass>& data_class) { return data_class ? static_cast<int>(*data_class) : -1; }

}  // namespace

CheckReport check_profile(const fs::path& file, const std::vector<fs::path>& dirs, const DataClassInventory* inventory,
                          const HostView& view, Date today,
                          const std::function<std::string(const Profile&)>& image_tree_of) {
  CheckReport report;
  report.file = file.string();
  report.tier = file.stem().string();
  Profile profile;
  try {
    profile = load_profile_file(file, dirs);
  } catch (const Error& error) {
    report.errors.push_back(error.what());
    return report;
  }
  report.loaded = true;
  report.sha256 = profile.sha256;
  check_review(profile, today, report);
  check_data_classes(profile, inventory, view, report);
  check_commands(profile, view, image_tree_of && profile.rootfs.is_image() ? image_tree_of(profile) : "", report);
  check_kernel_filesystems(profile, view, report);
  for (const auto& warning : network_warnings(profile.network)) report.warnings.push_back("network: " + warning);
  for (const auto& id : profile.seccomp.allow_dangerous) {
    const auto* item = find_blocked_item(id);
    report.warnings.push_back("seccomp.allow_dangerous opts in to the always-blocked item '" + id +
                              "': " + (item ? std::string(item->description) : std::string("?")));
  }
  return report;
}

std::vector<fs::path> list_tier_files(const std::vector<fs::path>& dirs) {
  std::map<std::string, fs::path> first;
  for (const auto& dir : dirs) {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir / "tiers", ec)) {
      const auto& path = entry.path();
      if (path.extension() != ".json" || !is_valid_tier_name(path.stem().string())) continue;
      first.emplace(path.stem().string(), path);
    }
  }
  std::vector<fs::path> files;
  for (auto& [name, path] : first) files.push_back(path);
  return files;
}

Changes compare_inventories(const DataClassInventory& before, const DataClassInventory& after) {
  Changes out;
  const int old_default = static_cast<int>(before.default_class), new_default = static_cast<int>(after.default_class);
  // A lower class means more tiers may see the path: that widens.
  compare_ordered(out, "default_class", old_default, new_default, false, to_string(before.default_class),
                  to_string(after.default_class));
  std::map<std::string, const DataClassRule*> old_rules, new_rules;
  for (const auto& rule : before.rules) old_rules[rule.pattern.text] = &rule;
  for (const auto& rule : after.rules) new_rules[rule.pattern.text] = &rule;
  for (const auto& [pattern, rule] : new_rules) {
    auto old = old_rules.find(pattern);
    if (old == old_rules.end()) {
      const int cls = static_cast<int>(rule->data_class);
      add_change(out, "paths", cls < new_default ? Effect::widens : cls > new_default ? Effect::narrows : Effect::changes,
                 "new rule " + pattern + ": " + to_string(rule->data_class));
      continue;
    }
    compare_ordered(out, "paths", rank(old->second->data_class), rank(rule->data_class), false,
                    pattern + ": " + to_string(old->second->data_class), to_string(rule->data_class));
    if (old->second->scan != rule->scan)
      add_change(out, "paths", rule->scan ? Effect::narrows : Effect::widens,
                 pattern + (rule->scan ? ": now scanned for **/ rules" : ": no longer scanned for **/ rules"));
  }
  for (const auto& [pattern, rule] : old_rules) {
    if (new_rules.count(pattern)) continue;
    const int cls = static_cast<int>(rule->data_class);
    add_change(out, "paths", cls > new_default ? Effect::widens : cls < new_default ? Effect::narrows : Effect::changes,
               "rule removed " + pattern + " (was " + to_string(rule->data_class) + ")");
  }
  if (before.scan_limit != after.scan_limit)
    add_change(out, "scan_limit", Effect::changes, std::to_string(before.scan_limit) + " -> " + std::to_string(after.scan_limit));
  return out;
}

}  // namespace tierbox::policy
