// Run slots: a small integer that no two live runs share, from which a run's
// host uid (and later its subnet) is derived. A slot is held by an flock on
// STATE_DIR/slots/N.lock for the life of the runner; the kernel releases it
// when the runner exits, however it exits, so a crash never leaks a slot.
#pragma once

#include <filesystem>

#include "common/unique_fd.h"

namespace tierbox::launch {

struct RunSlot {
  unsigned index = 0;
  UniqueFd lock;
  std::filesystem::path path;  // the lock file
};

// The lowest free slot below max_slots. Throws Error when all are taken.
RunSlot acquire_run_slot(const std::filesystem::path& slots_dir, unsigned max_slots);

}  // namespace tierbox::launch
