// The audit trail's records, built from what a launch knows (pure: the
// schema is unit-tested without a sandbox). docs/governance.md lists every
// event and field; AuditLog adds seq, ts, prev and hash.
//
// Every record: event, run_id, user {uid, name, sudo_user}, host, tier, argv,
// cwd, outcome; and simulation ("redteam") on every record of a simulated
// run. Then per event:
//   request          profile_sha256, plan_digest, workspace, widening,
//                    data_classes, overrides, requirement {require, rule, because}
//   decision         decision {how, require, rule, by [...], at, reason}
//   approval         request_id, by, vote, reason, accepted, message
//   start            pid, cgroup [...], plan_digest, profile_sha256, overrides
//   end              exit {code, signal, status}, usage {wall_ms, cpu_ms,
//                    mem_peak, pids_peak}, violations [...], error
//   profile_refused  reason, exit_status
//   grant_used / grant_refused   grant {...}, reason
//   checkpoint       covers_seq, covers_hash, key_id, signature
//   control          action, run_id, result, by (incident response; built by
//                    launch::control_audit_event)
//   daemon           action, detail, peer_pid (tierboxd: a request refused
//                    before it became a run, a protocol error, a limit)
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "audit/audit_log.h"
#include "launch/outcome.h"
#include "policy/approval_matrix.h"
#include "policy/launch_plan.h"

namespace tierbox::audit {

// What every record of one launch shares.
struct RunContext {
  std::string run_id;
  Identity user;
  std::string host;
  std::string tier;
  std::vector<std::string> argv;
  std::string cwd;
  // The OCI runtime mode: the engine's container id and the image digest
  // ("" for a run that is no container; then no "container" field is written).
  std::string container_id;
  std::string image_digest;
  // "redteam" for a run of `tierbox redteam` (docs/redteam.md): every record
  // of the run carries it as "simulation", so a reviewer tells the attempts a
  // simulation made from an incident. "" for every other run (no field).
  std::string simulation;
};

// How a launch was decided.
struct Decision {
  bool allowed = false;
  std::string how;      // none, confirm, approver, two_person, grant; refused when denied before asking
  std::string require;  // what the matrix required
  std::string rule;     // "id (file:/rules/N)" of the deciding rule, "" if none
  std::vector<Identity> by;  // who decided: the confirming caller, the approvers, the grant's signers
  std::string at;       // RFC 3339
  std::string reason;   // one line; for a refusal, the message the caller saw
};

std::string host_name();

nlohmann::json base_record(const std::string& event, const RunContext& context);
// What the daemon did with a connection that never became a run (the user is
// the caller's kernel identity): action is protocol_error, refused or
// no_request; detail the one line the client got.
nlohmann::json daemon_record(const Identity& user, pid_t peer_pid, const std::string& action, const std::string& detail);
nlohmann::json request_record(const RunContext& context, const policy::LaunchPlan& plan, const std::string& plan_digest,
                              const policy::MatrixDecision& matrix);
nlohmann::json decision_record(const RunContext& context, const Decision& decision);
nlohmann::json approval_record(const RunContext& context, const std::string& request_id, const Identity& by,
                               const std::string& vote, const std::string& reason, bool accepted,
                               const std::string& message);
nlohmann::json start_record(const RunContext& context, const policy::LaunchPlan& plan, const std::string& plan_digest,
                            pid_t pid, const std::vector<std::string>& cgroups);
// exit_status: tierbox's own; error: the one line it printed, "" if none.
nlohmann::json end_record(const RunContext& context, const launch::Outcome& outcome, int exit_status,
                          const std::string& error);
// The violations of a run: OOM kill, timeout, pids limit, denied network
// destinations, denied syscalls.
nlohmann::json violations(const launch::Outcome& outcome);
nlohmann::json profile_refused_record(const RunContext& context, const std::string& reason, int exit_status);
nlohmann::json grant_record(const RunContext& context, bool used, const nlohmann::json& grant, const std::string& reason);
// Written by `tierbox gc` for a run whose runner died after its start record.
nlohmann::json ended_unknown_record(const RunContext& context, const nlohmann::json& learned);

}  // namespace tierbox::audit
