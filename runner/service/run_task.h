// run_task(): the one launch path behind every entry point (the CLI today,
// the daemon and the OCI runtime mode later). It carries a request through
// profile -> host facts -> plan -> approval gate -> launch, writing the audit
// trail as it goes (request, decision, start, end; or the refusal), and
// returns how the run ended. Entry points parse, print and map the result to
// an exit status; none of them sequences policy, approval or audit itself.
#pragma once

#include <array>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "audit/audit_log.h"
#include "launch/outcome.h"
#include "launch/result.h"
#include "policy/approval_matrix.h"
#include "policy/launch_plan.h"
#include "policy/request.h"
#include "service/launcher.h"

namespace tierbox::service {

class PolicyCache;

// What the entry point asks for. The request itself is built inside the
// audited part of the run (make_request), so a request that cannot be built
// (an unreadable secret, a malformed limit) is refused and recorded like a
// bad profile; tier, profile_file and argv are known before it and name the
// run in the records written until then.
struct TaskInput {
  std::string tier;                     // "" = the configured default tier
  std::filesystem::path profile_file;   // a profile file instead of a tier
  std::vector<std::string> argv;
  std::function<policy::TaskRequest()> make_request;
  // The OCI runtime mode (runner/oci): named in every audit record of the run.
  std::string container_id;
  std::string image_digest;
  // The container's exec socket, listening (oci exec); -1: none.
  int exec_listener = -1;

  // Who asked, when it is not this process: the daemon's caller, from the
  // kernel (SO_PEERCRED). Every audit record names it. None: this process's
  // own user and working directory.
  struct Requester {
    audit::Identity identity;
    std::string cwd;
  };
  std::optional<Requester> requester;
  // The task's fds 0-2 (the daemon's caller's, received over its socket).
  std::array<int, 3> stdio{0, 1, 2};
  // false: the entry point relays its caller's signals itself (on_start
  // gives it the sandbox's init).
  bool relay_signals = true;
  // Readable when the entry point cancels a wait for approvers (the
  // daemon's client went away); -1: this process's SIGINT/SIGTERM/SIGHUP.
  int cancel_fd = -1;
  // With requester: the requester's terminal, where a rule requiring
  // confirm asks (the daemon's caller's controlling terminal, checked by the
  // daemon), -1 when it has none; and whether the requester is in that
  // terminal's foreground now (null: always). Without requester: this
  // process's /dev/tty.
  int terminal_fd = -1;
  std::function<bool()> terminal_in_foreground;
  // Called with the host pid of the sandbox's init once its start record is
  // on disk and before the task may start (launch hooks' start_durable, so
  // the sandbox waits at sync #2b, before its seccomp filters and the
  // execve); the OCI runtime mode's create/start split returns from it when
  // the task may start. Throwing kills the sandbox and the run ends with
  // that error.
  std::function<void(pid_t)> on_start;
  // Why the entry point stopped the task (the client disconnected), "" when
  // it did not; the end record and the result name it.
  std::function<std::string()> stop_reason;
  // The daemon's: the records of a request refused before anything of its
  // trail was written go through the caller's budget of refusal records
  // (daemon/refusal_records.h) instead of straight into the log, as one
  // refusal of kind: a refused profile or plan ("profile_refused"), and a
  // denial no one was asked for ("denied": a deny rule, a confirm rule with
  // no terminal, a grant refused: its request, grant and decision records).
  // Such a request costs no sandbox, so a caller could otherwise write
  // records per connection without bound. Null: appended to the log.
  std::function<void(std::vector<nlohmann::json> records, const std::string& kind)> record_refusal;
  // "redteam" for `tierbox redteam`'s runs: recorded as "simulation" on each
  // of the run's audit records (audit/records.h). "" for a real task.
  std::string simulation;
};

// What the entry point resolved about where the run's state lives.
struct RunSettings {
  std::vector<std::filesystem::path> config_dirs;
  std::string audit_log;   // as asked (--audit-log); "" = TIERBOX_AUDIT_LOG, tierbox.json, the default
  std::string grant_file;  // a signed grant instead of asking a person; "" = none
  // The daemon's: the grant's document, read by its client as the caller
  // (grant_file then only names it); nullopt = read grant_file.
  std::optional<nlohmann::json> grant_document;
  bool dry_run = false;    // plan and matrix only: nothing is launched, filed or recorded
  // The daemon's --state-dir: run registry, slots and control sockets there
  // instead of tierbox.json's state_dir. "" = as configured.
  std::filesystem::path state_dir;
  // The daemon's: tiers, inventory and matrix reused while their files are
  // unchanged (policy_cache.h). nullptr: loaded from disk each time.
  PolicyCache* policy_cache = nullptr;
};

// `--dry-run`: what the entry point prints.
struct DryRun {
  policy::LaunchPlan plan;
  policy::ApprovalMatrix matrix;
};

struct TaskResult {
  // The run's exit status (the task's own, or 124-127), with the error line,
  // as the result file reports them.
  launch::ResultContext context;
  launch::Outcome outcome;
  // True when the runner failed or refused (context.error is the one line to
  // print); false when the task ran (context.error says why it ended badly,
  // "" when it simply exited).
  bool runner_error = false;
  std::optional<DryRun> dry_run;
  // The warnings printed on the way (overrides, the workspace review): the
  // daemon sends them to its caller.
  std::vector<std::string> warnings;
  [[nodiscard]] int exit_status() const { return context.exit_status; }
};

// Throws only what is not a tierbox::Error (a bug); every Error is in the
// result, its audit record written (or, when that failed too, named in the
// error line).
TaskResult run_task(const TaskInput& input, const RunSettings& settings, Launcher& launcher);

}  // namespace tierbox::service
