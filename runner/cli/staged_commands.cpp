// changes, apply, rollback, discard: a staged run's layer (docs/staged-writes.md).
// Parses and prints; the work is in staged/operations.h.
#include <unistd.h>

#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "common/errors.h"
#include "common/logging.h"
#include "staged/operations.h"

namespace tierbox::cli {
namespace {

struct StagedOptions {
  std::string run_id;
  std::vector<std::string> paths;
  bool json = false;
  bool diff = false;
  bool yes = false;
  std::string grant_file;
  std::string audit_log;
};

staged::OperationSettings staged_settings(const CommonOptions& common, const StagedOptions& options) {
  const auto dirs = search_dirs(common);
  return {std::vector<std::filesystem::path>(dirs.begin(), dirs.end()), options.audit_log, ::getuid()};
}

int show_changes(const StagedOptions& options, const CommonOptions& common) {
  logging::configure(common.verbose);
  const auto settings = staged_settings(common, options);
  staged::OpenedRun opened(settings, options.run_id, staged::StagedAction::see);
  const auto set = staged::staged_changes(opened, options.paths);
  if (options.json) {
    auto out = staged::to_json(set);
    out["run_id"] = opened.run().run_id;
    out["state"] = opened.run().state;
    out["workspace"] = opened.run().workspace;
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  std::printf("run %s (tier %s, %s): %zu changes to %s\n", opened.run().run_id.c_str(), opened.run().tier.c_str(),
              opened.run().state.c_str(), set.changes.size(), opened.run().workspace.c_str());
  for (const auto& change : set.changes) {
    std::printf("%s\n", staged::change_line(change).c_str());
    if (!options.diff || !change.text) continue;
    std::fputs(staged::unified_diff(change, opened.paths().upper().string(), opened.run().workspace).c_str(), stdout);
  }
  std::printf("change set %s\n", set.digest.c_str());
  return 0;
}

int apply_run(const StagedOptions& options, const CommonOptions& common) {
  logging::configure(common.verbose);
  const auto settings = staged_settings(common, options);
  staged::OpenedRun opened(settings, options.run_id, staged::StagedAction::apply);
  staged::ApplyRequest request;
  request.paths = options.paths;
  request.grant_file = options.grant_file;
  request.yes = options.yes;
  // Tests only: stop dead before the Nth entry lands, as a crash would.
  if (const char* crash = std::getenv("TIERBOX_TEST_APPLY_CRASH_AT")) {
    const auto at = static_cast<std::size_t>(std::strtoul(crash, nullptr, 10));
    request.before_entry = [at](std::size_t index) {
      if (index == at) ::_exit(99);
    };
  }
  const auto outcome = staged::apply_staged(opened, settings, request);
  for (const auto& line : outcome.lines) std::printf("%s\n", line.c_str());
  std::printf("applied change set %s (%zu entries; %s); `tierbox rollback %s` undoes it\n", outcome.set.digest.c_str(),
              outcome.lines.size(), outcome.decision.c_str(), opened.run().run_id.c_str());
  for (const auto& warning : outcome.warnings)
    std::fprintf(stderr, "tierbox: warning: workspace: %s; git on this host runs it (docs/threat-model.md)\n",
                 warning.c_str());
  for (const auto& change : outcome.set.changes)
    if (change.kind == staged::ChangeKind::refused)
      std::fprintf(stderr, "tierbox: not applied: %s\n", staged::change_line(change).c_str());
  return 0;
}

int rollback_run(const StagedOptions& options, const CommonOptions& common) {
  logging::configure(common.verbose);
  const auto settings = staged_settings(common, options);
  staged::OpenedRun opened(settings, options.run_id, staged::StagedAction::rollback);
  const auto lines = staged::rollback_staged(opened, settings);
  for (const auto& line : lines) std::printf("%s\n", line.c_str());
  std::printf("rolled back run %s (%zu entries)\n", opened.run().run_id.c_str(), lines.size());
  return 0;
}

int discard_run(const StagedOptions& options, const CommonOptions& common) {
  logging::configure(common.verbose);
  const auto settings = staged_settings(common, options);
  staged::OpenedRun opened(settings, options.run_id, staged::StagedAction::discard);
  staged::discard_staged(opened, settings);
  std::printf("discarded the staged layer of run %s\n", opened.run().run_id.c_str());
  return 0;
}

}  // namespace

std::vector<std::pair<std::string, std::function<int()>>> add_staged_commands(CLI::App& app, CommonOptions& common) {
  auto options = std::make_shared<StagedOptions>();
  std::vector<std::pair<std::string, std::function<int()>>> handlers;
  const auto common_options = [&](CLI::App* sub) {
    sub->add_option("run", options->run_id, "The run id `tierbox run` printed")->required();
    sub->add_option("--config-dir", common.config_dir, "Look for tierbox.json and approvals.json here first");
    sub->add_option("--audit-log", options->audit_log, "The audit log (default: as configured)");
  };
  auto* changes_app = app.add_subcommand("changes", "What a staged run changed: added, modified, deleted, mode changes");
  common_options(changes_app);
  changes_app->add_option("paths", options->paths, "Only these paths (relative to the workspace) and below");
  changes_app->add_flag("--json", options->json, "JSON, with the change set's digest");
  changes_app->add_flag("--diff", options->diff, "Unified diffs of text files");
  handlers.emplace_back("changes", [options, &common] { return show_changes(*options, common); });

  auto* apply_app = app.add_subcommand("apply", "Bring a staged run's changes into the real workspace (approval matrix, audited)");
  common_options(apply_app);
  apply_app->add_option("paths", options->paths, "Only these paths (relative to the workspace) and below");
  apply_app->add_option("--grant", options->grant_file, "A grant signed for this change set's digest");
  apply_app->add_flag("--yes", options->yes, "Confirm, where a rule requires confirmation");
  handlers.emplace_back("apply", [options, &common] { return apply_run(*options, common); });

  auto* rollback_app = app.add_subcommand("rollback", "Restore the workspace as it was before a run's apply");
  common_options(rollback_app);
  handlers.emplace_back("rollback", [options, &common] { return rollback_run(*options, common); });

  auto* discard_app = app.add_subcommand("discard", "Drop a staged run's layer without applying it");
  common_options(discard_app);
  handlers.emplace_back("discard", [options, &common] { return discard_run(*options, common); });
  return handlers;
}

}  // namespace tierbox::cli
