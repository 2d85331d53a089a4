// The memory behind /proc/self/cmdline and /proc/self/environ: the runner's
// argv strings followed by its environment strings, contiguous as the kernel
// laid them out at exec. Recorded first thing in main().
#pragma once

#include <cstddef>

namespace tierbox {

struct ArgvArea {
  char* start = nullptr;
  std::size_t size = 0;
};

ArgvArea find_argv_area(int argc, char** argv, char** envp);

}  // namespace tierbox
