#include <fcntl.h>
#include <unistd.h>

#include <charconv>
#include <cstdlib>

#include "cli/commands.h"
#include "common/errors.h"
#include "common/files.h"
#include "common/json_bytes.h"
#include "common/logging.h"
#include "common/process_info.h"
#include "common/run_id.h"
#include "common/unique_fd.h"
#include "common/units.h"
#include "common/users.h"
#include "common/unique_fd.h"
#include "launch/result.h"
#include "policy/approval_matrix.h"
#include "policy/plan_summary.h"
#include "policy/planner.h"
#include "policy/profile_loader.h"
#include "policy/runner_config.h"
#include "service/pooled_launcher.h"
#include "daemon/client.h"
#include "service/dry_run_report.h"
#include "service/run_task.h"
#include "service/task_options.h"


namespace tierbox::cli {
namespace {

struct RunOptions {
  std::string tier;
  std::string profile;
  std::string workspace;
  std::string timeout;
  std::string result_file;
  std::string cgroup_parent;
  std::vector<std::string> env;
  std::vector<int> pass_fds;
  std::vector<std::string> secrets;
  std::vector<std::string> command;
  bool allow_expired_tier = false;
  // Governance (docs/governance.md).
  std::string audit_log;
  std::string grant_file;
  bool dry_run = false;
  // Widening (policy/widening.h): each needs the tier's `widening`.
  std::vector<std::string> binds;
  std::vector<std::string> binds_rw;
  std::vector<std::string> allow_net;
  std::string memory;
  std::string pids;
  std::string cpu;
};


// Reads a secret's value from fd to EOF, at most limit + 1 bytes (the
// planner refuses what is over the limit).
std::string read_secret(int fd, const std::string& what) {
  std::string value;
  char buffer[8192];
  while (value.size() <= policy::kMaxSecretBytes) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_sys_error("read(" + what + ")");
    if (n == 0) break;
    value.append(buffer, static_cast<std::size_t>(n));
  }
  return value;
}

// "NAME=@FILE" or "NAME=fd:N". A value on the command line itself is
// refused: every user of the machine can read it in /proc/PID/cmdline.
std::pair<std::string, std::string> parse_secret(const std::string& setting) {
  const auto equals = setting.find('=');
  const std::string name = setting.substr(0, equals);
  if (equals == std::string::npos || !policy::is_valid_secret_name(name))
    throw Error("--secret " + setting + ": expected NAME=@FILE or NAME=fd:N", exit_code::runner_failed);
  const std::string source = setting.substr(equals + 1);
  if (source.rfind('@', 0) == 0) {
    const std::string path = source.substr(1);
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
    if (!fd) throw_sys_error("--secret " + name + ": open(" + quote(path) + ")");
    return {name, read_secret(fd.get(), quote(path))};
  }
  if (source.rfind("fd:", 0) == 0) {
    char* end = nullptr;
    const long fd = std::strtol(source.c_str() + 3, &end, 10);
    if (*end != '\0' || end == source.c_str() + 3 || fd < 0 || fd > 1 << 20)
      throw Error("--secret " + name + ": expected fd:N with N a number, got " + quote(source), exit_code::runner_failed);
    return {name, read_secret(static_cast<int>(fd), "fd " + std::to_string(fd))};
  }
  throw Error("--secret " + name + ": a value is never taken from the command line, where any user can read it "
              "(fix: --secret " + name + "=@FILE or " + name + "=fd:N)",
              exit_code::runner_failed);
}

// SUDO_UID, believed only when the caller is root (see policy/request.h).
std::optional<uid_t> sudo_uid_of_root_caller(uid_t caller_uid) {
  const char* text = std::getenv("SUDO_UID");
  if (caller_uid != 0 || !text || !*text) return std::nullopt;
  char* end = nullptr;
  const unsigned long value = std::strtoul(text, &end, 10);
  if (*end != '\0' || value == 0 || value >= 0xffffffffUL) return std::nullopt;
  return static_cast<uid_t>(value);
}

policy::ExtraBind parse_bind(const std::string& text, bool writable) {
  const auto colon = text.find(':');
  const std::string flag = writable ? "--bind-rw " : "--bind ";
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size())
    throw Error(flag + text + ": expected SOURCE:TARGET (e.g. /srv/data:/data)", exit_code::runner_failed);
  return {text.substr(0, colon), text.substr(colon + 1), writable};
}

