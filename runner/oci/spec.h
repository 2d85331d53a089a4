// The OCI runtime mode's reading of a bundle's config.json (the OCI runtime
// specification), and its narrowing to a tier: pure code, no syscalls. The
// tier is the ceiling: what the bundle asks for within it becomes the
// TaskRequest of an ordinary run; what would widen it is refused with one
// line naming the config.json field. docs/kubernetes.md lists what is
// supported, narrowed or refused.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "policy/profile.h"
#include "policy/request.h"

namespace tierbox::oci {

// The annotation that names the tier; without it, tierbox.json default_tier.
inline constexpr const char* kTierAnnotation = "io.tierbox.tier";
// Annotations that carry the image digest (the first one present wins);
// without one, the digest of the root tree's manifest is computed.
inline constexpr const char* kDigestAnnotations[] = {"io.tierbox.image-digest", "org.opencontainers.image.digest"};
// The most annotations (keys and values) a config.json may carry: what
// Kubernetes allows; the container's state, which holds them, must stay
// readable (oci/state.h).
inline constexpr std::size_t kMaxAnnotationBytes = 256 * 1024;

struct Mount {
  std::string destination;
  std::string type;
  std::string source;
  std::vector<std::string> options;
};

struct Namespace {
  std::string type;
  std::string path;  // "" = a new one
};

struct Spec {
  std::string oci_version;
  // process
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::string cwd = "/";
  bool terminal = false;
  std::vector<std::string> capabilities;  // the union of every set, "CAP_..."
  struct Rlimit {
    std::string type;  // "RLIMIT_NOFILE"
    std::uint64_t soft = 0;
    std::uint64_t hard = 0;
  };
  std::vector<Rlimit> rlimits;
  // root
  std::string root_path;
  bool root_readonly = false;
  std::string hostname;
  std::vector<Mount> mounts;
  std::map<std::string, std::string> annotations;
  // linux
  std::vector<Namespace> namespaces;
  std::vector<std::string> devices;  // linux.devices[].path
  std::optional<std::int64_t> memory_limit;
  std::optional<std::int64_t> pids_limit;
  std::optional<std::int64_t> cpu_quota;
  std::optional<std::uint64_t> cpu_period;
  std::vector<std::string> hooks;  // the hook kinds present
  bool has_uid_mappings = false;
};

// Throws Error naming origin (the config.json path), the field and the fix.
Spec parse_spec(const nlohmann::json& document, const std::string& origin);

// The tier the bundle asks for: its annotation, else default_tier.
std::string tier_of(const Spec& spec, const std::string& default_tier);

// The image digest an annotation gives, "" when none does.
std::string annotated_digest(const Spec& spec);

// A namespace path of config.json that may be joined (a Kubernetes pod's
// containers share the pod sandbox's): classified by narrow_to_tier (pure),
// then resolved and checked against the runtime's containers by
// oci/pod.h. Any other path is refused.
struct NamespaceJoin {
  enum class Kind {
    // /run/netns/NAME or /var/run/netns/NAME: a network namespace the
    // engine (containerd's CRI, CNI) made and bind-mounted there.
    engine_network,
    // /proc/PID/ns/TYPE: PID must be a container of this runtime's --root
    // (its state's pid or its sandbox's init).
    container,
  };
  std::string type;  // "network", "ipc" or "uts"
  std::string path;  // as config.json gives it
  Kind kind = Kind::container;
  pid_t pid = 0;     // container: the PID of the path
};

// The namespace path rules (docs/kubernetes.md): network, ipc and uts may be
// joined; pid, user, mount and cgroup never. Throws Refusal with one line.
NamespaceJoin classify_namespace_path(const Namespace& ns, const policy::Profile& tier);

struct Narrowed {
  // args, env (as caller_env), binds, limits, the container root.
  policy::TaskRequest request;
  // What the bundle asked for that tierbox does not do (a narrowing, never
  // a widening): logged, and listed in docs/kubernetes.md.
  std::vector<std::string> notes;
  // The namespaces the bundle joins, classified; oci/pod.h resolves them
  // into request.container->joins.
  std::vector<NamespaceJoin> joins;
};

// The bundle within tier: throws Refusal with one line naming the field for
// a privileged bundle, a host namespace, a namespace path it may not join, an added
// capability, a device, a hook, a host network under a tier without
// network. Limits below the tier's narrow it; above it the tier's stay (a
// note). A bind mount becomes a --bind of the
// request, checked by the planner like one (the tier's widening.binds and
// data classes). bundle: the bundle directory (root.path is relative to it).
Narrowed narrow_to_tier(const Spec& spec, const policy::Profile& tier, const std::filesystem::path& bundle,
                        const std::string& container_id, const std::string& image_digest);

// `exec`'s process.json (runc exec --process FILE, or built from argv): the
// OCI specification's process object.
struct ExecProcess {
  Spec process;  // args, env, cwd, terminal, capabilities, rlimits
  std::optional<std::uint32_t> uid;
  std::optional<std::uint32_t> gid;
  std::vector<std::uint32_t> additional_gids;
};
ExecProcess parse_exec_process(const nlohmann::json& process, const std::string& origin);

struct ExecNarrowed {
  std::vector<std::string> argv;
  std::vector<std::string> env;  // "NAME=VALUE": through the tier's environment rules
  std::string cwd;
  std::vector<std::string> notes;
};

// The process within the tier, as the container's own task: the same
// capabilities rule (the engines' default set dropped; CAP_SYS_ADMIN
// refused as privileged, any other added one refused), the user root or the
// tier's (both mean the task's user, as for the container's process; any
// other is refused), the environment through the tier's rules. Throws
// Refusal with one line naming the field.
ExecNarrowed narrow_exec(const ExecProcess& process, const policy::Profile& tier);

}  // namespace tierbox::oci
