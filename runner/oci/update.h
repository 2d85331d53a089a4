// The OCI runtime's `update` (runc update; containerd's shim runs
// `update --resources - ID` for Kubernetes' in-place pod resize, docker and
// podman `update` run it with flags): its command line and its
// LinuxResources JSON read into a ResourceUpdate, and that planned against
// the tier into the cgroup limits to write. Pure code: cli/oci_control.cpp
// reads the container's live limits and writes the plan's change through
// the run's cgroup drivers (stages/cgroup.h).
//
// The tier is the ceiling, by the rule a container's create applies to its
// config.json (limit_ceiling.h): at or below the tier's a value applies;
// above it, or -1 ("no limit"), the tier's applies (noted for --log). An
// update may raise a limit back up to the tier's; the values the container
// was created with are no ceiling (the engine chose them, and a pod resize
// exists to raise them; the tier is what the operator allows).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "policy/profile.h"
#include "stages/cgroup.h"

namespace tierbox::oci {

// One value the update asks for, as runc takes it (bytes, a count, µs), and
// how the caller named it ("memory.limit" in JSON, "--memory" on the
// command line), for messages.
struct Asked {
  std::int64_t value = 0;
  std::string field;
};

// A LinuxResources update. Each value: 0 leaves the limit as it is, -1
// means no limit (the tier's, under tierbox), any other negative number is
// refused when parsed. memory_swap is memory plus swap, as in OCI and runc.
struct ResourceUpdate {
  std::optional<Asked> memory;
  std::optional<Asked> memory_swap;
  std::optional<Asked> pids;
  std::optional<Asked> cpu_quota;
  std::optional<Asked> cpu_period;
  // What was given that tierbox does not apply (cpu shares, cpusets, block
  // IO weights, memory reservation, hugepages, unified, devices...): one
  // note each, for --log.
  std::vector<std::string> notes;
};

// LinuxResources JSON (the object runc update --resources reads). Throws
// Error naming origin, the field and the fix for malformed JSON shapes,
// non-integers and negative numbers other than -1.
ResourceUpdate parse_resources(const nlohmann::json& document, const std::string& origin);

// The command line after `update`: runc's flags, or --resources FILE|-
// (which, as in runc, makes the other flags ignored: noted). Throws Error
// with the usage line for a malformed one.
struct UpdateArguments {
  std::string id;
  std::optional<std::string> resources_file;  // "-": standard input
  ResourceUpdate flags;
};
UpdateArguments parse_update_arguments(const std::vector<std::string>& args);

// A size flag as runc reads one (--memory 64m, 1g, 1048576; "-1": no
// limit). Throws Error naming the flag.
std::int64_t parse_size_flag(const std::string& flag, const std::string& text);
// A count or µs flag (--pids-limit, --cpu-quota, --cpu-period): an integer,
// -1 allowed. Throws Error naming the flag.
std::int64_t parse_integer_flag(const std::string& flag, const std::string& text);

struct UpdatePlan {
  stages::RunLimits change;  // the fields to write, in tierbox's units
  std::vector<std::string> notes;
};

// The update within tier, against the limits the container's cgroups hold
// now (stages::AttachedRunCgroups::limits). Throws Error naming the field
// for a value tierbox cannot set (a memory limit below 1 MiB, memory+swap
// below memory, a limit for a controller the run has no cgroup of).
UpdatePlan plan_update(const ResourceUpdate& update, const policy::Profile& tier, const stages::RunLimits& now);

// RunLimits as the audit record and --log show them: bytes, counts,
// millicores, "max" for no limit; fields the run has no file for left out.
nlohmann::json limits_json(const stages::RunLimits& limits);

}  // namespace tierbox::oci
