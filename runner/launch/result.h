// The machine-readable result of one `tierbox run` (`run --result FILE`): one
// JSON object, documented in docs/result.md and docs/result.schema.json.
// Pure: built from what is known about the run and its Outcome, so the
// schema is unit-tested without a sandbox.
//
// To add a field (network counters, approvals, violations, ...): give Outcome
// the data, add one add_*() call in make_result(), and describe the field in
// docs/result.md and docs/result.schema.json; tests/unit/test_result.cpp
// checks every sample against the schema.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "launch/outcome.h"
#include "policy/launch_plan.h"

namespace tierbox::launch {

inline constexpr int kResultVersion = 1;

// What is known about a run besides its Outcome. A launch refused or failed
// before the sandbox started still gets a result: its Outcome is empty.
// limits.output's account (service/output_relay.h).
struct OutputLimitResult {
  std::uint64_t limit_bytes = 0;
  std::uint64_t bytes = 0;  // what the task wrote to stdout and stderr together
  bool cut = false;         // past the limit: the rest was discarded
};

struct ResultContext {
  std::string run_id;                          // "" if none was made
  std::string tier;                            // "" if the tier could not be loaded
  std::vector<std::string> argv;
  std::vector<policy::RlimitSetting> rlimits;  // the plan's
  int exit_status = 0;                         // tierbox's own exit status
  std::string error;                           // the one-line error tierbox printed, "" if none
  std::optional<OutputLimitResult> output;     // only with limits.output
};

nlohmann::json make_result(const ResultContext& context, const Outcome& outcome);

}  // namespace tierbox::launch
