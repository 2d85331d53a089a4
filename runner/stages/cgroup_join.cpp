#include "stages/cgroup_join.h"

#include <unistd.h>

namespace tierbox::stages {

bool join_cgroups(const int* fds, std::size_t count, ChildFailure& failure) noexcept {
  bool joined = true;
  for (std::size_t i = 0; i < count; ++i) {
    if (joined && ::write(fds[i], "0", 1) != 1) {
      failure.record(errno).add("write(cgroup v1 tasks file ").add_number(static_cast<int>(i)).add(", \"0\")");
      joined = false;
    }
    ::close(fds[i]);
  }
  return joined;
}

}  // namespace tierbox::stages
