// `tierbox profile list|explain|diff|check|schema`: what a reviewer reads. Every
// decision is made in policy/review; this file parses and prints.
#include <cstdio>

#include "cli/commands.h"
#include "common/errors.h"
#include "common/json_bytes.h"
#include "common/logging.h"
#include "policy/approval_matrix.h"
#include "policy/host_facts.h"
#include "policy/json_reader.h"
#include "policy/profile_loader.h"
#include "policy/review/check.h"
#include "policy/rootfs_status.h"
#include "policy/runner_config.h"
#include "rootfs/store.h"
#include "policy/review/review.h"
#include "policy/seccomp_groups.h"
#include "policy/sections/registry.h"

namespace tierbox::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct ProfileOptions {
  std::vector<std::string> files;  // check
  std::string tier;                // explain
  std::string old_version, new_version;  // diff
  std::string schema = "tier";           // schema: tier, approvals or data-classes
  bool json = false;
};

std::vector<fs::path> dirs_of(const CommonOptions& common) {
  const auto text = search_dirs(common);
  return {text.begin(), text.end()};
}

// A FILE (has a '/' or ends in .json) or a tier NAME of the search dirs.
fs::path locate(const std::string& argument, const std::vector<fs::path>& dirs) {
  if (argument.find('/') != std::string::npos || fs::path(argument).extension() == ".json") return argument;
  auto file = policy::find_tier_file(argument, dirs);
  if (!file) throw Error("tier " + quote(argument) + " not found in the config directories (fix: pass a file, or --config-dir)", exit_code::runner_failed);
  return *file;
}

std::optional<policy::DataClassInventory> try_inventory(const std::vector<fs::path>& dirs, std::string* error) {
  try {
    return policy::load_data_classes(dirs);
  } catch (const Error& failure) {
    if (error) *error = failure.what();
    return std::nullopt;
  }
}

// The tier's rootfs as the store holds it now (policy/rootfs_status.h).
std::optional<policy::RootfsStatus> rootfs_status_of(const policy::Profile& profile, const std::vector<fs::path>& dirs) {
  if (!profile.rootfs.is_image()) return std::nullopt;
  const rootfs::Store store(policy::load_runner_config(dirs).rootfs_dir);
  const auto image = store.find(profile.rootfs.image);
  return policy::rootfs_status(profile.rootfs, image ? std::optional(image->digest) : std::nullopt, store.root().string(),
                               image ? image->created : "", profile.metadata.reviewed_on);
}

int list(const ProfileOptions& options, const CommonOptions& common) {
  const auto dirs = dirs_of(common);
  const auto today = policy::today_utc();
  auto rows = json::array();
  for (const auto& file : policy::list_tier_files(dirs)) {
    json row = {{"tier", file.stem().string()}, {"file", file.string()}};
    try {
      const auto profile = policy::load_profile_file(file, dirs);
      const auto max = profile.data_access.max_data_class;
      row["owner"] = profile.metadata.owner;
      row["max_data_class"] = max ? policy::to_string(*max) : "";
      row["network"] = policy::to_string(profile.network.mode);
      row["review"] = policy::describe(policy::review_status(profile.metadata, today));
      row["rootfs"] = profile.rootfs.text();
      if (auto status = rootfs_status_of(profile, dirs)) row["rootfs_status"] = status->message;
      row["valid"] = true;
    } catch (const Error& error) {
      row["valid"] = false;
      row["error"] = error.what();
    }
    rows.push_back(std::move(row));
  }
  if (options.json) {
    std::printf("%s\n", utf8_safe(rows).dump(2).c_str());
    return 0;
  }
  std::printf("%-20s %-28s %-10s %-8s %s\n", "TIER", "OWNER", "MAX CLASS", "NETWORK", "REVIEW");
  for (const auto& row : rows) {
    if (!row["valid"].get<bool>()) {
      std::printf("%-20s INVALID: %s\n", row["tier"].get<std::string>().c_str(), row["error"].get<std::string>().c_str());
      continue;
    }
    std::printf("%-20s %-28s %-10s %-8s %s\n", row["tier"].get<std::string>().c_str(), row["owner"].get<std::string>().c_str(),
                row["max_data_class"].get<std::string>().c_str(), row["network"].get<std::string>().c_str(),
                row["review"].get<std::string>().c_str());
    if (row.contains("rootfs_status")) std::printf("%-20s   %s\n", "", row["rootfs_status"].get<std::string>().c_str());
  }
  return 0;
}