service::TypedOptions typed_options(const RunOptions& options) {
  service::TypedOptions typed;
  typed.timeout = options.timeout;
  for (const auto& setting : options.env) typed.env.push_back(service::split_setting(setting, "--env"));
  for (const auto& bind : options.binds) typed.binds.push_back(parse_bind(bind, false));
  for (const auto& bind : options.binds_rw) typed.binds.push_back(parse_bind(bind, true));
  typed.allow_net = options.allow_net;
  typed.memory = options.memory;
  typed.pids = options.pids;
  typed.cpu = options.cpu;
  return typed;
}

policy::TaskRequest make_request(const RunOptions& options) {
  policy::TaskRequest request;
  service::apply_typed_options(typed_options(options), request);
  if (!options.tier.empty()) request.tier = options.tier;
  if (!options.profile.empty()) request.profile_file = options.profile;
  if (!options.workspace.empty()) request.workspace = options.workspace;
  if (!options.cgroup_parent.empty()) request.cgroup_parent = options.cgroup_parent;
  request.pass_fds = options.pass_fds;
  for (const auto& setting : options.secrets) request.secrets.push_back(parse_secret(setting));
  request.argv = options.command;
  request.allow_expired_tier = options.allow_expired_tier;
  request.caller_env = environment_of_this_process();
  request.caller.uid = ::getuid();
  request.caller.gid = ::getgid();
  request.caller.user_name = user_name(request.caller.uid);
  if (const char* sudo_user = std::getenv("SUDO_USER")) request.caller.sudo_user = sudo_user;
  request.caller.sudo_uid = sudo_uid_of_root_caller(request.caller.uid);
  std::error_code ec;
  request.caller_cwd = std::filesystem::current_path(ec);
  return request;
}

// Opened before anything runs: a result that cannot be written is an error
// before the task starts, not after. 0600: argv may hold secrets.
// O_NONBLOCK: a FIFO without a reader fails at once (ENXIO) instead of
// blocking the open forever; a pipe the caller passes as /dev/fd/N has its
// reader, and the flag is cleared again so that writes wait for it.
UniqueFd open_result_file(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NONBLOCK, 0600));
  if (!fd) {
    const int error = errno;
    throw Error("--result " + quote(path) + ": " + errno_text(error) +
                    (error == ENXIO ? " (a FIFO nobody reads; fix: start its reader first, or pass a file)"
                                    : " (fix: pass a writable file or /dev/fd/N)"),
                exit_code::runner_failed);
  }
  const int flags = ::fcntl(fd.get(), F_GETFL);
  if (flags < 0 || ::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK) != 0)
    throw Error("--result " + quote(path) + ": fcntl(F_SETFL): " + errno_text(errno), exit_code::runner_failed);
  return fd;
}

// The result, written whole; "" when written (or none was asked for), else
// why not.
std::string write_result(const UniqueFd& fd, const launch::ResultContext& context, const launch::Outcome& outcome) {
  if (!fd) return "";
  const auto text = utf8_safe(launch::make_result(context, outcome)).dump() + "\n";
  try {
    write_all(fd.get(), text, "--result");
  } catch (const Error& error) {
    return error.what();
  }
  return "";
}

// `run --dry-run`: the plan summary and what the matrix requires; nothing is
// launched, filed or recorded.
int print_dry_run(const service::DryRun& dry_run) {
  const auto report = service::dry_run_report(dry_run);
  std::fputs(report.text.c_str(), stdout);
  return report.exit_status;
}

