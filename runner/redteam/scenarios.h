// The red-team scenarios of `tierbox redteam` (docs/redteam.md): for one
// tier, which moves the scenario program (tierbox-redteam-agent) attempts
// and what the tier's own plan says must happen to each; then, from what the
// program and the run's records observed, the verdict. Pure: the expectations
// and the verdicts are unit-tested without a sandbox; runner.cpp launches.
//
// An expectation comes from the tier: its network mode and allowlist, its
// max_data_class, its workspace, its seccomp plan, its limits and
// allowed_commands. Some are a floor every tier is held to (no escape from
// the mount namespace, no privilege, no kernel knobs, nothing outliving the
// run): a tier that opts in to an always-blocked item (allow_dangerous) fails
// the scenario that item stands for, by design.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "policy/launch_plan.h"
#include "policy/profile.h"

namespace tierbox::redteam {

enum class Expect { blocked, allowed, not_claimed };

// The file disk-exhaustion fills in a staged workspace (and the runner looks
// for in the real workspace on the host).
inline constexpr const char* kFillName = ".tierbox-redteam-fill";
const char* to_string(Expect expect);

// One move of the scenario program, as its argument ("read:/etc/shadow").
struct Attempt {
  std::string argument;
  Expect expect = Expect::blocked;
  // Network moves of an allowlist tier: "ADDRESS:PORT/PROTO" as the run's
  // network report names it; a blocked move must be among the run's dropped
  // destinations (proof that the firewall refused it, not a dead route), an
  // allowed one must not.
  std::string destination;
};

struct Scenario {
  std::string id;
  std::string threat;
  std::string expected;          // one line: what the tier claims, and from which field
  std::vector<Attempt> attempts;
  bool launch_refusal = false;   // unlisted-command: judged by whether the launch was refused
  bool survivor_check = false;   // survive-stop: judged by the processes left after the run
  bool slow = false;             // run only with --slow
  std::string not_run;           // why it is not attempted in this tier, "" when it is
  // disk-exhaustion of a staged workspace: also judged by the host's
  // filesystem, looked at while the filled file is there (Evidence::disk).
  bool disk_host_check = false;
  // output-exhaustion: judged by the run's result (Evidence::output), the
  // flood's own report only says how much it wrote.
  std::optional<std::uint64_t> output_limit;
};

// What the runner knows about the host that the scenarios need.
struct HostContext {
  std::vector<std::string> host_addresses;  // the host's own IPv4 addresses, loopback excluded
  std::string survivor_name;                // comm of the double-forked grandchild (<= 15 bytes)
  std::string caller_home;                  // the caller's home directory on the host
  bool slow = false;
};

std::vector<Scenario> plan_scenarios(const policy::Profile& profile, const policy::LaunchPlan& plan,
                                     const HostContext& host);

// What one tier's run produced.
// The host's side of a workspace fill (runner.cpp looks while the program
// holds the filled file, before it stops the run).
struct DiskEvidence {
  std::string filesystem;            // the host directory of the real workspace
  std::int64_t free_drop_bytes = 0;  // its filesystem's free bytes before the run minus while filled
  bool fill_on_host = false;         // the filled file is in the real workspace on the host
};

// The run's result for its stdout and stderr (launch::OutputLimitResult),
// and how much of it reached the runner.
struct OutputEvidence {
  std::uint64_t limit_bytes = 0;
  std::uint64_t bytes = 0;
  bool cut = false;
  std::uint64_t received_bytes = 0;  // what the runner got on the task's stdout
};

// The launch of a command that allowed_commands does not list (the
// scenario program without the simulation's admission).
struct UnlistedLaunch {
  bool launched = false;
  std::string error;  // the runner's one line when it was refused
};

struct Evidence {
  bool launched = false;
  std::string launch_error;                       // the runner's one line when it was not
  nlohmann::json attempts = nlohmann::json::object();  // the program's report
  std::vector<std::string> dropped_destinations;  // the run's network report
  std::vector<int> survivors;                     // host pids named survivor_name after the run
  std::string stopped;                            // what stopping the run did ("" when it was not stopped)
  std::optional<DiskEvidence> disk;               // nullopt: the host was not looked at
  std::optional<OutputEvidence> output;           // nullopt: the run had no output relay
  std::optional<UnlistedLaunch> unlisted;         // nullopt: not attempted (no allowed_commands)
};

struct Row {
  std::string scenario;
  std::string threat;
  std::string expected;
  std::string observed;
  std::string verdict;  // pass, WEAKER, stricter, not claimed, not run, skipped (slow, without --slow)
};

Row judge(const Scenario& scenario, const Evidence& evidence);
// True when the row shows the tier weaker than it claims.
bool is_weaker(const Row& row);
nlohmann::json to_json(const Row& row);

}  // namespace tierbox::redteam