int explain(const ProfileOptions& options, const CommonOptions& common) {
  const auto dirs = dirs_of(common);
  const auto profile = policy::load_profile_file(locate(options.tier, dirs), dirs);
  std::string inventory_error;
  auto inventory = try_inventory(dirs, &inventory_error);
  policy::LinuxHostView view;
  std::optional<policy::DataClassifier> classifier;
  if (inventory) classifier.emplace(*inventory, view.home_directories());
  std::optional<policy::ApprovalMatrix> matrix;
  try {
    matrix = policy::load_approval_matrix(dirs);
  } catch (const Error& error) {
    logging::warn("{}", error.what());
  }
  policy::ExplainContext context{classifier ? &*classifier : nullptr, policy::today_utc(), matrix ? &*matrix : nullptr};
  const auto explanation = policy::explain_profile(profile, context);
  if (options.json) {
    auto sections = json::array();
    for (const auto& section : explanation) sections.push_back({{"title", section.title}, {"lines", section.lines}});
    std::printf("%s\n", utf8_safe(sections).dump(2).c_str());
    return 0;
  }
  for (const auto& section : explanation) {
    std::printf("%s\n", section.title.c_str());
    for (const auto& line : section.lines) std::printf("  %s\n", line.c_str());
  }
  if (!inventory) std::printf("(data classes not shown: %s)\n", inventory_error.c_str());
  return 0;
}

bool is_inventory(const fs::path& file) {
  if (!fs::is_regular_file(file)) return false;
  const auto document = policy::read_json_file(file.string());
  return document.is_object() && document.contains("paths");
}

// 0: nothing widens; 1: something widens (CI gates on this); 125: an error.
int diff(const ProfileOptions& options, const CommonOptions& common) {
  const auto dirs = dirs_of(common);
  const auto old_file = locate(options.old_version, dirs);
  const auto new_file = locate(options.new_version, dirs);
  policy::Changes changes;
  if (is_inventory(old_file) || is_inventory(new_file)) {
    changes = policy::compare_inventories(policy::load_data_classes_file(old_file), policy::load_data_classes_file(new_file));
  } else {
    changes = policy::compare_profiles(policy::load_profile_file(old_file, dirs), policy::load_profile_file(new_file, dirs));
  }
  const bool widens = std::any_of(changes.begin(), changes.end(), [](const auto& c) { return c.effect == policy::Effect::widens; });
  if (options.json) {
    json report = {{"old", old_file.string()}, {"new", new_file.string()}, {"widens", widens}, {"changes", json::array()}};
    for (const auto& change : changes)
      report["changes"].push_back({{"field", change.field}, {"effect", policy::to_string(change.effect)}, {"text", change.text}});
    std::printf("%s\n", utf8_safe(report).dump(2).c_str());
  } else {
    std::printf("%s -> %s\n", old_file.c_str(), new_file.c_str());
    if (changes.empty()) std::printf("no security-relevant change\n");
    for (auto effect : {policy::Effect::widens, policy::Effect::narrows, policy::Effect::changes})
      for (const auto& change : changes)
        if (change.effect == effect)
          std::printf("%-8s %s: %s\n", effect == policy::Effect::widens ? "WIDENS" : effect == policy::Effect::narrows ? "narrows" : "changes",
                      change.field.c_str(), change.text.c_str());
  }
  return widens ? 1 : 0;
}

json report_json(const policy::CheckReport& report) {
  return {{"file", report.file}, {"tier", report.tier},       {"ok", report.errors.empty()}, {"sha256", report.sha256},
          {"errors", report.errors}, {"warnings", report.warnings}};
}

