// Run slots: a small integer that no two live runs share, from which a run's
// host uid and gid (host_id_base + 1 + N) and its subnet are derived. A slot
// is held by an flock on STATE_DIR/slots/N.lock for the life of the runner;
// the kernel releases it when the runner exits, however it exits, so a crash
// never leaks a slot.
//
// Slots are counted per state_dir, but host ids are the host's: a daemon
// with its own --state-dir and a root `tierbox run` (two daemons, tests)
// would both give their slot 0 host uid host_id_base + 1, and two live tasks
// with one uid can open each other's files wherever that uid may write, share
// RLIMIT_NPROC (counted per real uid) and signal each other. So a slot also
// holds a host-wide lock on its task's id, HOST_ID_LOCK_DIR/UID.lock; a slot
// whose id is held by a live run of another state_dir is skipped. The same
// pattern as the network helper's /run/tierbox-subnets (docs/network.md).
#pragma once

#include <sys/types.h>

#include <filesystem>

#include "common/unique_fd.h"

namespace tierbox::launch {

// One directory for the whole host, shared by every state_dir: /run is a
// tmpfs (emptied at boot, when no sandbox can be live) only root can write.
// "ids", not "uids": the number is the task's host uid and its host gid.
inline constexpr const char* kHostIdLockDir = "/run/tierbox-ids";

struct RunSlot {
  unsigned index = 0;
  UniqueFd lock;
  std::filesystem::path path;  // the lock file
  uid_t host_id = 0;           // host_id_base + 1 + index: the task's host uid and gid
  UniqueFd id_lock;            // held exactly as long as lock (same owner)
  std::filesystem::path id_lock_path;
};

// Where and how many: slots_dir is STATE_DIR/slots; slot N gives host id
// host_id_base + 1 + N; id_lock_dir is kHostIdLockDir except in tests.
struct SlotSpace {
  std::filesystem::path slots_dir;
  unsigned max_slots = 0;
  uid_t host_id_base = 0;
  std::filesystem::path id_lock_dir = kHostIdLockDir;
};

// The lowest slot below max_slots that is free in slots_dir and whose host
// id no live run of any state_dir holds. Throws Error (exit 125) when every
// slot is taken or blocked, and when the id lock cannot be opened (not root).
RunSlot acquire_run_slot(const SlotSpace& space);

}  // namespace tierbox::launch
