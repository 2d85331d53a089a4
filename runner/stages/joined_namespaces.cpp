#include "stages/joined_namespaces.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>

#include <string>

#include "common/errors.h"

namespace tierbox::stages {
namespace {

const char* proc_name(int type) {
  switch (type) {
    case CLONE_NEWNET: return "net";
    case CLONE_NEWIPC: return "ipc";
    case CLONE_NEWUTS: return "uts";
    default: return nullptr;
  }
}

UniqueFd open_namespace(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) throw_sys_error("open(" + quote(path) + ", O_RDONLY) (a namespace the container joins)");
  return fd;
}

}  // namespace

JoinedNamespaces::JoinedNamespaces(const std::vector<policy::JoinedNamespace>& joins) {
  // All opened and checked before the first is entered: a failure leaves
  // the thread where it was.
  std::vector<UniqueFd> targets;
  for (const auto& joined : joins) {
    const char* name = proc_name(joined.type);
    if (!name || (flags_ & static_cast<std::uint64_t>(joined.type)))
      throw Error("joined namespace " + quote(joined.path) + ": not a network, IPC or UTS namespace, or a second one",
                  exit_code::runner_failed);
    auto target = open_namespace(joined.path);
    struct stat st {};
    if (::fstat(target.get(), &st) != 0) throw_sys_error("fstat(" + quote(joined.path) + ")");
    if (st.st_dev != joined.device || st.st_ino != joined.inode)
      throw Error(quote(joined.path) + " is no longer the namespace of " + joined.owner +
                      " (it ended; its pid may name another process now)",
                  exit_code::runner_failed);
    saved_.push_back({joined.type, open_namespace(std::string("/proc/thread-self/ns/") + name)});
    targets.push_back(std::move(target));
    flags_ |= static_cast<std::uint64_t>(joined.type);
  }
  for (std::size_t i = 0; i < targets.size(); ++i) {
    if (::setns(targets[i].get(), saved_[i].type) != 0) {
      const auto error = errno;
      saved_.resize(i);  // only those entered go back
      restore();
      errno = error;
      throw_sys_error("setns(" + quote(joins[i].path) + ", " + proc_name(joins[i].type) + ")");
    }
  }
}

void JoinedNamespaces::restore() {
  for (auto& saved : saved_)
    if (::setns(saved.own.get(), saved.type) != 0)
      throw_sys_error(std::string("setns(the runner's own ") + proc_name(saved.type) + " namespace)");
  saved_.clear();
}

JoinedNamespaces::~JoinedNamespaces() {
  try {
    restore();
  } catch (...) {
    // The clone did not happen; a runner left in a pod's namespace would
    // make its later steps there: fail hard rather than go on.
    std::terminate();
  }
}

}  // namespace tierbox::stages
