#include "launch/cleanup.h"

#include "stages/network.h"

namespace tierbox::launch {

std::vector<std::string> clean_up_run_resources(const RunRecord& record) {
  std::vector<std::string> removed;
  // The sandbox itself needs no cleaning: its processes died with the runner
  // (PR_SET_PDEATHSIG, and pid namespace teardown), its mounts and namespaces
  // with its last process. What it had on the host does.
  if (record.resources.contains("network")) {
    for (auto& line : stages::clean_up_network(record.resources["network"])) removed.push_back("network: " + line);
  }
  return removed;
}

}  // namespace tierbox::launch
