#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>

#include "cli/commands.h"
#include "common/errors.h"
#include "common/logging.h"
#include "common/run_id.h"
#include "common/unique_fd.h"
#include "common/units.h"
#include "common/users.h"
#include "common/unique_fd.h"
#include "launch/launcher.h"
#include "launch/result.h"
#include "policy/host_facts.h"
#include "policy/data_classes.h"
#include "policy/planner.h"
#include "policy/profile_loader.h"
#include "policy/runner_config.h"

extern char** environ;

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
};

std::map<std::string, std::string> caller_environment() {
  std::map<std::string, std::string> env;
  for (char** entry = environ; entry && *entry; ++entry) {
    std::string_view text(*entry);
    auto equals = text.find('=');
    if (equals == std::string_view::npos) continue;
    env.emplace(std::string(text.substr(0, equals)), std::string(text.substr(equals + 1)));
  }
  return env;
}

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

policy::TaskRequest make_request(const RunOptions& options) {
  policy::TaskRequest request;
  if (!options.tier.empty()) request.tier = options.tier;
  if (!options.profile.empty()) request.profile_file = options.profile;
  if (!options.workspace.empty()) request.workspace = options.workspace;
  if (!options.timeout.empty()) {
    auto timeout = parse_duration(options.timeout);
    if (!timeout) throw Error("--timeout " + options.timeout + ": expected seconds or a duration such as 30s, 5m", exit_code::runner_failed);
    request.timeout = *timeout;
  }
  for (const auto& setting : options.env) {
    auto equals = setting.find('=');
    if (equals == std::string::npos || equals == 0)
      throw Error("--env " + setting + ": expected NAME=VALUE", exit_code::runner_failed);
    request.env_overrides.emplace_back(setting.substr(0, equals), setting.substr(equals + 1));
  }
  if (!options.cgroup_parent.empty()) request.cgroup_parent = options.cgroup_parent;
  request.pass_fds = options.pass_fds;
  for (const auto& setting : options.secrets) request.secrets.push_back(parse_secret(setting));
  request.argv = options.command;
  request.allow_expired_tier = options.allow_expired_tier;
  request.caller_env = caller_environment();
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
UniqueFd open_result_file(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd)
    throw Error("--result " + quote(path) + ": " + errno_text(errno) + " (fix: pass a writable file or /dev/fd/N)",
                exit_code::runner_failed);
  return fd;
}

void write_result(const UniqueFd& fd, const launch::ResultContext& context, const launch::Outcome& outcome) {
  if (!fd) return;
  const auto text = launch::make_result(context, outcome).dump() + "\n";
  std::size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = ::write(fd.get(), text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      logging::error("--result: write: {}", errno_text(errno));
      return;
    }
    written += static_cast<std::size_t>(n);
  }
}

int run(const RunOptions& options, const CommonOptions& common) {
  logging::configure(common.verbose);
  logging::step("tierbox started");
  const auto result_fd = options.result_file.empty() ? UniqueFd() : open_result_file(options.result_file);
  launch::ResultContext context;
  context.argv = options.command;
  context.run_id = new_run_id();
  launch::Outcome outcome;
  std::chrono::milliseconds wall_time{0};
  try {
    const auto dirs_text = search_dirs(common);
    const std::vector<std::filesystem::path> dirs(dirs_text.begin(), dirs_text.end());
    const auto config = policy::load_runner_config(dirs);
    if (!options.tier.empty() && !options.profile.empty())
      throw Error("--tier and --profile exclude each other (fix: pass one)", exit_code::runner_failed);
    const auto profile = options.profile.empty()
                             ? policy::load_tier(options.tier.empty() ? config.default_tier : options.tier, dirs)
                             : policy::load_profile_file(options.profile, dirs);
    logging::step("profile loaded: {} (sha256 {})", profile.file.string(), profile.sha256.substr(0, 12));
    context.tier = profile.name;
    const auto inventory = policy::load_data_classes(dirs);
    const auto request = make_request(options);
    const policy::LinuxHostView host;
    const auto facts = policy::gather_host_facts(request, profile, inventory, host);
    logging::step("host facts gathered ({} entries scanned for data classes)", facts.data_access.entries_scanned);
    const auto plan = policy::make_plan(profile, request, facts, context.run_id);
    for (const auto& override_text : plan.overrides) logging::warn("{}", override_text);
    context.rlimits = plan.rlimits;
    wall_time = plan.wall_time;
    outcome = launch::launch(plan, config);
  } catch (const Error& error) {
    // The caller's result still says what happened (and main() prints it).
    context.exit_status = error.exit_status();
    context.error = error.what();
    write_result(result_fd, context, outcome);
    throw;
  }
  context.exit_status = outcome.exit_status();
  if (!outcome.failure.empty()) context.error = outcome.failure;
  if (outcome.timed_out)
    context.error = "the task exceeded its wall-clock limit of " + format_duration(wall_time) + " and was killed";
  if (!context.error.empty()) logging::error("{}", context.error);
  write_result(result_fd, context, outcome);
  logging::step("exit status {}", outcome.exit_status());
  return outcome.exit_status();
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
  // The command: everything from its first word on, untouched by option
  // parsing (so `run -- sh -c 'x --tier y'` passes "--tier" to sh).
  run_app->prefix_command();
  run_app->allow_extras();
  run_app->footer("Usage: tierbox run [OPTIONS] [--] COMMAND [ARGS...]");
  return [options, &common, run_app, &command_after_dashes] {
    options->command = run_app->remaining();
    options->command.insert(options->command.end(), command_after_dashes.begin(), command_after_dashes.end());
    return run(*options, common);
  };
}

std::vector<std::string> search_dirs(const CommonOptions& common) {
  std::optional<std::filesystem::path> flag;
  if (!common.config_dir.empty()) flag = common.config_dir;
  std::vector<std::string> dirs;
  for (const auto& dir : policy::config_search_dirs(flag, std::getenv("TIERBOX_CONFIG_DIR"), "/etc/tierbox",
                                                    TIERBOX_SHIPPED_PROFILES))
    dirs.push_back(dir.string());
  return dirs;
}

}  // namespace tierbox::cli
