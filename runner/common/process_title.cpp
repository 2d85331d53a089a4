#include "common/process_title.h"

#include <cstring>

namespace tierbox {

ArgvArea find_argv_area(int argc, char** argv, char** envp) {
  if (argc <= 0 || !argv[0]) return {};
  char* start = argv[0];
  char* end = start;
  // Only strings that continue the contiguous block belong to it.
  for (int i = 0; i < argc; ++i) {
    if (argv[i] == end || i == 0) end = argv[i] + std::strlen(argv[i]) + 1;
  }
  for (int i = 0; envp && envp[i]; ++i) {
    if (envp[i] != end) break;
    end = envp[i] + std::strlen(envp[i]) + 1;
  }
  return {start, static_cast<std::size_t>(end - start)};
}

}  // namespace tierbox
