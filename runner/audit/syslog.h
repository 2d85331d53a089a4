// Forwarding of audit records to syslog or journald, when configured
// (`audit_syslog` in tierbox.json), so existing alerting sees every record.
// The file stays the record of truth: forwarding happens after a record is on
// disk, never blocks (MSG_DONTWAIT), and a failure is a warning, not a
// refused launch.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>

namespace tierbox::audit {

// "<86>tierbox[PID]: {json}": facility authpriv, severity info (RFC 3164
// without a timestamp, which syslog daemons and journald's /dev/log accept
// and stamp themselves).
std::string syslog_message(const nlohmann::json& record, int pid);
// Sends one datagram to the unix socket at socket_path; false (with a warning
// on stderr) when it cannot.
bool forward_to_syslog(const std::string& socket_path, const nlohmann::json& record);

}  // namespace tierbox::audit
