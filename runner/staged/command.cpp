#include "staged/command.h"

#include <nlohmann/json.hpp>

#include "staged/renames.h"

namespace tierbox::staged {
namespace {

int show_changes(const StagedCommand& command, const OperationSettings& settings, std::FILE* out) {
  OpenedRun opened(settings, command.run_id, StagedAction::see);
  const auto set = staged_changes(opened, command.paths);
  const auto renames = find_renames(set.changes);
  if (command.json) {
    auto document = to_json(set);
    auto& listed = document["renames"] = nlohmann::json::array();
    for (const auto& rename : renames) {
      auto entries = nlohmann::json::array();
      for (const auto index : rename.entries) entries.push_back(set.changes[index].path);
      listed.push_back({{"from", rename.from}, {"to", rename.to}, {"directory", rename.directory}, {"entries", entries}});
    }
    document["run_id"] = opened.run().run_id;
    document["state"] = opened.run().state;
    document["workspace"] = opened.run().workspace;
    std::fprintf(out, "%s\n", document.dump(2).c_str());
    return 0;
  }
  std::fprintf(out, "run %s (tier %s, %s): %zu changes to %s\n", opened.run().run_id.c_str(), opened.run().tier.c_str(),
               opened.run().state.c_str(), set.changes.size(), opened.run().workspace.c_str());
  // A rename's line stands where its new name sorts; its entries are not
  // listed one by one (the change set and an apply still hold each).
  std::vector<const Rename*> at(set.changes.size(), nullptr);
  std::vector<bool> in_rename(set.changes.size(), false);
  for (const auto& rename : renames) {
    for (const auto index : rename.entries) in_rename[index] = true;
    at[rename.entries[rename.entries.size() / 2]] = &rename;  // the added side's top entry
  }
  for (std::size_t i = 0; i < set.changes.size(); ++i) {
    const auto& change = set.changes[i];
    if (at[i]) std::fprintf(out, "%s\n", rename_line(*at[i]).c_str());
    if (in_rename[i]) continue;
    std::fprintf(out, "%s\n", change_line(change).c_str());
    if (!command.diff || !change.text) continue;
    std::fputs(unified_diff(change, opened.paths().upper().string(), opened.run().workspace).c_str(), out);
  }
  std::fprintf(out, "change set %s\n", set.digest.c_str());
  return 0;
}

int apply_run(const StagedCommand& command, const OperationSettings& settings, std::FILE* out, std::FILE* err) {
  OpenedRun opened(settings, command.run_id, StagedAction::apply);
  ApplyRequest request;
  request.paths = command.paths;
  request.grant_file = command.grant_file;
  request.grant_document = command.grant_document;
  request.yes = command.yes;
  request.before_entry = command.before_entry;
  request.cancel_fd = command.cancel_fd;
  request.notices = err;
  const auto outcome = apply_staged(opened, settings, request);
  for (const auto& line : outcome.lines) std::fprintf(out, "%s\n", line.c_str());
  std::fprintf(out, "applied change set %s (%zu entries; %s); `tierbox rollback %s` undoes it\n",
               outcome.set.digest.c_str(), outcome.lines.size(), outcome.decision.c_str(), opened.run().run_id.c_str());
  for (const auto& warning : outcome.warnings)
    std::fprintf(err, "tierbox: warning: workspace: %s; git on this host runs it (docs/threat-model.md)\n",
                 warning.c_str());
  for (const auto& change : outcome.set.changes)
    if (change.kind == ChangeKind::refused) std::fprintf(err, "tierbox: not applied: %s\n", change_line(change).c_str());
  return 0;
}

int rollback_run(const StagedCommand& command, const OperationSettings& settings, std::FILE* out) {
  OpenedRun opened(settings, command.run_id, StagedAction::rollback);
  const auto lines = rollback_staged(opened, settings);
  for (const auto& line : lines) std::fprintf(out, "%s\n", line.c_str());
  std::fprintf(out, "rolled back run %s (%zu entries)\n", opened.run().run_id.c_str(), lines.size());
  return 0;
}

int discard_run(const StagedCommand& command, const OperationSettings& settings, std::FILE* out) {
  OpenedRun opened(settings, command.run_id, StagedAction::discard);
  discard_staged(opened, settings);
  std::fprintf(out, "discarded the staged layer of run %s\n", opened.run().run_id.c_str());
  return 0;
}

}  // namespace

int run_staged_command(const StagedCommand& command, const OperationSettings& settings, std::FILE* out, std::FILE* err) {
  switch (command.action) {
    case StagedAction::see: return show_changes(command, settings, out);
    case StagedAction::apply: return apply_run(command, settings, out, err);
    case StagedAction::rollback: return rollback_run(command, settings, out);
    case StagedAction::discard: return discard_run(command, settings, out);
  }
  return 0;
}

}  // namespace tierbox::staged
