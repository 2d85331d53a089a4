// What `tierbox gc` does for a run whose runner died: undo what the run left
// on the host, from the resources its RunRecord lists. Each concern that
// creates host resources (cgroups, network) adds its cleaner here; every
// cleaner is idempotent, so gc can be run any number of times.
#pragma once

#include <string>
#include <vector>

#include "launch/run_registry.h"

namespace tierbox::launch {

// One line per thing removed (for gc's report). Throws tierbox::Error when
// something could not be removed; the entry is then kept for the next gc.
std::vector<std::string> clean_up_run_resources(const RunRecord& record);

}  // namespace tierbox::launch
