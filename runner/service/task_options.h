// The options of a run as the caller typed them (`tierbox run`'s flags, or
// the daemon's run message) -> the TaskRequest's fields. One parser for both
// entry points, so a limit or a timeout means the same whichever way it came.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "policy/request.h"

namespace tierbox::service {

struct TypedOptions {
  std::string timeout;                                          // --timeout
  std::vector<std::pair<std::string, std::string>> env;         // --env NAME=VALUE, split
  std::vector<policy::ExtraBind> binds;                         // --bind, --bind-rw
  std::vector<std::string> allow_net;                           // --allow-net
  std::string memory, pids, cpu;                                // --memory, --pids, --cpu
};

// Fills timeout, env_overrides, binds, allow_net, memory, pids and
// cpu_millicores; throws Error (125) naming the option and the fix.
void apply_typed_options(const TypedOptions& options, policy::TaskRequest& request);

// "NAME=VALUE" -> {NAME, VALUE}; throws Error naming `flag` (e.g. "--env").
std::pair<std::string, std::string> split_setting(const std::string& setting, const std::string& flag);

}  // namespace tierbox::service
