#include "control/isolation.h"

#include "common/errors.h"
#include "stages/network.h"

namespace tierbox::launch {

std::string isolate_run_network(const RunRegistry& registry, const std::string& run_id) {
  const auto listed = registry.find(run_id);
  if (!listed) throw Error("no run " + quote(run_id) + " in " + registry.dir().string(), exit_code::runner_failed);
  const auto& record = listed->record;
  if (!listed->runner_alive || record.sandbox_pid <= 0)
    throw Error("run " + run_id + " is not running", exit_code::runner_failed);
  if (record.network_mode == "none") return "run " + run_id + " has no network (mode none): nothing to cut";
  if (!record.resources.contains("network"))
    throw Error("run " + run_id + " (network mode " + record.network_mode +
                    ") has no network of its own that could be cut (fix: stop the run)",
                exit_code::runner_failed);
  stages::isolate_network(record.resources.at("network"), record.sandbox_pid);
  return "run " + run_id + ": network cut (every packet in and out is dropped)";
}

}  // namespace tierbox::launch
