// What the daemon's callers read of the configuration. Their ps, stop,
// approvals, approve... find the runs' control sockets and the pending
// requests' sockets through the state_dir and approvals_dir of the first
// tierbox.json in their own config directories (/etc/tierbox, then the
// shipped one), never through the daemon's --state-dir or --config-dir.
// Pure: the daemon prints what differs as a warning at start.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "policy/runner_config.h"

namespace tierbox::daemon {

// One line per place where the daemon puts what its callers look for
// elsewhere; empty when they agree. daemon_state_dir: --state-dir, or ""
// for the daemon config's state_dir.
std::vector<std::string> caller_view_mismatches(const policy::RunnerConfig& daemon_config,
                                                const std::filesystem::path& daemon_state_dir,
                                                const policy::RunnerConfig& callers_config);

}  // namespace tierbox::daemon
