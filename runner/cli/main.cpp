// tierbox: a governed sandbox runner for AI agents. See README.md.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <string_view>

#include "cli/commands.h"
#include "common/errors.h"
#include "common/logging.h"
#include "common/process_title.h"
#include "launch/launcher.h"

namespace {

// A runner started with fd 0, 1 or 2 closed would hand out that number to
// its own first open(), and the task would then read or write it as stdio.
void ensure_standard_fds() {
  for (int fd = 0; fd <= 2; ++fd) {
    if (::fcntl(fd, F_GETFD) == -1 && errno == EBADF) {
      int null_fd = ::open("/dev/null", O_RDWR);
      if (null_fd != fd) ::_exit(tierbox::exit_code::runner_failed);
    }
  }
}

// CLI11 takes `--tier ""` as a given option with an empty value, which the
// subcommands then read as "not given" (the default tier, the default log):
// refuse it, for every option and argument of every subcommand given.
void refuse_empty_values(const CLI::App& app) {
  for (const auto* option : app.get_options()) {
    if (option->count() == 0) continue;
    for (const auto& value : option->results()) {
      if (value.empty())
        throw CLI::ValidationError(option->get_name() + ": an empty value (fix: give a value, or leave the option out)");
    }
  }
  for (const auto* subcommand : app.get_subcommands()) refuse_empty_values(*subcommand);
}

// "tierbox run" for the parser error of `tierbox run --x`: where --help helps.
std::string command_path(const CLI::App& app) {
  std::string path = "tierbox";
  for (const auto* subcommand = &app; !subcommand->get_subcommands().empty();) {
    subcommand = subcommand->get_subcommands().front();
    path += " " + subcommand->get_name();
  }
  return path;
}

// One line with the tierbox: prefix, like every other error (CLI11's own
// exit() prints two lines without it).
int usage_error(const CLI::App& app, const CLI::ParseError& error) {
  std::string message = error.what();
  for (auto& c : message)
    if (c == '\n') c = ' ';
  while (!message.empty() && message.back() == ' ') message.pop_back();
  std::fprintf(stderr, "tierbox: %s (see %s --help)\n", message.c_str(), command_path(app).c_str());
  return tierbox::exit_code::runner_failed;
}

}  // namespace

int main(int argc, char** argv, char** envp) {
  tierbox::logging::mark_process_start();
  ensure_standard_fds();
  const auto area = tierbox::find_argv_area(argc, argv, envp);
  tierbox::launch::set_process_title_area(area.start, area.size);

  // The OCI runtime mode: `tierbox oci ...`, or this program installed (or
  // linked) as tierbox-runc for engines that want a runc-like name. Its
  // command line is runc's, so it is parsed apart from CLI11's.
  const std::string_view program = argv[0] ? std::string_view(argv[0]) : std::string_view();
  const auto slash = program.rfind('/');
  if (program.substr(slash == std::string_view::npos ? 0 : slash + 1) == "tierbox-runc")
    return tierbox::cli::oci_main(std::vector<std::string>(argv + 1, argv + argc), "tierbox-runc");
  if (argc > 1 && std::string_view(argv[1]) == "oci")
    return tierbox::cli::oci_main(std::vector<std::string>(argv + 2, argv + argc), "tierbox oci");

  CLI::App app{"tierbox: run agent tasks in sandboxes whose strength matches their risk tier"};
  app.set_version_flag("--version", std::string("tierbox ") + TIERBOX_VERSION);
  app.require_subcommand(1);
  tierbox::cli::CommonOptions common;
  // Everything after the first "--" is the task's command, verbatim.
  std::vector<std::string> options;
  std::vector<std::string> command;
  bool after_dashes = false;
  for (int i = 1; i < argc; ++i) {
    if (!after_dashes && std::string_view(argv[i]) == "--") {
      after_dashes = true;
      continue;
    }
    (after_dashes ? command : options).emplace_back(argv[i]);
  }
  // The image store's commands live in their own program (libarchive).
  if (argc > 1 && std::string_view(argv[1]) == "rootfs") return tierbox::cli::exec_rootfs_tool(argc, argv, 2);
  auto run = tierbox::cli::add_run_command(app, common, command);
  // `tierbox run` is the hot path: building the other subcommands' CLI11
  // trees (some hundred options and validators) costs it ~0.1-0.2 ms per
  // launch, so they are made only when the first word is not "run". The
  // top-level --help, which lists them all, is not a "run".
  const bool only_run = !options.empty() && options.front() == "run";
  std::function<int()> profile, gc, isolate_network, audit, approvals, grants, daemon, redteam, readiness;
  std::vector<std::pair<std::string, std::function<int()>>> controls, staged;
  if (!only_run) {
    profile = tierbox::cli::add_profile_command(app, common);
    daemon = tierbox::cli::add_daemon_command(app, common);
    gc = tierbox::cli::add_gc_command(app, common);
    isolate_network = tierbox::cli::add_isolate_network_command(app, common);
    controls = tierbox::cli::add_control_commands(app, common);
    audit = tierbox::cli::add_audit_command(app, common);
    approvals = tierbox::cli::add_approval_commands(app, common);
    grants = tierbox::cli::add_grant_commands(app, common, command);
    staged = tierbox::cli::add_staged_commands(app, common);
    redteam = tierbox::cli::add_redteam_command(app, common);
    readiness = tierbox::cli::add_readiness_command(app, common);
    app.add_subcommand("rootfs", "Root filesystem images: build, import, list, verify, remove (tierbox rootfs --help)");
    app.add_subcommand("oci", "The OCI runtime command line for container engines (tierbox oci --help; docs/kubernetes.md)");
  }
  try {
    std::reverse(options.begin(), options.end());  // CLI11 takes them last-first
    app.parse(options);
    refuse_empty_values(app);
  } catch (const CLI::ParseError& error) {
    // --help and --version are "errors" with status 0: CLI11 prints them.
    if (error.get_exit_code() == 0) return app.exit(error);
    return usage_error(app, error);
  }
  try {
    if (app.got_subcommand("run")) return run();
    if (only_run) return tierbox::exit_code::runner_failed;
    if (app.got_subcommand("profile")) return profile();
    if (app.got_subcommand("daemon")) return daemon();
    if (app.got_subcommand("gc")) return gc();
    if (app.got_subcommand("isolate-network")) return isolate_network();
    for (const auto& [name, handler] : controls)
      if (app.got_subcommand(name)) return handler();
    for (const auto& [name, handler] : staged)
      if (app.got_subcommand(name)) return handler();
    if (app.got_subcommand("audit")) return audit();
    if (app.got_subcommand("approvals") || app.got_subcommand("approve") || app.got_subcommand("deny")) return approvals();
    if (app.got_subcommand("grant") || app.got_subcommand("keys")) return grants();
    if (app.got_subcommand("redteam")) return redteam();
    if (app.got_subcommand("readiness")) return readiness();
  } catch (const tierbox::Error& error) {
    std::fprintf(stderr, "tierbox: %s\n", error.what());
    return error.exit_status();
  } catch (const std::exception& error) {
    std::fprintf(stderr, "tierbox: internal error: %s\n", error.what());
    return tierbox::exit_code::runner_failed;
  }
  return tierbox::exit_code::runner_failed;
}
