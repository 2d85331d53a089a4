// The CLI's subcommands. The CLI parses and prints, and maps errors to exit
// codes; every decision is made below it (policy, launch).
#pragma once

#include <CLI/CLI.hpp>

#include "audit/verify.h"

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace tierbox::cli {

// Options every subcommand that reads profiles shares.
struct CommonOptions {
  std::string config_dir;
  bool verbose = false;
};

// Registers `run` on app; the returned function runs it after parsing and
// returns the exit status. command_after_dashes: what followed the first
// "--" of the command line, which main() keeps away from option parsing.
std::function<int()> add_run_command(CLI::App& app, CommonOptions& common,
                                     const std::vector<std::string>& command_after_dashes);
std::function<int()> add_profile_command(CLI::App& app, CommonOptions& common);
// `tierbox daemon` (daemon_command.cpp)
std::function<int()> add_daemon_command(CLI::App& app, CommonOptions& common);
std::function<int()> add_gc_command(CLI::App& app, CommonOptions& common);
std::function<int()> add_isolate_network_command(CLI::App& app, CommonOptions& common);
// ps, stop, kill, freeze, thaw, isolate, panic: {subcommand name, handler}.
std::vector<std::pair<std::string, std::function<int()>>> add_control_commands(CLI::App& app, CommonOptions& common);
std::function<int()> add_audit_command(CLI::App& app, CommonOptions& common);
// approvals, approve, deny (approval_commands.cpp)
std::function<int()> add_approval_commands(CLI::App& app, CommonOptions& common);
// grant, key (grant_commands.cpp)
// command_after_dashes: the command a grant binds (as for run).
std::function<int()> add_grant_commands(CLI::App& app, CommonOptions& common,
                                        const std::vector<std::string>& command_after_dashes);

// changes, apply, rollback, discard (staged_commands.cpp): {subcommand name, handler}.
std::vector<std::pair<std::string, std::function<int()>>> add_staged_commands(CLI::App& app, CommonOptions& common);

// redteam (redteam_command.cpp), readiness (readiness_command.cpp)
std::function<int()> add_redteam_command(CLI::App& app, CommonOptions& common);
std::function<int()> add_readiness_command(CLI::App& app, CommonOptions& common);

// Checks an audit checkpoint's signature against the grant keys' trust store
// of governance_dir (audit_command.cpp; used by audit verify and readiness).
audit::CheckpointCheck checkpoint_checker(const std::filesystem::path& governance_dir);

// `tierbox rootfs ARGS`: executes tierbox-rootfs (beside this program) with
// argv[first_argument...]; returns only when that fails.
int exec_rootfs_tool(int argc, char** argv, int first_argument);

// `tierbox oci ARGS` and tierbox-runc ARGS: the OCI runtime command line
// (oci_command.cpp); program names the runtime in its messages.
int oci_main(const std::vector<std::string>& args, const std::string& program);

// The config search path for these options (see policy::config_search_dirs).
std::vector<std::string> search_dirs(const CommonOptions& common);

}  // namespace tierbox::cli
