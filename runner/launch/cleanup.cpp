#include "launch/cleanup.h"

namespace tierbox::launch {

std::vector<std::string> clean_up_run_resources(const RunRecord& record) {
  std::vector<std::string> removed;
  // The sandbox itself needs no cleaning: its processes died with the runner
  // (PR_SET_PDEATHSIG, and pid namespace teardown), its mounts and namespaces
  // with its last process.
  (void)record;
  return removed;
}

}  // namespace tierbox::launch
