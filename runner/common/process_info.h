// What /proc says about a host process, for telling a run's sandbox from a
// later process that got the same pid (pid reuse): a pid alone never names a
// process for long, its start time (in clock ticks since boot, field 22 of
// /proc/PID/stat) together with the pid does.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <map>
#include <string>
#include <string_view>

namespace tierbox {

// Field 22 (starttime) of a /proc/PID/stat text; nullopt if malformed. The
// command name (field 2) may hold spaces and parentheses: fields are counted
// from the last ')'.
std::optional<std::uint64_t> parse_process_start_time(std::string_view stat_text);

// The start time of pid, nullopt when it does not exist.
std::optional<std::uint64_t> process_start_time(pid_t pid);

// This process's environment (environ) as NAME -> VALUE; entries without
// '=' are left out. What a caller's request carries as caller_env.
std::map<std::string, std::string> environment_of_this_process();

}  // namespace tierbox
