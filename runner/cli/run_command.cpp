#include <fcntl.h>
#include <unistd.h>

#include <charconv>
#include <cstdlib>

#include "approval/gate.h"
#include "audit/audit_log.h"
#include "audit/launch_audit.h"
#include "audit/records.h"
#include "cli/commands.h"
#include "common/errors.h"
#include "common/files.h"
#include "common/json_bytes.h"
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
#include "policy/approval_matrix.h"
#include "policy/plan_summary.h"
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

policy::ExtraBind parse_bind(const std::string& text, bool writable) {
  const auto colon = text.find(':');
  const std::string flag = writable ? "--bind-rw " : "--bind ";
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size())
    throw Error(flag + text + ": expected SOURCE:TARGET (e.g. /srv/data:/data)", exit_code::runner_failed);
  return {text.substr(0, colon), text.substr(colon + 1), writable};
}

void add_widening(const RunOptions& options, policy::TaskRequest& request) {
  for (const auto& bind : options.binds) request.binds.push_back(parse_bind(bind, false));
  for (const auto& bind : options.binds_rw) request.binds.push_back(parse_bind(bind, true));
  request.allow_net = options.allow_net;
  if (!options.memory.empty()) {
    request.memory = parse_size(options.memory);
    if (!request.memory) throw Error("--memory " + options.memory + ": expected a size such as 512M or 2G", exit_code::runner_failed);
  }
  if (!options.pids.empty()) {
    // from_chars, not strtoull: strtoull takes "-1" and wraps it to 2^64-1.
    std::uint64_t pids = 0;
    const auto* end = options.pids.data() + options.pids.size();
    const auto [next, error] = std::from_chars(options.pids.data(), end, pids);
    if (error != std::errc() || next != end || pids == 0)
      throw Error("--pids " + quote(options.pids) + ": expected a positive number", exit_code::runner_failed);
    request.pids = pids;
  }
  if (!options.cpu.empty()) {
    char* end = nullptr;
    const double cores = std::strtod(options.cpu.c_str(), &end);
    if (*end != '\0' || end == options.cpu.c_str() || !(cores > 0) || cores > 4096)
      throw Error("--cpu " + options.cpu + ": expected a number of cores such as 2 or 0.5", exit_code::runner_failed);
    request.cpu_millicores = static_cast<std::uint32_t>(cores * 1000 + 0.5);
  }
}

