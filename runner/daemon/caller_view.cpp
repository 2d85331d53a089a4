#include "daemon/caller_view.h"

namespace tierbox::daemon {
namespace {

// The same directory by name ("/run/tierbox/" is "/run/tierbox").
bool same_directory(const std::filesystem::path& a, const std::filesystem::path& b) {
  return (a / "").lexically_normal() == (b / "").lexically_normal();
}

std::string source_of(const policy::RunnerConfig& config) {
  return config.source.empty() ? std::string("the defaults") : config.source.string();
}

}  // namespace

std::vector<std::string> caller_view_mismatches(const policy::RunnerConfig& daemon_config,
                                                const std::filesystem::path& daemon_state_dir,
                                                const policy::RunnerConfig& callers_config) {
  std::vector<std::string> lines;
  const auto state_dir = daemon_state_dir.empty() ? daemon_config.state_dir : daemon_state_dir;
  if (!same_directory(state_dir, callers_config.state_dir))
    lines.push_back("runs are registered in " + state_dir.string() + ", but callers look in " +
                    callers_config.state_dir.string() + " (state_dir of " + source_of(callers_config) +
                    "): their ps, stop, freeze... find these runs only with --config-dir naming a tierbox.json "
                    "with that state_dir (fix: set state_dir in /etc/tierbox/tierbox.json)");
  if (!same_directory(daemon_config.approvals_dir, callers_config.approvals_dir))
    lines.push_back("pending approvals go to " + daemon_config.approvals_dir.string() + ", but callers look in " +
                    callers_config.approvals_dir.string() + " (approvals_dir of " + source_of(callers_config) +
                    "): their approvals, approve and deny find them only with --config-dir (fix: set approvals_dir "
                    "in /etc/tierbox/tierbox.json)");
  return lines;
}

}  // namespace tierbox::daemon
