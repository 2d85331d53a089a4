#include "launch/run_slot.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "common/errors.h"
#include "common/files.h"

namespace tierbox::launch {
RunSlot acquire_run_slot(const std::filesystem::path& slots_dir, unsigned max_slots) {
  for (unsigned index = 0; index < max_slots; ++index) {
    const auto path = slots_dir / (std::to_string(index) + ".lock");
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!fd && errno == ENOENT) {  // first run on this host: make the directory
      make_private_dirs(slots_dir);
      fd.reset(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
    }
    if (!fd) throw_sys_error("open(" + quote(path.string()) + ", O_RDWR|O_CREAT)");
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) == 0) return RunSlot{index, std::move(fd), path};
    if (errno != EWOULDBLOCK) throw_sys_error("flock(" + quote(path.string()) + ", LOCK_EX|LOCK_NB)");
  }
  throw Error("all " + std::to_string(max_slots) + " run slots in " + slots_dir.string() +
                  " are in use (fix: wait for runs to end, or raise max_concurrent_runs)",
              exit_code::runner_failed);
}

}  // namespace tierbox::launch
