// TaskRequest: what a caller asks for, whichever entry point it came through
// (today the CLI). Plain data, produced by parsing argv and reading the
// caller's identity; never read below the policy layer.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace tierbox::policy {

struct CallerIdentity {
  uid_t uid = 0;
  gid_t gid = 0;
  std::string user_name;  // from the passwd entry of uid, "" if none
  std::string sudo_user;  // SUDO_USER, extra information only
  // SUDO_UID when uid is 0 (root started tierbox through sudo): whom the run
  // is for. It grants only control of this run (policy/control_permission.h),
  // which root could grant anyway; never read from a non-root caller.
  std::optional<uid_t> sudo_uid;
  // Every group the caller is in (primary and supplementary): for the
  // daemon's callers from the kernel (SO_PEERGROUPS); the tier's
  // allowed_groups are matched against them (policy/tier_access.h).
  std::vector<gid_t> groups;
  // Whether the caller itself reached tierbox through the daemon (as an
  // unprivileged user) rather than as root.
  bool through_daemon = false;
};

// The file the caller opened as its workspace (the daemon's client sends the
// fd): the directory the policy checks must be that one.
struct FileIdentity {
  dev_t device = 0;
  ino_t inode = 0;
};

// --bind SRC:TARGET / --bind-rw SRC:TARGET: a host path the caller asks to
// have bound besides the tier's mounts (the tier's `widening.binds` says
// whether it may).
struct ExtraBind {
  std::string source;
  std::string target;
  bool writable = false;
  // Through the daemon: the source the caller's client opened (the path is
  // read back from its fd); the tree mounted must be that very file or
  // directory (stages/prepared_mounts.cpp), not what the path leads to later.
  std::optional<FileIdentity> opened;
  // Through the daemon, a --bind-rw of a caller who is not root: mounted
  // id-mapped, this uid (the caller's, who owns the source) and gid (the
  // source's group, one of the caller's) becoming the task's, as the
  // workspace is (docs/daemon.md).
  std::optional<uid_t> idmap_from_uid;
  std::optional<gid_t> idmap_from_gid;
};

// The OCI runtime mode (runner/oci): a container bundle's root directory
// takes the place of the tier's root (rootfs host's binds or image:NAME).
// process.rlimits of a container: each only lowers what the tier sets.
struct RlimitRequest {
  int resource = 0;  // RLIMIT_*
  std::uint64_t soft = 0;
  std::uint64_t hard = 0;
};

// A namespace of another process the sandbox enters instead of making its
// own (a Kubernetes pod's containers share the pod sandbox's network, IPC
// and UTS namespaces). Resolved and checked by the OCI runtime mode
// (oci/pod.h); the launcher opens path and enters it only when it is still
// the namespace with this identity (a pid may have been reused since).
struct JoinedNamespace {
  int type = 0;          // CLONE_NEWNET, CLONE_NEWIPC or CLONE_NEWUTS
  std::string path;      // /proc/PID/ns/net, or an engine's /run/netns/NAME
  dev_t device = 0;      // of the namespace (nsfs), from stat(path)
  ino_t inode = 0;
  std::string owner;     // for the audit trail: "container ID" or "the engine's network namespace"
};

// The engine's termination-message file (a Kubernetes container's
// /dev/termination-log, config.json's bind of a regular file directly in
// /dev): the task writes a file of its own at target, on a small tmpfs the
// runner makes (at most kTerminationMessageBytes), and the runner copies it
// into engine_fd once the container's init has exited (docs/kubernetes.md).
inline constexpr std::uint64_t kTerminationMessageBytes = 4096;  // what the kubelet reads
struct TerminationMessage {
  std::string target;       // "/dev/termination-log"
  std::string engine_file;  // the bind's source on the host, as config.json names it
  int engine_fd = -1;       // the runtime's fd of it (opened at create, O_WRONLY): owned by the entry point
};

