#include "service/task_options.h"

#include <charconv>
#include <cstdlib>

#include "common/errors.h"
#include "common/units.h"

namespace tierbox::service {

std::pair<std::string, std::string> split_setting(const std::string& setting, const std::string& flag) {
  const auto equals = setting.find('=');
  if (equals == std::string::npos || equals == 0)
    throw Error(flag + " " + setting + ": expected NAME=VALUE", exit_code::runner_failed);
  return {setting.substr(0, equals), setting.substr(equals + 1)};
}

void apply_typed_options(const TypedOptions& options, policy::TaskRequest& request) {
  request.binds.insert(request.binds.end(), options.binds.begin(), options.binds.end());
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
  if (!options.timeout.empty()) {
    auto timeout = parse_duration(options.timeout);
    if (!timeout) throw Error("--timeout " + options.timeout + ": expected seconds or a duration such as 30s, 5m", exit_code::runner_failed);
    request.timeout = *timeout;
  }
  request.env_overrides.insert(request.env_overrides.end(), options.env.begin(), options.env.end());
}

}  // namespace tierbox::service
