// A Kubernetes pod's containers share the pod sandbox's (the "pause"
// container's) network, IPC and UTS namespaces: config.json names them by
// path. This resolves the paths narrow_to_tier classified (oci/spec.h)
// against the containers under the runtime's --root and the engine's
// network namespaces, and refuses, with one line, what would take a
// container out of its tier:
// - /proc/PID/ns/TYPE: PID must be a live container of this --root (its
//   state's pid, which engines pass, or its sandbox's init), of the same
//   tier; the namespace joined is its sandbox's (the state's pid is the
//   supervising tierbox process, which lives in the host's namespaces).
// - /run/netns/NAME: a network namespace the engine made (nsfs, of type
//   network, not the host's). Tier network mode host: joined as it is.
//   Modes none and allowlist: never entered (it has the pod's CNI
//   interface); the pod's first container gets the tier's network of its
//   own (none: loopback only; allowlist: the veth and nftables rules of a
//   plain run of the tier) and records the path, and the pod's later
//   containers naming the same path join that container's namespace
//   instead, so the allowlist's rules, which live in that namespace, hold
//   for them too.
#pragma once

#include <string>
#include <vector>

#include "oci/spec.h"
#include "oci/state.h"
#include "policy/profile.h"
#include "policy/request.h"

namespace tierbox::oci {

struct PodNamespaces {
  std::vector<policy::JoinedNamespace> joins;
  // Modes none and allowlist, the pod's first container: the engine's path it stands for
  // (recorded in its state as engine_netns).
  std::string engine_netns;
  std::vector<std::string> notes;  // for --log
};

// Throws Refusal (one line naming the config.json field) or Error.
PodNamespaces resolve_pod_namespaces(const std::vector<NamespaceJoin>& joins, const StateStore& store,
                                     const std::string& own_id, const policy::Profile& tier);

}  // namespace tierbox::oci
