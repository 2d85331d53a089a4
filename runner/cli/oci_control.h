// The OCI runtime's commands on a running container that engines call now
// and then (kubelet and containerd: pause, resume, ps): the container's run
// is found in tierbox's run registry by its sandbox's init (pid and start
// time), and acted on as `tierbox freeze`/`thaw`/`ps` act on a run
// (runner/control), audited as control records naming the container.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "launch/run_registry.h"
#include "oci/state.h"
#include "oci/update.h"

namespace tierbox::cli::oci_control {

struct Where {
  std::filesystem::path root;                     // --root
  std::vector<std::filesystem::path> config_dirs; // where tierbox.json is
};

// The run of the container (created, running or paused). Throws Error.
launch::RunRecord container_run(const Where& where, const oci::ContainerState& state);

// Freezes every process of the container (its cgroups); state "paused".
void pause(const Where& where, const std::string& id);
// Thaws it; state "running".
void resume(const Where& where, const std::string& id);
// runc's `update`: the container's cgroup limits changed within its tier
// (oci/update.h), audited as a control record ("action": "update") with the
// limits before and after, even when it failed. A created, running or
// paused container; returns the notes for --log (what was not applied, and
// where the tier's value applied instead).
std::vector<std::string> update(const Where& where, const std::string& id, const oci::ResourceUpdate& asked);
// `update ARGS...` as engines call it: --resources FILE or - (containerd's
// shim pipes the LinuxResources JSON to stdin) or runc's flags, read and
// carried out by update(); the notes, each naming the container.
std::vector<std::string> update_command(const Where& where, const std::vector<std::string>& args);
// runc's `ps`: the host pids in the container's cgroups; format "json" (an
// array of pids) or "table" (PID and command line).
std::string ps(const Where& where, const std::string& id, const std::string& format);

}  // namespace tierbox::cli::oci_control