struct ContainerRoot {
  std::filesystem::path tree;   // the bundle's root.path, absolute
  std::string id;               // the engine's container id
  std::string image_digest;     // "sha256:<hex>": an annotation's, or the tree's manifest digest
  std::string cwd = "/";        // process.cwd
  std::string hostname;         // "" = the tier's
  std::vector<RlimitRequest> rlimits;
  std::vector<JoinedNamespace> joins;  // at most one per type
  // config.json root.readonly false: the bundle asks for a writable root,
  // which it gets only under a tier with container.writable_root.
  bool writable = false;
  // The OCI runtime mode only: never given to a plain `tierbox run`.
  std::optional<TerminationMessage> termination_message;
};

// `tierbox redteam`'s additions to its own simulated runs (docs/redteam.md,
// "What a simulation adds"): never read from a caller (no entry point fills
// them; run_task refuses them on a run that is not a simulation). Each one
// the plan carries is named in its overrides, so the request and start
// records say what the simulation added to the tier.
struct SimulationAdditions {
  std::string name;  // "redteam": the TaskInput's simulation
  // The scenario program's report channel: an fd of the runner's (a file it
  // reads after the run) passed to the task at the same number, beside the
  // tier's pass_fds (its stdout may be what a scenario floods). -1: none.
  int report_fd = -1;
  // A hex sha256 (as allowed_commands pins it): argv[0] may also be the file with this
  // content, beside the tier's allowed_commands (the scenario program in a
  // tier that lists only its own tools). "": nothing admitted.
  std::string admitted_command_sha256;
};

struct TaskRequest {
  std::optional<std::string> tier;                    // --tier
  std::optional<std::filesystem::path> profile_file;  // --profile
  std::optional<std::filesystem::path> workspace;     // --workspace, as given
  // Through the daemon: the workspace fd's identity, and whether the caller
  // may write to it (a writable tier workspace needs that).
  std::optional<FileIdentity> workspace_opened;
  std::optional<bool> workspace_writable_by_caller;
  std::optional<std::chrono::milliseconds> timeout;   // --timeout
  std::optional<std::string> cgroup_parent;            // --cgroup-parent
  std::vector<std::pair<std::string, std::string>> env_overrides;  // --env
  std::vector<int> pass_fds;                                        // --pass-fd: the numbers the task gets them at
  // Through the daemon: one per pass_fds, this process's fd that holds the
  // caller's fd of that number (its own numbers are its sessions'). Empty:
  // pass_fds are this process's own fds (a direct run).
  std::vector<int> pass_fd_sources;
  std::vector<std::pair<std::string, std::string>> secrets;        // --secret: name, value (read from a file or fd)
  std::vector<std::string> argv;
  // Widening (policy/widening.h): each needs the tier's `widening` to allow it.
  std::vector<ExtraBind> binds;                        // --bind, --bind-rw
  std::vector<std::string> allow_net;                  // --allow-net HOST:PORT/PROTO
  std::optional<std::uint64_t> memory;                 // --memory
  std::optional<std::uint64_t> pids;                   // --pids
  std::optional<std::uint32_t> cpu_millicores;         // --cpu
  // --allow-expired-tier: run although the tier's review_by date has passed
  // (recorded in the plan's overrides, for the audit trail).
  bool allow_expired_tier = false;
  std::map<std::string, std::string> caller_env;
  CallerIdentity caller;
  std::filesystem::path caller_cwd;
  // The image store a tier's `rootfs: image:NAME` is looked up in
  // (tierbox.json rootfs_dir).
  std::filesystem::path rootfs_store = "/var/lib/tierbox/rootfs";
  // Set by the OCI runtime mode only: the tier's host binds and symlinks are
  // then left out (the bundle's root replaces them; narrowing), its tmpfs
  // mounts stay, and the bundle's own binds come in as `binds` above.
  std::optional<ContainerRoot> container;
  std::optional<SimulationAdditions> simulation;
};

}  // namespace tierbox::policy
