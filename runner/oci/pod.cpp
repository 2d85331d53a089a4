#include "oci/pod.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include <optional>

#include "common/errors.h"
#include "common/process_info.h"
#include "common/unique_fd.h"

namespace tierbox::oci {
namespace {

std::string field_of(const NamespaceJoin& join) {
  return "linux.namespaces (" + join.type + ").path " + quote(join.path);
}

int clone_type(const std::string& type) {
  if (type == "network") return CLONE_NEWNET;
  if (type == "ipc") return CLONE_NEWIPC;
  return CLONE_NEWUTS;
}

std::string proc_name(const std::string& type) { return type == "network" ? "net" : type; }

// The sandbox's init is still the one the state names.
bool sandbox_alive(const ContainerState& state) {
  return state.sandbox_pid > 0 && process_start_time(state.sandbox_pid) == state.sandbox_start_time;
}

bool live(const ContainerState& state) {
  const auto status = current_status(state);
  return (status == "created" || status == "running") && sandbox_alive(state);
}

// The tier is the pod's: all its containers share one (docs/kubernetes.md).
void check_same_tier(const NamespaceJoin& join, const ContainerState& owner, const policy::Profile& tier) {
  if (owner.tier != tier.name)
    throw Refusal(field_of(join) + ": the namespace of container " + quote(owner.id) + " in tier '" + owner.tier +
                  "'; a container of tier '" + tier.name +
                  "' may not join it (fix: give the pod one tier, the annotation io.tierbox.tier on the pod)");
}

// The joined namespace of the owner's sandbox, with its identity now.
policy::JoinedNamespace sandbox_namespace(const NamespaceJoin& join, const ContainerState& owner,
                                          const std::string& what) {
  const auto path = "/proc/" + std::to_string(owner.sandbox_pid) + "/ns/" + proc_name(join.type);
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw_sys_error("stat(" + quote(path) + ")");
  // Checked after the stat: the identity read is the sandbox's, not that of
  // a process that took its pid meanwhile.
  if (!sandbox_alive(owner))
    throw Refusal(field_of(join) + ": container " + quote(owner.id) + " ended (fix: start the pod's sandbox again)");
  return {clone_type(join.type), path, st.st_dev, st.st_ino, what};
}

// A live container of this --root, other than own_id, whose state's pid or
// sandbox init is pid.
std::optional<ContainerState> container_with_pid(const StateStore& store, const std::string& own_id, pid_t pid) {
  for (auto& state : store.list())
    if (state.id != own_id && (state.pid == pid || state.sandbox_pid == pid) && live(state)) return state;
  return std::nullopt;
}

std::optional<ContainerState> container_standing_in_for(const StateStore& store, const std::string& own_id,
                                                        const std::string& engine_path) {
  for (auto& state : store.list())
    if (state.id != own_id && state.engine_netns == engine_path && live(state)) return state;
  return std::nullopt;
}

struct stat stat_namespace_fd(int fd, const std::string& what) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw_sys_error("fstat(" + what + ")");
  return st;
}

// The engine's network namespace: a bind mount of an nsfs file of type
// network in its directory (no symlink to elsewhere), not the host's.
struct stat check_engine_network(const NamespaceJoin& join) {
  struct stat link {};
  if (::lstat(join.path.c_str(), &link) != 0) throw_sys_error("lstat(" + quote(join.path) + ")");
  if (S_ISLNK(link.st_mode))
    throw Refusal(field_of(join) + ": a symbolic link; only the engine's own network namespace files may be joined "
                  "(fix: give the namespace's file itself)");
  UniqueFd fd(::open(join.path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) throw_sys_error("open(" + quote(join.path) + ", O_RDONLY)");
  struct statfs fs {};
  if (::fstatfs(fd.get(), &fs) != 0) throw_sys_error("fstatfs(" + quote(join.path) + ")");
  if (fs.f_type != NSFS_MAGIC)
    throw Refusal(field_of(join) + ": not a namespace (no nsfs file; fix: give the network namespace the engine made)");
  const int type = ::ioctl(fd.get(), NS_GET_NSTYPE);
  if (type != CLONE_NEWNET)
    throw Refusal(field_of(join) + ": not a network namespace (fix: give the network namespace the engine made)");
  const auto target = stat_namespace_fd(fd.get(), quote(join.path));
  // The host's (init's) and this runtime's own: joining either is the host's network.
  for (const char* host : {"/proc/1/ns/net", "/proc/self/ns/net"}) {
    struct stat st {};
    if (::stat(host, &st) == 0 && st.st_dev == target.st_dev && st.st_ino == target.st_ino)
      throw Refusal(field_of(join) + ": the host's network namespace (fix: give the pod a network namespace of its own)");
  }
  return target;
}

}  // namespace

PodNamespaces resolve_pod_namespaces(const std::vector<NamespaceJoin>& joins, const StateStore& store,
                                     const std::string& own_id, const policy::Profile& tier) {
  PodNamespaces out;
  for (const auto& join : joins) {
    if (join.kind == NamespaceJoin::Kind::container) {
      const auto owner = container_with_pid(store, own_id, join.pid);
      if (!owner)
        throw Refusal(field_of(join) + ": process " + std::to_string(join.pid) +
                      " is no live container of this runtime's --root (tier '" + tier.name +
                      "'; fix: name the pod sandbox's container, or give the container a new " + join.type +
                      " namespace)");
      check_same_tier(join, *owner, tier);
      out.joins.push_back(sandbox_namespace(join, *owner, "container " + owner->id));
      continue;
    }
    // The engine's network namespace.
    const auto target = check_engine_network(join);
    if (tier.network.mode == policy::NetworkMode::host) {
      out.joins.push_back({CLONE_NEWNET, join.path, target.st_dev, target.st_ino, "the engine's network namespace"});
      continue;
    }
    // Modes none and allowlist: the engine's namespace (with the pod's CNI
    // interface, unfiltered) is never entered; the pod's first container
    // gets the tier's own network and stands in for it.
    const auto mode = policy::to_string(tier.network.mode);
    const std::string own_network = tier.network.mode == policy::NetworkMode::allowlist
                                        ? "network namespace with the tier's allowlist (its veth and nftables rules)"
                                        : "loopback-only network namespace";
    if (const auto owner = container_standing_in_for(store, own_id, join.path)) {
      check_same_tier(join, *owner, tier);
      out.joins.push_back(sandbox_namespace(join, *owner, "container " + owner->id));
      out.notes.push_back(field_of(join) + ": joins the " + own_network + " of container " + owner->id +
                          ", which stands in for it (tier '" + tier.name + "' has network mode " + mode + ")");
      continue;
    }
    out.engine_netns = join.path;
    out.notes.push_back(field_of(join) + ": not entered; a " + own_network + " of the container's own stands in for " +
                        "it (tier '" + tier.name + "' has network mode " + mode + ")");
  }
  return out;
}

}  // namespace tierbox::oci