// --pass-fd N must be an fd the caller gave tierbox: open, and not
// close-on-exec (every fd that came through execve is not; every fd tierbox
// opens itself is, such as the --result file, which may have taken a number
// the caller left free). Checked here, before either path uses the number.
void check_passed_fds_are_the_callers(const std::vector<int>& pass_fds) {
  for (int fd : pass_fds) {
    if (fd <= 2) continue;  // refused with its fix by the planner
    const std::string flag = "--pass-fd " + std::to_string(fd);
    const int flags = ::fcntl(fd, F_GETFD);
    if (flags < 0)
      throw Error(flag + ": not an open file descriptor of the caller (fix: open it in the calling shell, e.g. " +
                      std::to_string(fd) + "<file)",
                  exit_code::runner_failed);
    if (flags & FD_CLOEXEC)
      throw Error(flag + ": not a file descriptor the caller passed (it is tierbox's own; fix: open it in the calling "
                         "shell, e.g. " + std::to_string(fd) + "<file)",
                  exit_code::runner_failed);
  }
}

// Not root: the run goes through the daemon (docs/daemon.md), with the same
// options, exit status and stdio. What only root may choose (a profile file,
// config directories, the audit log, a cgroup parent) is refused here, as are
// the options this version of the protocol does not carry yet.
int run_through_daemon(const RunOptions& options, const CommonOptions& common, const UniqueFd& result_fd) {
  const auto refuse = [](const std::string& option, const std::string& why) {
    throw Error("run " + option + ": " + why + " (fix: leave it out, or run as root)", exit_code::runner_failed);
  };
  if (!options.profile.empty()) refuse("--profile", "a caller who is not root runs named tiers only");
  const char* config_env = std::getenv("TIERBOX_CONFIG_DIR");
  if (!common.config_dir.empty() || (config_env && *config_env))
    refuse("--config-dir", "the daemon's configuration is root's to choose");
  if (!options.audit_log.empty()) refuse("--audit-log", "the daemon's audit log is root's to choose");
  if (!options.cgroup_parent.empty()) refuse("--cgroup-parent", "the daemon's cgroups are root's to choose");
  if (options.dry_run && !options.grant_file.empty())
    throw Error("--dry-run and --grant exclude each other (a dry run uses no grant)", exit_code::runner_failed);
  daemon::ClientRequest request;
  auto& message = request.message;
  message.tier = options.tier;
  message.argv = options.command;
  if (message.argv.empty()) throw Error("run: no command given (usage: tierbox run [OPTIONS] [--] COMMAND [ARGS...])", exit_code::runner_failed);
  std::error_code ec;
  message.cwd = std::filesystem::current_path(ec).string();
  message.caller_env = environment_of_this_process();
  for (const auto& setting : options.env) message.env_overrides.push_back(service::split_setting(setting, "--env"));
  // Secret files are read here, with the caller's rights.
  for (const auto& setting : options.secrets) message.secrets.push_back(parse_secret(setting));
  if (!options.timeout.empty()) message.timeout = options.timeout;
  if (!options.memory.empty()) message.memory = options.memory;
  if (!options.pids.empty()) message.pids = options.pids;
  if (!options.cpu.empty()) message.cpu = options.cpu;
  message.allow_net = options.allow_net;
  message.allow_expired_tier = options.allow_expired_tier;
  message.dry_run = options.dry_run;
  if (!options.grant_file.empty()) {
    message.grant_name = options.grant_file;
    message.grant = daemon::read_grant_as_caller(options.grant_file);
  }
  // Their sources are opened by the client, as the caller, and passed as fds.
  for (const auto* list : {&options.binds, &options.binds_rw})
    for (const auto& text : *list) {
      const auto bind = parse_bind(text, list == &options.binds_rw);
      message.binds.push_back({bind.source, bind.target, bind.writable});
    }
  // Sent as they are (SCM_RIGHTS); the daemon's child puts each at its number.
  message.pass_fds = options.pass_fds;
  if (!options.workspace.empty()) request.workspace = options.workspace;
  const auto outcome = daemon::run_through_daemon(daemon::client_socket_path(), std::move(request));
  // The daemon wrote the plan to our stdout; a dry run writes no result,
  // as a direct one.
  if (outcome.dry_run) {
    if (outcome.runner_error) throw Error(outcome.error, outcome.exit_status);
    return outcome.exit_status;
  }
  std::string failed;
  if (result_fd) {
    try {
      write_all(result_fd.get(), utf8_safe(outcome.result).dump() + "\n", "--result");
    } catch (const Error& error) {
      failed = error.what();
    }
  }
  if (outcome.runner_error)
    throw Error(failed.empty() ? outcome.error : outcome.error + "; " + failed, outcome.exit_status);
  if (!outcome.error.empty()) std::fprintf(stderr, "tierbox: %s\n", outcome.error.c_str());
  int status = outcome.exit_status;
  if (!failed.empty()) {
    std::fprintf(stderr, "tierbox: the result could not be written: %s (the task's exit status was %d)\n", failed.c_str(), status);
    if (status == 0) status = exit_code::runner_failed;
  }
  return status;
}

