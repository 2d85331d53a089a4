#include "policy/host_facts.h"

#include <sys/resource.h>
#include <sys/stat.h>

#include <cstdlib>
#include <memory>

#include "common/errors.h"

namespace tierbox::policy {

HostFacts gather_host_facts(const TaskRequest& request) {
  HostFacts facts;
  for (int resource : {RLIMIT_NOFILE, RLIMIT_NPROC, RLIMIT_FSIZE, RLIMIT_CORE, RLIMIT_STACK, RLIMIT_AS}) {
    struct rlimit limit {};
    if (::getrlimit(static_cast<__rlimit_resource>(resource), &limit) == 0) facts.rlimit_hard[resource] = limit.rlim_max;
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
