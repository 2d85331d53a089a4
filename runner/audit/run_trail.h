// Where one run's audit trail goes and the fields each of its records
// repeats. The launcher keeps it in the run's registry record
// (resources["audit"]) so that `tierbox gc` can append the end record of a
// run whose runner died, and so the run's control records go to the same log.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "audit/records.h"

namespace tierbox::audit {

struct RunTrail {
  std::filesystem::path log;
  std::string syslog;  // tierbox.json audit_syslog; "" = no syslog copy
  RunContext context;
};

nlohmann::json to_json(const RunTrail& trail);
// The trail kept in a registry record; a field it lacks comes from fallback
// (what the registry record itself says). The run id is always fallback's.
RunTrail run_trail_from_json(const nlohmann::json& saved, const RunContext& fallback);

}  // namespace tierbox::audit
