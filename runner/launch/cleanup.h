// What `tierbox gc` does for a run whose runner died: undo what the run left
// on the host, from the resources its RunRecord lists. Each concern that
// creates host resources (cgroups, network) adds its cleaner here; every
// cleaner is idempotent, so gc can be run any number of times.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "launch/run_registry.h"
#include "stages/cgroup.h"

namespace tierbox::launch {

// One line per thing removed (for gc's report). Throws tierbox::Error when
// something could not be removed; the entry is then kept for the next gc.
std::vector<std::string> clean_up_run_resources(const RunRecord& record);

// The cgroups a record lists ("cgroup": {"dirs": [{"path", "version"}]}):
// processes still inside are killed, the directories removed. Only
// directories named tierbox-<the record's run id> below a cgroup mount of
// this host are touched, whatever the record says.
std::vector<std::string> clean_up_run_cgroups(const RunRecord& record, stages::CgroupSyscalls& syscalls,
                                              const stages::HostCgroups& host);

// Run cgroups no registry entry accounts for: a runner killed after making
// its cgroups and before writing its record leaves only the lock file. By
// name (tierbox-<run_id>), never a live run's: skipped while the run's lock
// is held, and a cgroup without any registry entry (a runner with another
// state directory) only when it is empty and older than the lock grace.
// Returns {run_id, path} of each removed.
std::vector<std::pair<std::string, std::string>> clean_up_orphaned_cgroups(const RunRegistry& registry,
                                                                           stages::CgroupSyscalls& syscalls,
                                                                           const stages::HostCgroups& host);

}  // namespace tierbox::launch
