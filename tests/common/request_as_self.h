// The request of a run this test process asks for itself: its own uid and
// gid as the caller, from /, nothing else given. For tests that call
// service::run_task directly (the daemon and the CLI build theirs from a
// caller's message or command line).
#pragma once

#include <unistd.h>

#include <string>
#include <vector>

#include "policy/request.h"

namespace tierbox::testing {

inline policy::TaskRequest request_as_self(const std::string& tier, const std::vector<std::string>& argv) {
  policy::TaskRequest request;
  request.tier = tier;
  request.argv = argv;
  request.caller.uid = ::getuid();
  request.caller.gid = ::getgid();
  request.caller_cwd = "/";
  return request;
}

}  // namespace tierbox::testing
