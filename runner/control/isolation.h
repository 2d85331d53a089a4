// Live isolation of a running sandbox's network, for the incident-response
// commands: every packet in or out is dropped from now on (an established
// connection stops), while the task keeps running so it can be inspected.
#pragma once

#include <string>

#include "launch/run_registry.h"

namespace tierbox::launch {

// Returns what was done, one line. Throws Error when the run is unknown or
// not running, or its network cannot be cut (mode host shares the host's).
std::string isolate_run_network(const RunRegistry& registry, const std::string& run_id);

}  // namespace tierbox::launch