// 0: everything valid; 1: an error in any file.
int check(const ProfileOptions& options, const CommonOptions& common) {
  logging::configure(common.verbose);
  const auto dirs = dirs_of(common);
  std::string inventory_error;
  auto inventory = try_inventory(dirs, &inventory_error);
  policy::LinuxHostView view;
  const auto today = policy::today_utc();
  std::vector<fs::path> files;
  for (const auto& argument : options.files) files.push_back(locate(argument, dirs));
  if (options.files.empty()) files = policy::list_tier_files(dirs);
  auto reports = json::array();
  bool failed = !inventory;
  if (!inventory) reports.push_back({{"file", policy::kDataClassesFile}, {"ok", false}, {"errors", {inventory_error}}, {"warnings", json::array()}});
  // The approval matrix: an invalid one refuses every launch; a tier it
  // does not list is refused at run time.
  std::optional<policy::ApprovalMatrix> matrix;
  try {
    matrix = policy::load_approval_matrix(dirs);
  } catch (const Error& error) {
    failed = true;
    reports.push_back({{"file", policy::kApprovalsFile}, {"ok", false}, {"errors", {error.what()}}, {"warnings", json::array()}});
  }
  for (const auto& file : files) {
    const auto image_tree_of = [&](const policy::Profile& profile) {
      const rootfs::Store store(policy::load_runner_config(dirs).rootfs_dir);
      const auto image = store.find(profile.rootfs.image);
      return image ? store.tree(image->digest).string() : std::string();
    };
    auto report = policy::check_profile(file, dirs, inventory ? &*inventory : nullptr, view, today, image_tree_of);
    if (report.loaded)
      if (auto status = rootfs_status_of(policy::load_profile_file(file, dirs), dirs))
        (status->error ? report.errors : report.warnings).push_back(status->message);
    if (matrix && report.loaded && !policy::matrix_knows_tier(*matrix, report.tier))
      report.warnings.push_back("tier '" + report.tier + "' is not in the approval matrix " + matrix->file.string() +
                                " (tiers): every launch of it is refused");
    failed = failed || !report.errors.empty();
    reports.push_back(report_json(report));
  }
  if (options.json) {
    std::printf("%s\n", utf8_safe(json{{"ok", !failed}, {"data_classes", inventory ? inventory->file.string() : ""}, {"files", reports}}).dump(2).c_str());
    return failed ? 1 : 0;
  }
  for (const auto& report : reports) {
    const bool ok = report["ok"].get<bool>();
    const std::string file = report["file"].get<std::string>();
    if (ok) std::printf("%s: ok (tier %s, sha256 %s)\n", file.c_str(), report.value("tier", "").c_str(), report.value("sha256", "").substr(0, 12).c_str());
    for (const auto& error : report["errors"]) std::fprintf(stderr, "tierbox: %s: error: %s\n", file.c_str(), error.get<std::string>().c_str());
    for (const auto& warning : report["warnings"]) std::fprintf(stderr, "tierbox: %s: warning: %s\n", file.c_str(), warning.get<std::string>().c_str());
  }
  return failed ? 1 : 0;
}

// The JSON Schema of one kind of file, as shipped in profiles/schema/.
int schema(const ProfileOptions& options) {
  const json printed = options.schema == "approvals"      ? policy::approvals_schema()
                       : options.schema == "data-classes" ? policy::data_classes_schema()
                                                          : policy::tier_profile_schema();
  std::printf("%s\n", printed.dump(2).c_str());
  return 0;
}

}  // namespace

std::function<int()> add_profile_command(CLI::App& app, CommonOptions& common) {
  auto* profile_app = app.add_subcommand("profile", "Check and review tier profiles");
  profile_app->require_subcommand(1);
  profile_app->add_option("--config-dir", common.config_dir, "Look for tiers/ and data-classes.json here first");
  auto options = std::make_shared<ProfileOptions>();

  auto* list_app = profile_app->add_subcommand("list", "Tiers with owner, max data class, network mode and review status");
  list_app->add_flag("--json", options->json, "Print JSON");
  auto* explain_app = profile_app->add_subcommand("explain", "What a tier allows, in plain language");
  explain_app->add_option("tier", options->tier, "Tier name or profile file")->required();
  explain_app->add_flag("--json", options->json, "Print JSON");
  auto* diff_app = profile_app->add_subcommand(
      "diff", "Security-relevant difference of two versions of a tier (or of data-classes.json); exit 1 if anything widens");
  diff_app->add_option("old", options->old_version, "Old version: file or tier name")->required();
  diff_app->add_option("new", options->new_version, "New version: file or tier name")->required();
  diff_app->add_flag("--json", options->json, "Print JSON");
  auto* check_app = profile_app->add_subcommand(
      "check", "Validate tiers without running anything (all tiers when none is given); exit 1 if any is invalid");
  check_app->add_option("files", options->files, "Profile files or tier names");
  check_app->add_flag("--json", options->json, "Print a JSON report (for CI)");
  auto* schema_app = profile_app->add_subcommand(
      "schema", "Print the JSON Schema of tier profiles, approvals.json or data-classes.json (as in profiles/schema/)");
  schema_app->add_option("kind", options->schema, "tier (the default), approvals or data-classes")
      ->check(CLI::IsMember({"tier", "approvals", "data-classes"}));
  for (auto* sub : {list_app, explain_app, diff_app, check_app})
    sub->add_option("--config-dir", common.config_dir, "Look for tiers/ and data-classes.json here first");
  return [=, &common] {
    if (list_app->parsed()) return list(*options, common);
    if (explain_app->parsed()) return explain(*options, common);
    if (diff_app->parsed()) return diff(*options, common);
    if (check_app->parsed()) return check(*options, common);
    if (schema_app->parsed()) return schema(*options);
    return static_cast<int>(exit_code::runner_failed);
  };
}

}  // namespace tierbox::cli