int run(const RunOptions& options, const CommonOptions& common) {
  logging::configure(common.verbose);
  logging::step("tierbox started");
  const auto result_fd = options.result_file.empty() ? UniqueFd() : open_result_file(options.result_file);
  check_passed_fds_are_the_callers(options.pass_fds);
  if (::geteuid() != 0) return run_through_daemon(options, common, result_fd);
  service::TaskInput input{options.tier, options.profile, options.command, [&options] { return make_request(options); }};
  service::RunSettings settings;
  try {
    const auto dirs = search_dirs(common);
    settings.config_dirs.assign(dirs.begin(), dirs.end());
  } catch (const Error& error) {
    // A bad --config-dir: the caller's result still says so.
    const launch::ResultContext context{new_run_id(), "", options.command, {}, error.exit_status(), error.what()};
    const auto failed = write_result(result_fd, context, launch::Outcome{});
    throw Error(failed.empty() ? context.error : context.error + "; " + failed, error.exit_status());
  }
  settings.audit_log = options.audit_log;
  settings.grant_file = options.grant_file;
  settings.dry_run = options.dry_run;
  service::SandboxLauncher sandbox_launcher;
  service::PreparedLaunchPath prepared_launch_path;  // tests only (docs/testing.md)
  const char* prepared_path = std::getenv(service::PreparedLaunchPath::kEnvironment);
  service::Launcher& launcher = prepared_path && std::string(prepared_path) == "1"
                                    ? static_cast<service::Launcher&>(prepared_launch_path)
                                    : sandbox_launcher;
  const auto result = service::run_task(input, settings, launcher);
  if (result.dry_run) return print_dry_run(*result.dry_run);
  const auto failed = write_result(result_fd, result.context, result.outcome);
  if (result.runner_error) {
    // main() prints the line; the result said it already.
    throw Error(failed.empty() ? result.context.error : result.context.error + "; " + failed, result.exit_status());
  }
  int status = result.exit_status();
  if (!failed.empty()) {
    // The caller reads the result, and it is not there: never a success.
    logging::error("the result could not be written: {} (the task's exit status was {})", failed,
                   result.outcome.exit_status());
    if (status == 0) status = exit_code::runner_failed;
  }
  logging::step("exit status {}", status);
  return status;
}

}  // namespace

