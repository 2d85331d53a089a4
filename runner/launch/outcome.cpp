#include "launch/outcome.h"

#include "common/errors.h"

namespace tierbox::launch {

int Outcome::exit_status() const {
  if (!failure.empty()) return failure_exit_status;
  if (timed_out) return exit_code::timed_out;
  if (exit_code) return *exit_code;
  if (signal) return 128 + *signal;
  return exit_code::runner_failed;
}

}  // namespace tierbox::launch
