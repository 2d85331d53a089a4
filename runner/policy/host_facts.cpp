#include "policy/host_facts.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>

#include "common/errors.h"

namespace tierbox::policy {

int kernel_landlock_abi() {
  // landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION)
  const long abi = ::syscall(444 /* SYS_landlock_create_ruleset */, nullptr, 0, 1U);
  return abi > 0 ? static_cast<int>(abi) : 0;
}

HostFacts gather_host_facts(const TaskRequest& request) {
  HostFacts facts;
  facts.landlock_abi = kernel_landlock_abi();
  for (int fd : request.pass_fds) {
    PassedFdFacts passed{fd, false, false};
    struct stat st {};
    const int flags = ::fcntl(fd, F_GETFL);
    if (flags >= 0 && ::fstat(fd, &st) == 0) {
      passed.open = true;
      passed.directory = S_ISDIR(st.st_mode) || (flags & O_PATH) == O_PATH;
    }
    facts.passed_fds.push_back(passed);
  }
  if (request.workspace) {
    const auto& given = *request.workspace;
    std::unique_ptr<char, decltype(&std::free)> resolved(::realpath(given.c_str(), nullptr), &std::free);
    if (!resolved)
      throw Error("--workspace " + quote(given.string()) + ": " + errno_text(errno) +
                      " (fix: pass an existing directory)", exit_code::runner_failed);
    struct stat st {};
    if (::stat(resolved.get(), &st) != 0) throw_sys_error("stat(" + quote(resolved.get()) + ")");
    facts.workspace = WorkspaceFacts{resolved.get(), S_ISDIR(st.st_mode), st.st_uid, st.st_gid};
  }
  return facts;
}

}  // namespace tierbox::policy
