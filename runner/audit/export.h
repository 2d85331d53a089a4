// `tierbox audit export --format ocsf|cef`: the audit trail in forms a SIEM
// ingests. Pure over parsed records; docs/governance.md ("Exporting to a
// SIEM") maps every record field to the exported fields.
//
// OCSF: one JSON object per line, every record as OCSF 1.1.0 Process
// Activity (class_uid 1007, category_uid 1): a start record is a Launch
// (activity_id 1), an end record a Terminate (2), a refused or denied launch
// a Launch with status Failure, every other event activity Other (99) with
// the event's name. The requester is actor.user; the run's approval decision
// (from its decision record) is actor.authorizations. Every field the
// mapping does not name is kept in unmapped, so nothing is lost.
//
// CEF: one syslog CEF:0 line per record (ArcSight's Common Event Format).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace tierbox::audit {

inline constexpr const char* kOcsfVersion = "1.1.0";

// records: the log in order (a run's decision is found for its start and end).
std::vector<nlohmann::json> to_ocsf(const std::vector<nlohmann::json>& records, const std::string& product_version);
std::vector<std::string> to_cef(const std::vector<nlohmann::json>& records, const std::string& product_version);

// The OCSF attributes the Process Activity class requires (and the
// objects' own required ones: metadata.product.vendor_name,
// metadata.version, device.type_id); "" when event has them all, else the
// first missing one. Used by the tests and by export itself (fail closed).
std::string missing_ocsf_required(const nlohmann::json& event);

}  // namespace tierbox::audit