std::function<int()> add_run_command(CLI::App& app, CommonOptions& common,
                                     const std::vector<std::string>& command_after_dashes) {
  auto options = std::make_shared<RunOptions>();
  auto* run_app = app.add_subcommand("run", "Run a command in a sandbox of a tier");
  run_app->add_option("--tier", options->tier, "Tier name, looked up in the config directories (default: untrusted)");
  run_app->add_option("--profile", options->profile, "Run with this profile file instead of a named tier");
  run_app->add_option("--workspace", options->workspace, "Directory bound at the tier's workspace target; the task starts there");
  run_app->add_option("--timeout", options->timeout, "Wall-clock limit (seconds, or 30s/5m/1h); may only shorten the tier's");
  run_app->add_option("--env", options->env, "NAME=VALUE for the task; only names the tier's environment.allow lists");
  run_app->add_option("--result", options->result_file,
                      "Write the run's result (exit, usage, limits) as one JSON object to FILE (may be /dev/fd/N)");
  run_app->add_option("--cgroup-parent", options->cgroup_parent,
                      "Create the run's cgroups below PATH: relative (jobs) to the runner's own cgroup or the "
                      "configured cgroup_parent, or absolute (as in /proc/self/cgroup) inside one of them");
  run_app->add_option("--pass-fd", options->pass_fds,
                       "Pass this open fd (3 or more) to the task at the same number; the tier's pass_fds says how many");
  run_app->add_option("--secret", options->secrets,
                       "NAME=@FILE or NAME=fd:N: a secret the task reads from the tier's secrets directory");
  run_app->add_option("--config-dir", common.config_dir, "Look for tiers/ and tierbox.json here first");
  run_app->add_flag("-v,--verbose", common.verbose, "Print each launch step with its timing on stderr");
  run_app->add_flag("--allow-expired-tier", options->allow_expired_tier,
                    "Run although the tier is past its review_by date (recorded as an override in the run record)");
  run_app->add_option("--audit-log", options->audit_log,
                      "Append the run's audit records to FILE (default: $TIERBOX_AUDIT_LOG, tierbox.json audit_log, "
                      "/var/log/tierbox/audit.jsonl)");
  run_app->add_option("--grant", options->grant_file, "Run on a signed grant (tierbox grant) instead of asking a person");
  run_app->add_flag("--dry-run", options->dry_run,
                    "Print the plan summary and the approval rules that apply; launch, file and record nothing");
  run_app->add_option("--bind", options->binds, "SRC:TARGET: an extra read-only bind (the tier's widening.binds)");
  run_app->add_option("--bind-rw", options->binds_rw, "SRC:TARGET: an extra writable bind (widening.binds \"read-write\")");
  run_app->add_option("--allow-net", options->allow_net, "HOST:PORT/PROTO: an extra allowlist destination (widening.network)");
  run_app->add_option("--memory", options->memory, "Memory limit above the tier's, up to widening.limits.memory");
  run_app->add_option("--pids", options->pids, "Pids limit above the tier's, up to widening.limits.pids");
  run_app->add_option("--cpu", options->cpu, "CPU cores above the tier's, up to widening.limits.cpu");
  // The command: everything from its first word on, untouched by option
  // parsing (so `run -- sh -c 'x --tier y'` passes "--tier" to sh).
  run_app->prefix_command();
  run_app->allow_extras();
  run_app->footer("Usage: tierbox run [OPTIONS] [--] COMMAND [ARGS...]");
  return [options, &common, run_app, &command_after_dashes] {
    options->command = run_app->remaining();
    // prefix_command() hands an unknown option (a typo: --timout) over as
    // the command's first word; a command is never an option, so it is a
    // usage error, before anything is launched or recorded.
    if (!options->command.empty() && options->command.front().size() > 1 && options->command.front()[0] == '-')
      throw Error("run: unknown option " + quote(options->command.front()) +
                      " (fix: check the spelling in tierbox run --help; a command that starts with - goes after --)",
                  exit_code::runner_failed);
    options->command.insert(options->command.end(), command_after_dashes.begin(), command_after_dashes.end());
    return run(*options, common);
  };
}

std::vector<std::string> search_dirs(const CommonOptions& common) {
  std::optional<std::filesystem::path> flag;
  if (!common.config_dir.empty()) {
    flag = common.config_dir;
    policy::check_named_config_dir(*flag, "--config-dir");
  }
  if (const char* env = std::getenv("TIERBOX_CONFIG_DIR"); env && *env)
    policy::check_named_config_dir(env, "TIERBOX_CONFIG_DIR");
  std::vector<std::string> dirs;
  for (const auto& dir : policy::config_search_dirs(flag, std::getenv("TIERBOX_CONFIG_DIR"), "/etc/tierbox",
                                                    TIERBOX_SHIPPED_PROFILES))
    dirs.push_back(dir.string());
  return dirs;
}

}  // namespace tierbox::cli
