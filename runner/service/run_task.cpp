#include "service/run_task.h"

#include <map>

#include "service/output_relay.h"
#include "service/policy_cache.h"

#include "approval/gate.h"
#include "audit/audit_log.h"
#include "audit/launch_audit.h"
#include "audit/records.h"
#include "common/errors.h"
#include "common/logging.h"
#include "common/run_id.h"
#include "common/units.h"
#include "common/users.h"
#include "policy/data_classes.h"
#include "policy/host_facts.h"
#include "policy/plan_summary.h"
#include "policy/planner.h"
#include "policy/profile_loader.h"
#include "policy/runner_config.h"
#include "policy/tier_access.h"

namespace tierbox::service {
namespace {

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

// Records a refused profile or plan; the refusal stands even when the record
// cannot be written (a warning says so).
void record_refusal(const audit::AuditLog& log, const audit::RunContext& context, const Error& error,
                    const TaskInput& input) {
  try {
    auto record = audit::profile_refused_record(context, error.what(), error.exit_status());
    if (input.record_refusal)
      input.record_refusal({std::move(record)}, "profile_refused");  // the daemon's caller's budget
    else
      (void)log.append(record);
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

// The approval gate: queues the request, obtains what the matrix requires
// (writing the records a person's answer depends on as it goes) and queues
// the decision. A denial is written at once and thrown (126) with the line
// naming the rule; an allowed launch's records wait for the start record.
void pass_approval_gate(const Governed& governed, const policy::ApprovalMatrix& matrix,
                        const policy::RunnerConfig& config, const RunSettings& settings, const TaskInput& input,
                        audit::LaunchAudit& trail) {
  const auto& plan = governed.plan;
  policy::MatrixDecision matrix_decision;
  try {
    matrix_decision = policy::evaluate_matrix(matrix, plan);
  } catch (const Error& error) {
    record_refusal(trail.log(), trail.context(), error, input);
    throw;
  }
  trail.queue(audit::request_record(trail.context(), plan, governed.digest, matrix_decision));
  approval::GateRequest gate{&plan, governed.digest, &matrix_decision, trail.context().user, &config, std::nullopt};
  if (!settings.grant_file.empty() || settings.grant_document)
    gate.grant_file = settings.grant_file.empty() ? std::string("(sent by the client)") : settings.grant_file;
  gate.grant_document = settings.grant_document;
  gate.cancel_fd = input.cancel_fd;
  gate.notice_fd = input.stdio[2];
  if (input.requester) {
    gate.caller_terminal = input.terminal_fd;
    gate.caller_in_foreground = input.terminal_in_foreground;
  }
  const auto decision = approval::obtain_approval(gate, trail);
  trail.queue(audit::decision_record(trail.context(), decision));
  if (!decision.allowed) {
    // Denied with no one asked (nothing written yet): the daemon's caller's
    // budget writes or counts the trail (TaskInput::record_refusal).
    if (input.record_refusal && !trail.any_written())
      input.record_refusal(trail.take_queued(), "denied");
    else
      trail.flush();
    throw Error(decision.reason, exit_code::refused);
  }
  logging::step("approval: {} ({})", decision.how, decision.reason);
}

// The task of a staged run has ended: its layer waits for review. Nothing
// is written for it here: its registry entry, gone with the launch, says
// the run ended, and the first command to open the run (or gc) records it
// staged and takes the placeholders out of the layer (staged/operations.h
// settle_ended_run). Returns the line the caller sees.
std::string note_staged(const std::string& run_id) {
  return "staged: the task's changes wait for review: tierbox changes " + run_id + " (then apply or discard)";
}

// The warnings about what the task left in a writable workspace, as printed.
std::vector<std::string> workspace_warnings(const launch::Outcome& outcome) {
  std::vector<std::string> lines;
  for (const auto& warning : outcome.workspace_warnings) {
    if (warning.kind == launch::WorkspaceWarning::Kind::nested_repository)
      lines.push_back("workspace: " + warning.text + "; git on this host runs its config and hooks (git status recurses into it): inspect or "
                      "remove it before running git here (docs/threat-model.md)");
    else
      lines.push_back("workspace: " + warning.text + " (docs/threat-model.md)");
  }
  return lines;
}

// One run, from the request to its end record; the state the steps share.
class TaskRun {
 public:
  TaskRun(const TaskInput& input, const RunSettings& settings, Launcher& launcher)
      : input_(input), settings_(settings), launcher_(launcher) {
    result_.context.argv = input.argv;
    result_.context.run_id = new_run_id();
  }

  TaskResult run() {
    try {
      if (!launch_governed()) return std::move(result_);
    } catch (const Error& error) {
      fail(error);
      return std::move(result_);
    }
    finish();
    return std::move(result_);
  }

 private:
  // Everything up to the task's end; false for a dry run (nothing launched).
  bool launch_governed() {
    auto config = policy::load_runner_config(settings_.config_dirs);
    if (!settings_.state_dir.empty()) config.state_dir = settings_.state_dir;
    if (!input_.tier.empty() && !input_.profile_file.empty())
      throw Error("--tier and --profile exclude each other (fix: pass one)", exit_code::runner_failed);
    if (settings_.dry_run && (!settings_.grant_file.empty() || settings_.grant_document))
      throw Error("--dry-run and --grant exclude each other (a dry run uses no grant)", exit_code::runner_failed);
    // The one place the default tier is picked.
    const std::string tier = input_.tier.empty() ? config.default_tier : input_.tier;
    const auto log_path = audit::audit_log_path(settings_.audit_log, config.audit_log);
    audit::RunContext run_context{result_.context.run_id,
                                  input_.requester ? input_.requester->identity : audit::current_identity(),
                                  audit::host_name(),
                                  input_.profile_file.empty() ? tier : input_.profile_file.string(), input_.argv, {}};
    run_context.simulation = input_.simulation;
    std::error_code ec;
    run_context.cwd = input_.requester ? input_.requester->cwd : std::filesystem::current_path(ec).string();
    run_context.container_id = input_.container_id;
    run_context.image_digest = input_.image_digest;
    const audit::AuditLog log(log_path, config.audit_syslog);
    // Fail closed before anything else: a log that cannot be opened for
    // appending stops the run here.
    if (!settings_.dry_run) log.create_if_missing();
    logging::step("runner configuration loaded, audit log open");
    std::optional<Governed> governed;
    std::optional<policy::ApprovalMatrix> matrix;
    std::map<int, int> pass_fd_sources;  // the daemon's: --pass-fd number -> its fd holding the caller's
    try {
      auto* cache = settings_.policy_cache;
      const auto profile = !input_.profile_file.empty() ? policy::load_profile_file(input_.profile_file, settings_.config_dirs)
                           : cache                      ? cache->tier(tier, settings_.config_dirs)
                                                        : policy::load_tier(tier, settings_.config_dirs);
      logging::step("profile loaded: {} (sha256 {})", profile.file.string(), profile.sha256.substr(0, 12));
      result_.context.tier = profile.name;
      run_context.tier = profile.name;
      const auto inventory = cache ? cache->data_classes(settings_.config_dirs) : policy::load_data_classes(settings_.config_dirs);
      logging::step("data-class inventory loaded");
      auto request = input_.make_request();
      for (std::size_t i = 0; i < request.pass_fd_sources.size() && i < request.pass_fds.size(); ++i)
        pass_fd_sources.emplace(request.pass_fds[i], request.pass_fd_sources[i]);
      // Only a simulation's own runs get its additions (policy/request.h).
      if (request.simulation && input_.simulation.empty())
        throw Error("internal: simulation additions on a run that is no simulation", exit_code::runner_failed);
      if (request.simulation) request.simulation->name = input_.simulation;
      if (const auto refusal = policy::tier_access_refusal(profile, request.caller, [](const std::string& name) {
            return group_id(name);
          });
          !refusal.empty())
        throw Refusal(refusal);
      request.rootfs_store = config.rootfs_dir;  // where image tiers find their images
      policy::pin_bind_sources(request);
      const policy::LinuxHostView host;
      const auto facts = policy::gather_host_facts(request, profile, inventory, host, never_visible(log_path, config));
      logging::step("host facts gathered ({} entries scanned for data classes)", facts.data_access.entries_scanned);
      auto plan = policy::make_plan(profile, request, facts, result_.context.run_id);
      logging::step("plan made");
      matrix = cache ? cache->approval_matrix(settings_.config_dirs) : policy::load_approval_matrix(settings_.config_dirs);
      logging::step("approval matrix loaded");
      if (settings_.dry_run) {
        result_.dry_run = DryRun{std::move(plan), std::move(*matrix)};
        return false;
      }
      auto digest = policy::plan_digest(plan);
      governed = Governed{std::move(plan), std::move(digest)};
    } catch (const Error& error) {
      if (!settings_.dry_run) record_refusal(log, run_context, error, input_);
      throw;
    }
    const auto& plan = governed->plan;
    for (const auto& override_text : plan.overrides) warn(override_text);
    result_.context.rlimits = plan.rlimits;
    wall_time_ = plan.wall_time;

    trail_.emplace(log, run_context);
    pass_approval_gate(*governed, *matrix, config, settings_, input_, *trail_);

    launch::LaunchHooks hooks;
    // What `tierbox gc` needs to close the trail of a run whose runner died.
    hooks.audit_trail = audit::RunTrail{log_path, config.audit_syslog, run_context};
    hooks.stdio = input_.stdio;
    hooks.relay_signals = input_.relay_signals;
    if (!pass_fd_sources.empty())
      for (int number : plan.pass_fds) hooks.pass_fd_sources.push_back(pass_fd_sources.at(number));
    hooks.exec_listener = input_.exec_listener;
    // limits.output: the sandbox's stdout and stderr are the relay's pipes
    // (output_relay.h), copied to the caller's.
    std::optional<OutputRelay> relay;
    if (plan.output_limit_bytes) {
      relay.emplace(*plan.output_limit_bytes, input_.stdio[1], input_.stdio[2]);
      hooks.stdio[1] = relay->task_stdout();
      hooks.stdio[2] = relay->task_stderr();
    }
    // The request, decision and start records go into the file before sync
    // #2 and to disk while the sandbox does its last steps; the task's
    // execve waits for them (sync #2b: start_durable).
    pid_t sandbox_pid = 0;
    hooks.before_start = [&](pid_t pid, const std::vector<std::string>& cgroups) {
      if (relay) relay->start();
      sandbox_pid = pid;
      trail_->start_pending(plan, governed->digest, pid, cgroups);
    };
    hooks.start_durable = [&] {
      trail_->wait_start_durable();
      if (input_.on_start) input_.on_start(sandbox_pid);
    };
    // The end record into the file while init exits; on disk before the
    // result goes back (finish() waits for it).
    hooks.after_end = [&](const launch::Outcome& ended) {
      try {
        trail_->end_pending(ended, ended.exit_status(), end_error(ended));
      } catch (const Error& failed) {
        end_failure_ = failed.what();
      }
    };
    result_.outcome = launcher_.launch(plan, config, hooks);
    if (relay) {
      const auto report = relay->finish();
      result_.context.output = launch::OutputLimitResult{report.limit, report.bytes, report.cut};
    }
    if (plan.workspace && plan.workspace->staged) warn(note_staged(plan.run_id));
    return true;
  }

  // The run failed or was refused: the caller's result still says what
  // happened, and the entry point prints it.
  void fail(const Error& error) {
    std::string message = error.what();
    if (trail_ && (trail_->start_written() || trail_->queued() > 0)) {
      // A launch that failed after its request was recorded: its end says why.
      // When that fails too (the log itself is what failed, most often), the
      // cause comes first on the one line, then the lost end.
      try {
        trail_->ended(result_.outcome, error.exit_status(), error.what());
      } catch (const Error& failed) {
        message += "; the end of the run could not be recorded either: " + std::string(failed.what());
      }
    }
    result_.context.exit_status = error.exit_status();
    result_.context.error = message;
    result_.runner_error = true;
  }

  // The task ran: its end record (unless the after_end hook wrote it) and
  // its exit status.
  void finish() {
    auto& context = result_.context;
    const auto& outcome = result_.outcome;
    context.exit_status = outcome.exit_status();
    context.error = end_error(outcome);
    if (!context.error.empty()) logging::error("{}", context.error);
    for (const auto& line : workspace_warnings(outcome)) warn(line);
    try {
      // Writes the end record when the launch ended before the after_end
      // hook; waits until it is on disk either way.
      trail_->ended(outcome, context.exit_status, context.error);
    } catch (const Error& failed) {
      if (end_failure_.empty()) end_failure_ = failed.what();
    }
    if (end_failure_.empty()) return;
    // The task ran; its end is missing from the log (verify reports it as
    // ended unknown). Say so, and make the caller see a runner failure, in
    // the exit status and in the result alike.
    const auto text = "the end of the run could not be recorded: " + end_failure_;
    logging::error("{}", text);
    if (context.exit_status == 0) context.exit_status = exit_code::runner_failed;
    context.error = context.error.empty() ? text : context.error + "; " + text;
  }

  // Printed here and kept for an entry point whose caller is elsewhere.
  void warn(const std::string& line) {
    logging::warn("{}", line);
    result_.warnings.push_back(line);
  }

  // How the task ended, with why the entry point stopped it if it did.
  std::string end_error(const launch::Outcome& outcome) const {
    auto text = task_error(outcome, wall_time_);
    const auto stopped = input_.stop_reason ? input_.stop_reason() : std::string();
    if (stopped.empty()) return text;
    return text.empty() ? stopped : stopped + "; " + text;
  }

  const TaskInput& input_;
  const RunSettings& settings_;
  Launcher& launcher_;
  TaskResult result_;
  std::optional<audit::LaunchAudit> trail_;
  std::chrono::milliseconds wall_time_{0};
  std::string end_failure_;  // why the end record could not be written
};

}  // namespace

TaskResult run_task(const TaskInput& input, const RunSettings& settings, Launcher& launcher) {
  return TaskRun(input, settings, launcher).run();
}

}  // namespace tierbox::service
