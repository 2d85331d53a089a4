// Timestamps as every record and file of tierbox writes them: RFC 3339, UTC,
// milliseconds. Here, in common/, so the audit trail, the approval gate and
// the run registry share one format without reaching into each other.
#pragma once

#include <chrono>
#include <string>

namespace tierbox {

// "2026-11-25T16:59:45.123Z"
std::string rfc3339_utc(std::chrono::system_clock::time_point time);

}  // namespace tierbox
