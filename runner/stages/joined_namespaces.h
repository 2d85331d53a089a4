// Parent side: the namespaces of a pod a container's sandbox enters instead
// of making new ones (policy::JoinedNamespace, resolved by oci/pod.h). The
// runner's cloning thread enters them just before clone3, which leaves
// their flags out, so the sandbox's init starts inside them; the thread
// returns to its own right after. A process of this runner's user namespace
// could not enter them later: the network namespace of an engine belongs to
// the host's user namespace and a pod sandbox's IPC and UTS namespaces to
// its own, never to the new sandbox's.
#pragma once

#include <cstdint>
#include <vector>

#include "common/unique_fd.h"
#include "policy/request.h"

namespace tierbox::stages {

class JoinedNamespaces {
 public:
  // Opens each path and checks it is still the namespace with the recorded
  // identity (throws Error naming the path when not: the pod's sandbox has
  // gone and its pid may name another process), then enters it.
  explicit JoinedNamespaces(const std::vector<policy::JoinedNamespace>& joins);
  // Returns to the thread's own namespaces if restore() was not called
  // (an error path; the clone did not happen).
  ~JoinedNamespaces();
  JoinedNamespaces(const JoinedNamespaces&) = delete;
  JoinedNamespaces& operator=(const JoinedNamespaces&) = delete;

  // The CLONE_NEW* flags clone3 must leave out.
  [[nodiscard]] std::uint64_t flags() const { return flags_; }
  // Back to the thread's own namespaces; throws when the kernel refuses
  // (the runner must not go on in the pod's namespaces).
  void restore();

 private:
  struct Saved {
    int type;
    UniqueFd own;
  };
  std::vector<Saved> saved_;
  std::uint64_t flags_ = 0;
};

}  // namespace tierbox::stages
