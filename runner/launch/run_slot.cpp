#include "launch/run_slot.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "common/errors.h"
#include "common/files.h"

namespace tierbox::launch {
namespace {

// The slot's lock file `name` in dir, made (with dir, 0700) if missing; an
// invalid fd with errno set when it cannot be opened.
UniqueFd open_slot_lock(const std::filesystem::path& dir, const std::string& name) {
  const auto path = dir / name;
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd && errno == ENOENT) {  // first run on this host: make the directory
    make_private_dirs(dir);
    fd.reset(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  }
  return fd;
}

// Whether the flock was taken (false: another open file of the lock holds it).
bool try_lock(const UniqueFd& fd, const std::filesystem::path& path) {
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) == 0) return true;
  if (errno != EWOULDBLOCK) throw_sys_error("flock(" + quote(path.string()) + ", LOCK_EX|LOCK_NB)");
  return false;
}

// The host-wide lock of a host id. The directory is root's (0700 in /run),
// so a runner that is not root fails here, before its sandbox exists; the
// error says so whether the directory or the file could not be made.
UniqueFd open_id_lock(const SlotSpace& space, uid_t host_id) {
  const auto path = space.id_lock_dir / (std::to_string(host_id) + ".lock");
  std::string call = "open(" + quote(path.string()) + ", O_RDWR|O_CREAT)";
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd && errno == ENOENT) {  // the host's first run: make the directory
    if (::mkdir(space.id_lock_dir.c_str(), 0700) != 0 && errno != EEXIST)
      call = "mkdir(" + quote(space.id_lock_dir.string()) + ", 0700)";
    else
      fd.reset(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  }
  if (fd) return fd;
  const int err = errno;
  const bool denied = err == EACCES || err == EPERM;
  throw Error(call + ": " + errno_text(err) +
                  (denied ? " (the host-wide locks of sandbox uids are root's: launch as root; `tierbox run` by "
                            "another user goes through the daemon)"
                          : ""),
              exit_code::runner_failed);
}

[[noreturn]] void throw_no_slot(const SlotSpace& space, unsigned in_use, unsigned blocked) {
  const auto state_dir = quote(space.slots_dir.parent_path().string());
  const auto max = std::to_string(space.max_slots);
  if (blocked == 0)
    throw Error("all " + max + " run slots of state_dir " + state_dir + " (max_concurrent_runs " + max +
                    ") are in use (fix: wait for runs to end, or raise max_concurrent_runs)",
                exit_code::runner_failed);
  throw Error("no free run slot in state_dir " + state_dir + " (max_concurrent_runs " + max + "): " +
                  std::to_string(in_use) + " in use here, the host uids of " + std::to_string(blocked) +
                  " held by live runs of other state directories (" + space.id_lock_dir.string() +
                  ") (fix: wait for runs to end, raise max_concurrent_runs, or give each state_dir its own host_id_base)",
              exit_code::runner_failed);
}

}  // namespace

RunSlot acquire_run_slot(const SlotSpace& space) {
  unsigned in_use = 0;
  unsigned blocked = 0;
  for (unsigned index = 0; index < space.max_slots; ++index) {
    const auto name = std::to_string(index) + ".lock";
    UniqueFd lock = open_slot_lock(space.slots_dir, name);
    if (!lock) throw_sys_error("open(" + quote((space.slots_dir / name).string()) + ", O_RDWR|O_CREAT)");
    if (!try_lock(lock, space.slots_dir / name)) {
      ++in_use;
      continue;
    }
    // The slot is this state_dir's; its host id must be no other's. Both
    // locks are non-blocking, so two state_dirs racing for one id cannot
    // deadlock: the loser closes its slot (releasing it) and tries the next.
    const uid_t host_id = space.host_id_base + 1 + index;
    UniqueFd id_lock = open_id_lock(space, host_id);
    const auto id_lock_path = space.id_lock_dir / (std::to_string(host_id) + ".lock");
    if (!try_lock(id_lock, id_lock_path)) {
      ++blocked;
      continue;
    }
    return RunSlot{index, std::move(lock), space.slots_dir / name, host_id, std::move(id_lock), id_lock_path};
  }
  throw_no_slot(space, in_use, blocked);
}

}  // namespace tierbox::launch
