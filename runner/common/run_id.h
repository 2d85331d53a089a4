// Run ids: 16 random hex digits, unique enough to name a run in audit records,
// state files and cgroups without coordination.
#pragma once

#include <string>

namespace tierbox {

std::string new_run_id();

}  // namespace tierbox
