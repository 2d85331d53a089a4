// The incident-response commands: ps, stop, kill, freeze, thaw, isolate,
// panic (docs/incident-response.md). Root acts on a run directly (it may do
// everything, and reads the root-only registry); any other user asks the
// run's runner over its control socket, which decides from the kernel's
// SO_PEERCRED who is asking. Either way every action but ps is audited.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <functional>

#include "audit/audit_log.h"
#include "cli/commands.h"
#include "common/errors.h"
#include "common/json_bytes.h"
#include "common/logging.h"
#include "common/rfc3339.h"
#include "common/users.h"
#include "control/control_protocol.h"
#include "control/control_state.h"
#include "control/run_control.h"
#include "policy/runner_config.h"

namespace tierbox::cli {
namespace {

using policy::ControlAction;
using namespace std::chrono_literals;

struct ControlOptions {
  std::string run_id;
  std::string audit_log;
  double grace_seconds = 10;
  bool json = false;
  bool kill = false;
};

struct Context {
  policy::RunnerConfig config;
  launch::RunRegistry registry;
  std::filesystem::path audit_log;
};

Context load_context(const CommonOptions& common, const ControlOptions& options) {
  logging::configure(common.verbose);
  const auto dirs_text = search_dirs(common);
  const std::vector<std::filesystem::path> dirs(dirs_text.begin(), dirs_text.end());
  auto config = policy::load_runner_config(dirs);
  launch::RunRegistry registry(config.state_dir);
  auto log = audit::audit_log_path(options.audit_log, config.audit_log);
  return {std::move(config), std::move(registry), std::move(log)};
}

// Who runs this command: the kernel's uid; SUDO_USER is information only.
nlohmann::json caller_identity() {
  const uid_t uid = ::getuid();
  const char* sudo_user = std::getenv("SUDO_USER");
  return {{"uid", uid},
          {"name", user_name(uid)},
          {"sudo_user", sudo_user && *sudo_user ? nlohmann::json(sudo_user) : nlohmann::json()}};
}

std::chrono::milliseconds grace_of(const ControlOptions& options) {
  if (!(options.grace_seconds >= 0) || options.grace_seconds > 86400)
    throw Error("--grace " + std::to_string(options.grace_seconds) + ": expected seconds between 0 and 86400",
                exit_code::runner_failed);
  return std::chrono::milliseconds(static_cast<long long>(options.grace_seconds * 1000));
}

// --- root: directly --------------------------------------------------------

// Carries out request on one run, as root; returns the line to print.
std::string act_as_root(const Context& context, const launch::RunRecord& record, const launch::ControlRequest& request) {
  const auto& registry = context.registry;
  switch (request.action) {
    case ControlAction::stop: {
      launch::update_control_state(registry, record.run_id, [](launch::ControlState& state) {
        state.stopping_since = rfc3339_utc(std::chrono::system_clock::now());
      });
      auto line = launch::stop_run(record, request.grace);
      // The runner removes the cgroups and network once init is gone.
      if (!launch::wait_until_over(registry, record.run_id, 10s))
        line += " (its runner has not finished cleaning up yet)";
      return line;
    }
    case ControlAction::kill: {
      auto line = launch::kill_run(record);
      if (!launch::wait_until_over(registry, record.run_id, 10s)) line += " (its runner has not finished cleaning up yet)";
      return line;
    }
    case ControlAction::freeze: return launch::freeze_run(record);
    case ControlAction::thaw: return launch::thaw_run(record);
    case ControlAction::isolate: {
      auto line = launch::isolate_run(registry, record);
      launch::update_control_state(registry, record.run_id, [](launch::ControlState& state) { state.isolated = true; });
      return line;
    }
    case ControlAction::panic: {
      if (request.kill) return launch::kill_run(record);
      // Frozen first: a task that cannot run cannot react to losing its
      // network. Each is tried even when the other fails.
      std::string done, failed;
      const auto attempt = [&](const std::function<std::string()>& action) {
        try {
          done += (done.empty() ? "" : "; ") + action();
        } catch (const Error& error) {
          failed += (failed.empty() ? "" : "; ") + std::string(error.what());
        }
      };
      attempt([&] { return launch::freeze_run(record); });
      attempt([&] {
        auto line = launch::isolate_run(registry, record);
        launch::update_control_state(registry, record.run_id, [](launch::ControlState& state) { state.isolated = true; });
        return line;
      });
      if (!failed.empty()) throw Error(failed + (done.empty() ? "" : " (done: " + done + ")"), exit_code::runner_failed);
      return done;
    }
    case ControlAction::status: break;
  }
  throw Error("internal: no direct action for status", exit_code::runner_failed);
}

// The audit record is written after the action: an incident-response action
// is never held back, but a missing record is an error the caller sees.
void audit_control(const Context& context, const std::string& action, const std::string& run_id,
                   const std::string& result) {
  audit::AuditLog(context.audit_log)
      .append(launch::control_audit_event(action, run_id, result, caller_identity()));
}

// One action on one run as root, audited; false when it failed.
bool control_one_as_root(const Context& context, const launch::RunRecord& record, const launch::ControlRequest& request) {
  const std::string action = policy::to_string(request.action);
  std::string result = "ok";
  std::string line;
  try {
    line = act_as_root(context, record, request);
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
  } catch (const Error& error) {
    result = error.what();
    std::fprintf(stderr, "tierbox: %s: %s\n", action.c_str(), result.c_str());
  }
  // What ps shows under "actions"; not for stop and kill, whose run (and
  // its control state with it) is gone by now.
  if (request.action != ControlAction::stop && request.action != ControlAction::kill &&
      !(request.action == ControlAction::panic && request.kill)) {
    try {
      launch::update_control_state(context.registry, record.run_id, [&](launch::ControlState& state) {
        state.actions.push_back(launch::control_action_entry(action, caller_identity(), result == "ok" ? "ok" : "failed",
                                                             result == "ok" ? line : result));
      });
    } catch (const Error& error) {
      logging::warn("{}: run {}: control state not updated: {}", action, record.run_id, error.what());
    }
  }
  try {
    audit_control(context, action, record.run_id, result);
  } catch (const Error& error) {
    std::fprintf(stderr, "tierbox: %s: run %s: %s\n", action.c_str(), record.run_id.c_str(), error.what());
    return false;
  }
  return result == "ok";
}

// --- others: through the run's control socket ------------------------------

nlohmann::json ask(const Context& context, const std::string& run_id, const launch::ControlRequest& request) {
  const auto timeout = request.action == ControlAction::status ? 5s : 30s;
  return launch::ask_runner(context.registry, run_id, request, timeout);
}

// The run ids a user who is not root can see: those with a control socket.
std::string resolve_without_registry(const Context& context, const std::string& prefix) {
  return launch::resolve_run_id(launch::runs_with_control_sockets(context.registry), prefix);
}

int control_one_via_socket(const Context& context, const std::string& run_id, const launch::ControlRequest& request) {
  const auto reply = ask(context, run_id, request);
  const auto result = reply.value("result", "failed");
  const auto detail = reply.value("detail", "");
  if (result == "denied") throw Error(detail, exit_code::refused);
  if (result != "ok") throw Error(detail, exit_code::runner_failed);
  std::printf("%s\n", detail.c_str());
  if (request.action == ControlAction::stop || request.action == ControlAction::kill) {
    // The runner kills after the grace period, then cleans up and exits.
    if (!launch::wait_until_socket_gone(context.registry, run_id, request.grace + 15s))
      std::printf("run %s: its runner has not finished yet\n", run_id.c_str());
  }
  return 0;
}

// --- the commands ------------------------------------------------------------

int control(const CommonOptions& common, const ControlOptions& options, ControlAction action) {
  const auto context = load_context(common, options);
  launch::ControlRequest request;
  request.action = action;
  if (action == ControlAction::stop) request.grace = grace_of(options);
  if (::getuid() != 0) return control_one_via_socket(context, resolve_without_registry(context, options.run_id), request);
  const auto listed = launch::find_run(context.registry, options.run_id);
  return control_one_as_root(context, listed.record, request) ? 0 : exit_code::runner_failed;
}

int panic(const CommonOptions& common, const ControlOptions& options) {
  const auto context = load_context(common, options);
  launch::ControlRequest request;
  request.action = ControlAction::panic;
  request.kill = options.kill;
  int failures = 0;
  int refusals = 0;
  int count = 0;
  if (::getuid() == 0) {
    for (const auto& listed : context.registry.list()) {
      if (!listed.runner_alive || listed.record.sandbox_pid <= 0) continue;
      ++count;
      if (!control_one_as_root(context, listed.record, request)) ++failures;
    }
  } else {
    for (const auto& run_id : launch::runs_with_control_sockets(context.registry)) {
      ++count;
      try {
        control_one_via_socket(context, run_id, request);
      } catch (const Error& error) {
        std::fprintf(stderr, "tierbox: panic: run %s: %s\n", run_id.c_str(), error.what());
        ++failures;
        refusals += error.exit_status() == exit_code::refused;
      }
    }
  }
  std::printf("panic: %d run(s), %d failed\n", count, failures);
  if (failures == 0) return 0;
  return refusals == failures ? exit_code::refused : exit_code::runner_failed;
}

std::string human_bytes(const nlohmann::json& bytes) {
  if (!bytes.is_number()) return "-";
  const double value = bytes.get<double>();
  char text[32];
  if (value >= 1 << 30) std::snprintf(text, sizeof text, "%.1fG", value / (1 << 30));
  else if (value >= 1 << 20) std::snprintf(text, sizeof text, "%.1fM", value / (1 << 20));
  else std::snprintf(text, sizeof text, "%.0fK", value / 1024);
  return text;
}

std::string human_runtime(const nlohmann::json& millis) {
  if (!millis.is_number()) return "-";
  const long long seconds = millis.get<long long>() / 1000;
  char text[32];
  if (seconds >= 3600) std::snprintf(text, sizeof text, "%lldh%02lldm", seconds / 3600, seconds / 60 % 60);
  else std::snprintf(text, sizeof text, "%lldm%02llds", seconds / 60, seconds % 60);
  return text;
}

void print_table(const nlohmann::json& rows) {
  std::printf("%-16s %-12s %-10s %-16s %-9s %5s %7s %-8s %8s  %s\n", "RUN ID", "TIER", "REQUESTER", "STATE", "NETWORK",
              "PIDS", "MEM", "STARTED", "RUNTIME", "COMMAND");
  for (const auto& row : rows) {
    std::string command;
    for (const auto& word : row.value("argv", nlohmann::json::array())) command += (command.empty() ? "" : " ") + bytes_from_json(word).value_or("?");
    // The caller chose the command line: spelled out, so no escape sequence
    // in it rewrites what an incident responder reads.
    command = printable(command);
    if (command.size() > 60) command = command.substr(0, 57) + "...";
    const auto pids = row["pids"].is_number() ? std::to_string(row["pids"].get<long long>()) : "-";
    // started_at is RFC 3339 UTC: its time of day (UTC) is enough beside the runtime.
    const auto started_at = row.value("started_at", "");
    const auto started = started_at.size() >= 19 ? started_at.substr(11, 8) : "-";
    std::printf("%-16s %-12s %-10s %-16s %-9s %5s %7s %-8s %8s  %s\n", row.value("run_id", "").c_str(),
                row.value("tier", "").c_str(), row["requester"].is_string() ? printable(row["requester"].get<std::string>()).c_str() : "",
                row.value("state", "").c_str(), row.value("network_mode", "").c_str(), pids.c_str(),
                human_bytes(row["mem_bytes"]).c_str(), started.c_str(), human_runtime(row["runtime_ms"]).c_str(),
                command.c_str());
  }
}

nlohmann::json ps_rows(const Context& context) {
  nlohmann::json rows = nlohmann::json::array();
  if (::getuid() == 0) {
    for (const auto& listed : context.registry.list()) {
      // A dead runner that left only its lock file has nothing to show (no
      // tier, no command): a blank row; `tierbox gc` removes the file.
      if (!listed.runner_alive && !listed.has_record) continue;
      launch::RunFigures figures;
      if (listed.runner_alive) {
        try {
          figures = launch::run_figures(listed.record);
        } catch (const Error& error) {
          logging::warn("ps: run {}: {}", listed.record.run_id, error.what());
        }
      }
      rows.push_back(launch::describe_run(listed, launch::read_control_state(context.registry, listed.record.run_id), figures));
    }
    return rows;
  }
  // Not root: the runs whose runner tells this user about them.
  launch::ControlRequest status;
  for (const auto& run_id : launch::runs_with_control_sockets(context.registry)) {
    try {
      const auto reply = ask(context, run_id, status);
      if (reply.value("result", "") == "ok" && reply.contains("run")) rows.push_back(reply["run"]);
    } catch (const Error&) {
      // Ended meanwhile.
    }
  }
  return rows;
}

int ps(const CommonOptions& common, const ControlOptions& options) {
  const auto context = load_context(common, options);
  const auto rows = ps_rows(context);
  if (options.json) std::printf("%s\n", utf8_safe(rows).dump().c_str());
  else print_table(rows);
  return 0;
}

void add_common(CLI::App* command, CommonOptions& common) {
  command->add_option("--config-dir", common.config_dir, "Look for tierbox.json here first");
  command->add_flag("-v,--verbose", common.verbose, "Log each step to stderr");
}

void add_audited(CLI::App* command, ControlOptions& options) {
  command->add_option("--audit-log", options.audit_log,
                      "Append the control event here (default: $TIERBOX_AUDIT_LOG, tierbox.json audit_log, "
                      "/var/log/tierbox/audit.jsonl)");
}

}  // namespace

std::vector<std::pair<std::string, std::function<int()>>> add_control_commands(CLI::App& app, CommonOptions& common) {
  std::vector<std::pair<std::string, std::function<int()>>> handlers;
  auto options = std::make_shared<ControlOptions>();

  auto* ps_app = app.add_subcommand("ps", "List running sandboxes (root: all; others: those they may control)");
  ps_app->add_flag("--json", options->json, "Print a JSON array, one object per run");
  add_common(ps_app, common);
  handlers.emplace_back("ps", [options, &common] { return ps(common, *options); });

  const struct {
    const char* name;
    ControlAction action;
    const char* help;
  } actions[] = {
      {"stop", ControlAction::stop, "SIGTERM to the task; after --grace seconds the whole sandbox is killed"},
      {"kill", ControlAction::kill, "Kill every process of the sandbox at once"},
      {"freeze", ControlAction::freeze, "Stop every process of the sandbox (cgroup freezer) for inspection"},
      {"thaw", ControlAction::thaw, "Let a frozen sandbox run again"},
      {"isolate", ControlAction::isolate, "Cut all network of the sandbox at once (it keeps running or frozen)"},
  };
  for (const auto& entry : actions) {
    auto* command = app.add_subcommand(entry.name, entry.help);
    command->add_option("run", options->run_id, "Run id or a unique prefix of it (tierbox ps lists them)")->required();
    if (entry.action == ControlAction::stop)
      command->add_option("--grace", options->grace_seconds, "Seconds between SIGTERM and the kill (default 10)");
    add_audited(command, *options);
    add_common(command, common);
    const auto action = entry.action;
    handlers.emplace_back(entry.name, [options, &common, action] { return control(common, *options, action); });
  }

  auto* panic_app = app.add_subcommand("panic", "Freeze and isolate every running sandbox on the host");
  panic_app->add_flag("--kill", options->kill, "Kill them instead");
  add_audited(panic_app, *options);
  add_common(panic_app, common);
  handlers.emplace_back("panic", [options, &common] { return panic(common, *options); });
  return handlers;
}

}  // namespace tierbox::cli
