// Who the task is inside the sandbox: `user` (uid, gid, name, home),
// `hostname`, and `pass_fds`, how many fds a caller may hand it.
#pragma once

#include <cstdint>
#include <string>

namespace tierbox::policy {

// The uid, gid and name the task runs as inside the sandbox.
struct TaskUserSpec {
  std::uint32_t uid = 1000;
  std::uint32_t gid = 1000;
  std::string name = "agent";
  std::string home = "/tmp";
};

}  // namespace tierbox::policy
