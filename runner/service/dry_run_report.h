// `run --dry-run`'s text: the plan summary and what the approval matrix
// requires. One rendering for the direct path (printed) and the daemon (sent
// to the caller's stdout).
#pragma once

#include <string>

#include "service/run_task.h"

namespace tierbox::service {

struct DryRunReport {
  std::string text;     // lines, each ending in '\n'
  int exit_status = 0;  // 126 when the matrix does not know the tier
};

DryRunReport dry_run_report(const DryRun& dry_run);

}  // namespace tierbox::service