policy::TaskRequest make_request(const RunOptions& options) {
  policy::TaskRequest request;
  add_widening(options, request);
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

// Paths no sandbox may ever see: the audit log and the governance state.
std::vector<std::string> never_visible(const std::filesystem::path& log, const policy::RunnerConfig& config) {
  std::vector<std::string> paths;
  for (const auto& path : {log, config.approvals_dir, config.governance_dir}) {
    std::error_code ec;
    auto canonical = std::filesystem::weakly_canonical(path, ec);
    paths.push_back(ec ? path.string() : canonical.string());
  }
  return paths;
}

// `run --dry-run`: the plan summary and what the matrix requires; nothing is
// launched, filed or recorded.
int print_dry_run(const policy::LaunchPlan& plan, const policy::ApprovalMatrix& matrix) {
  for (const auto& line : policy::plan_summary_lines(plan)) std::printf("%s\n", line.c_str());
  std::printf("approval matrix: %s\n", matrix.file.c_str());
  if (!policy::matrix_knows_tier(matrix, plan.tier)) {
    std::printf("refused: tier '%s' is not in the approval matrix (tiers)\n", plan.tier.c_str());
    return exit_code::refused;
  }
  const auto decision = policy::evaluate_matrix(matrix, plan);
  for (const auto& matched : decision.matched) {
    std::string because;
    for (const auto& reason : matched.because) because += (because.empty() ? "" : "; ") + reason;
    std::printf("rule '%s' (%s) matches: requires %s (%s)%s\n", matched.rule->id.c_str(), matched.rule->origin.c_str(),
                policy::describe_requirement(matched.rule->require, matched.rule->approvers).c_str(), because.c_str(),
                &matched == decision.deciding ? " [deciding]" : "");
  }
  if (decision.matched.empty()) std::printf("no rule matches\n");
  std::printf("requires: %s\n", decision.describe().c_str());
  return 0;
}

// Records a refused profile or plan; the refusal stands even when the record
// cannot be written (a warning says so).
void record_refusal(const audit::AuditLog& log, const audit::RunContext& context, const Error& error) {
  try {
    (void)log.append(audit::profile_refused_record(context, error.what(), error.exit_status()));
  } catch (const Error& failed) {
    logging::warn("the refusal could not be recorded: {}", failed.what());
  }
}

// The one line tierbox prints about how the task ended, "" when it simply
// exited or was killed by a signal.
std::string task_error(const launch::Outcome& outcome, std::chrono::milliseconds wall_time) {
  if (outcome.timed_out)
    return "the task exceeded its wall-clock limit of " + format_duration(wall_time) + " and was killed";
  return outcome.failure;
}

struct Governed {
  policy::LaunchPlan plan;
  std::string digest;
};

// What `tierbox gc` needs to close the trail of a run whose runner died: the
// log, and the fields every record of the run repeats.
nlohmann::json audit_resource(const std::filesystem::path& log, const policy::RunnerConfig& config,
                              const audit::RunContext& context) {
  return {{"log", log.string()},
          {"syslog", config.audit_syslog},
          {"context",
           {{"run_id", context.run_id},
            {"user", audit::to_json(context.user)},
            {"host", context.host},
            {"tier", context.tier},
            {"argv", context.argv},
            {"cwd", context.cwd}}}};
}

// The approval gate: queues the request, obtains what the matrix requires
// (writing the records a person's answer depends on as it goes) and queues
// the decision. A denial is written at once and thrown (126) with the line
// naming the rule; an allowed launch's records wait for the start record.
void pass_approval_gate(const Governed& governed, const policy::ApprovalMatrix& matrix,
                        const policy::RunnerConfig& config, const std::string& grant_file, audit::LaunchAudit& trail) {
  const auto& plan = governed.plan;
  policy::MatrixDecision matrix_decision;
  try {
    matrix_decision = policy::evaluate_matrix(matrix, plan);
  } catch (const Error& error) {
    record_refusal(trail.log(), trail.context(), error);
    throw;
  }
  trail.queue(audit::request_record(trail.context(), plan, governed.digest, matrix_decision));
  approval::GateRequest gate{&plan, governed.digest, &matrix_decision, trail.context().user, &config, std::nullopt};
  if (!grant_file.empty()) gate.grant_file = grant_file;
  const auto decision = approval::obtain_approval(gate, trail);
  trail.queue(audit::decision_record(trail.context(), decision));
  if (!decision.allowed) {
    trail.flush();
    throw Error(decision.reason, exit_code::refused);
  }
  logging::step("approval: {} ({})", decision.how, decision.reason);
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
  std::optional<audit::LaunchAudit> trail;
  std::string end_failure;  // why the end record could not be written
  try {
    const auto dirs_text = search_dirs(common);
    const std::vector<std::filesystem::path> dirs(dirs_text.begin(), dirs_text.end());
    const auto config = policy::load_runner_config(dirs);
    if (!options.tier.empty() && !options.profile.empty())
      throw Error("--tier and --profile exclude each other (fix: pass one)", exit_code::runner_failed);
    if (options.dry_run && !options.grant_file.empty())
      throw Error("--dry-run and --grant exclude each other (a dry run uses no grant)", exit_code::runner_failed);
    const auto log_path = audit::audit_log_path(options.audit_log, config.audit_log);
    audit::RunContext run_context{context.run_id, audit::current_identity(), audit::host_name(),
                                  options.profile.empty() ? (options.tier.empty() ? config.default_tier : options.tier)
                                                          : options.profile,
                                  options.command, {}};
    std::error_code ec;
    run_context.cwd = std::filesystem::current_path(ec).string();
    const audit::AuditLog log(log_path, config.audit_syslog);
    // Fail closed before anything else: a log that cannot be opened for
    // appending stops the run here.
    if (!options.dry_run) log.create_if_missing();
    std::optional<Governed> governed;
    std::optional<policy::ApprovalMatrix> matrix;
    try {
      const auto profile = options.profile.empty()
                               ? policy::load_tier(options.tier.empty() ? config.default_tier : options.tier, dirs)
                               : policy::load_profile_file(options.profile, dirs);
      logging::step("profile loaded: {} (sha256 {})", profile.file.string(), profile.sha256.substr(0, 12));
      context.tier = profile.name;
      run_context.tier = profile.name;
      const auto inventory = policy::load_data_classes(dirs);
      auto request = make_request(options);
      request.rootfs_store = config.rootfs_dir;
      const policy::LinuxHostView host;
      const auto facts = policy::gather_host_facts(request, profile, inventory, host, never_visible(log_path, config));
      logging::step("host facts gathered ({} entries scanned for data classes)", facts.data_access.entries_scanned);
      auto plan = policy::make_plan(profile, request, facts, context.run_id);
      matrix = policy::load_approval_matrix(dirs);
      if (options.dry_run) return print_dry_run(plan, *matrix);
      auto digest = policy::plan_digest(plan);
      governed = Governed{std::move(plan), std::move(digest)};
    } catch (const Error& error) {
      if (!options.dry_run) record_refusal(log, run_context, error);
      throw;
    }
    const auto& plan = governed->plan;
    for (const auto& override_text : plan.overrides) logging::warn("{}", override_text);
    context.rlimits = plan.rlimits;
    wall_time = plan.wall_time;

    trail.emplace(log, run_context);
    pass_approval_gate(*governed, *matrix, config, options.grant_file, *trail);

    launch::LaunchHooks hooks;
    hooks.audit_resource = audit_resource(log_path, config, run_context);
    hooks.before_start = [&](pid_t pid, const std::vector<std::string>& cgroups) {
      trail->started(plan, governed->digest, pid, cgroups);
    };
    hooks.after_end = [&](const launch::Outcome& ended) {
      try {
        trail->ended(ended, ended.exit_status(), task_error(ended, wall_time));
      } catch (const Error& failed) {
        end_failure = failed.what();
      }
    };
    outcome = launch::launch(plan, config, hooks);
  } catch (const Error& error) {
    // The caller's result still says what happened (and main() prints it).
    std::string message = error.what();
    if (trail && (trail->start_written() || trail->queued() > 0)) {
      // A launch that failed after its request was recorded: its end says why.
      // When that fails too (the log itself is what failed, most often), the
      // cause comes first on the one line, then the lost end.
      try {
        trail->ended(outcome, error.exit_status(), error.what());
      } catch (const Error& failed) {
        message += "; the end of the run could not be recorded either: " + std::string(failed.what());
      }
    }
    context.exit_status = error.exit_status();
    context.error = message;
    if (const auto failed = write_result(result_fd, context, outcome); !failed.empty()) message += "; " + failed;
    throw Error(message, error.exit_status());
  }
  context.exit_status = outcome.exit_status();
  context.error = task_error(outcome, wall_time);
  if (!context.error.empty()) logging::error("{}", context.error);
  for (const auto& warning : outcome.workspace_warnings) {
    if (warning.kind == launch::WorkspaceWarning::Kind::nested_repository)
      logging::warn("workspace: {}; git on this host runs its config and hooks (git status recurses into it): inspect or "
                    "remove it before running git here (docs/threat-model.md)", warning.text);
    else
      logging::warn("workspace: {} (docs/threat-model.md)", warning.text);
  }
  int status = outcome.exit_status();
  try {
    trail->ended(outcome, status, context.error);  // when the launch ended before the after_end hook
  } catch (const Error& failed) {
    end_failure = failed.what();
  }
  if (!end_failure.empty()) {
    // The task ran; its end is missing from the log (verify reports it as
    // ended unknown). Say so, and make the caller see a runner failure, in
    // the exit status and in the result alike.
    const auto text = "the end of the run could not be recorded: " + end_failure;
    logging::error("{}", text);
    if (status == 0) status = exit_code::runner_failed;
    context.exit_status = status;
    context.error = context.error.empty() ? text : context.error + "; " + text;
  }
  if (const auto failed = write_result(result_fd, context, outcome); !failed.empty()) {
    // The caller reads the result, and it is not there: never a success.
    logging::error("the result could not be written: {} (the task's exit status was {})", failed,
                   outcome.exit_status());
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
