// changes, apply, rollback, discard: a staged run's layer (docs/staged-writes.md).
// Parses; root does the command here (staged/command.h), anyone else through
// the daemon.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>

#include "cli/commands.h"
#include "common/errors.h"
#include "common/logging.h"
#include "daemon/client.h"
#include "staged/command.h"

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
  return {std::vector<std::filesystem::path>(dirs.begin(), dirs.end()), options.audit_log, ::getuid(), std::nullopt, {}};
}

// Not root: the state directory is root's, so the command goes through the
// daemon (docs/daemon.md, "staged"), which decides who may with the
// kernel's identity and prints to this process's stdout and stderr. A
// grant file is read here, with the caller's rights.
int staged_through_daemon(const std::string& action, const StagedOptions& options, const CommonOptions& common) {
  const auto refuse = [&](const std::string& option, const std::string& why) {
    throw Error(action + " " + option + ": " + why + " (fix: leave it out, or run as root)", exit_code::runner_failed);
  };
  const char* config_env = std::getenv("TIERBOX_CONFIG_DIR");
  if (!common.config_dir.empty() || (config_env && *config_env))
    refuse("--config-dir", "the daemon's configuration is root's to choose");
  if (!options.audit_log.empty()) refuse("--audit-log", "the daemon's audit log is root's to choose");
  daemon::StagedMessage message;
  message.action = action;
  message.run_id = options.run_id;
  message.paths = options.paths;
  message.json = options.json;
  message.diff = options.diff;
  message.yes = options.yes;
  if (!options.grant_file.empty()) {
    message.grant_name = options.grant_file;
    message.grant = daemon::read_grant_as_caller(options.grant_file);
  }
  std::fflush(stdout);
  return daemon::staged_through_daemon(daemon::client_socket_path(), std::move(message));
}

int staged_command(const std::string& action, staged::StagedAction kind, const StagedOptions& options,
                   const CommonOptions& common) {
  logging::configure(common.verbose);
  if (::geteuid() != 0) return staged_through_daemon(action, options, common);
  staged::StagedCommand command;
  command.action = kind;
  command.run_id = options.run_id;
  command.paths = options.paths;
  command.json = options.json;
  command.diff = options.diff;
  command.yes = options.yes;
  command.grant_file = options.grant_file;
  // Tests only: stop dead before the Nth entry lands, as a crash would.
  if (const char* crash = std::getenv("TIERBOX_TEST_APPLY_CRASH_AT"); crash && kind == staged::StagedAction::apply) {
    const auto at = static_cast<std::size_t>(std::strtoul(crash, nullptr, 10));
    command.before_entry = [at](std::size_t index) {
      if (index == at) ::_exit(99);
    };
  }
  return staged::run_staged_command(command, staged_settings(common, options), stdout, stderr);
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
  handlers.emplace_back("changes", [options, &common] { return staged_command("changes", staged::StagedAction::see, *options, common); });

  auto* apply_app = app.add_subcommand("apply", "Bring a staged run's changes into the real workspace (approval matrix, audited)");
  common_options(apply_app);
  apply_app->add_option("paths", options->paths, "Only these paths (relative to the workspace) and below");
  apply_app->add_option("--grant", options->grant_file, "A grant signed for this change set's digest");
  apply_app->add_flag("--yes", options->yes, "Confirm, where a rule requires confirmation");
  handlers.emplace_back("apply", [options, &common] { return staged_command("apply", staged::StagedAction::apply, *options, common); });

  auto* rollback_app = app.add_subcommand("rollback", "Restore the workspace as it was before a run's apply");
  common_options(rollback_app);
  handlers.emplace_back("rollback", [options, &common] { return staged_command("rollback", staged::StagedAction::rollback, *options, common); });

  auto* discard_app = app.add_subcommand("discard", "Drop a staged run's layer without applying it");
  common_options(discard_app);
  handlers.emplace_back("discard", [options, &common] { return staged_command("discard", staged::StagedAction::discard, *options, common); });
  return handlers;
}

}  // namespace tierbox::cli
