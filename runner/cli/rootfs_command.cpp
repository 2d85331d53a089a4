// `tierbox rootfs ...`: carried out by the tierbox-rootfs program beside this
// one (rootfs/tool_main.cpp says why it is a program of its own).
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "common/errors.h"

namespace tierbox::cli {

int exec_rootfs_tool(int argc, char** argv, int first_argument) {
  char self[PATH_MAX];
  const auto length = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (length < 0) {
    std::perror("tierbox: readlink(\"/proc/self/exe\")");
    return exit_code::runner_failed;
  }
  std::string tool(self, static_cast<std::size_t>(length));
  tool = tool.substr(0, tool.rfind('/') + 1) + "tierbox-rootfs";
  std::vector<char*> args{const_cast<char*>("tierbox-rootfs")};
  for (int i = first_argument; i < argc; ++i) args.push_back(argv[i]);
  args.push_back(nullptr);
  ::execv(tool.c_str(), args.data());
  std::fprintf(stderr, "tierbox: execv(\"%s\"): %s (fix: build or install tierbox-rootfs beside tierbox)\n", tool.c_str(),
               errno_text(errno).c_str());
  return exit_code::runner_failed;
}

}  // namespace tierbox::cli
