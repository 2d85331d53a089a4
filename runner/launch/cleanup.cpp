#include "launch/cleanup.h"

#include "stages/network.h"
#include "stages/placeholders.h"

namespace tierbox::launch {

std::vector<std::string> clean_up_run_resources(const RunRecord& record) {
  std::vector<std::string> removed;
  // The sandbox itself needs no cleaning: its processes died with the runner
  // (PR_SET_PDEATHSIG, and pid namespace teardown), its mounts and namespaces
  // with its last process. What it had on the host does.
  // Protected-path placeholders it made in the workspace (unless another
  // live run still uses them).
  if (auto placeholders = record.resources.find("placeholders"); placeholders != record.resources.end()) {
    for (auto& line : stages::remove_recorded_placeholders(*placeholders)) removed.push_back(std::move(line));
  }
  if (record.resources.contains("network")) {
    for (auto& line : stages::clean_up_network(record.resources["network"])) removed.push_back("network: " + line);
  }
  return removed;
}

}  // namespace tierbox::launch
