// Gathers the host facts the planner needs, so make_plan itself stays free of
// syscalls: the workspace's canonical path and owner, what the tier's mounts
// would expose of the host's data (policy/data_access.h), how the command
// resolves in the sandbox (policy/commands.h), and today's date. This file and
// its LinuxHostView are the only policy code that makes system calls. For
// mode allowlist it also resolves network.allow's names.
#pragma once

#include "policy/data_classes.h"
#include "policy/host_view.h"
#include "policy/planner.h"
#include "policy/request.h"
#include "rootfs/store.h"

namespace tierbox::policy {

// The host as the runner sees it (fd-based walks, never following a symlink
// it was not asked to follow).
class LinuxHostView final : public HostView {
 public:
  [[nodiscard]] std::optional<std::string> real_path(const std::string& path) const override;
  [[nodiscard]] EntryType entry_type(const std::string& path) const override;
  [[nodiscard]] std::optional<std::string> read_link(const std::string& path) const override;
  [[nodiscard]] bool is_executable_file(const std::string& path) const override;
  [[nodiscard]] std::optional<std::vector<std::pair<std::string, EntryType>>> list_directory(
      const std::string& path) const override;
  [[nodiscard]] std::string sha256_of_file(const std::string& path) const override;
  [[nodiscard]] BeneathState inspect_beneath(const std::string& root,
                                             const std::vector<std::string>& relative) const override;
  [[nodiscard]] WalkResult walk(const std::string& root, const WalkLimits& limits,
                                const WalkVisitor& visitor) const override;
  [[nodiscard]] std::map<std::string, std::string> home_directories() const override;
  [[nodiscard]] std::optional<std::uint64_t> filesystem_of(const std::string& path) const override;
  [[nodiscard]] std::optional<MountBelow> kernel_filesystem_below(const std::string& path) const override;

 private:
  // /proc/self/mountinfo, read once per view (one launch): a node with
  // thousands of mounts would pay for each bind otherwise.
  mutable std::optional<std::string> mountinfo_;
};

// The facts of the store's image NAME; nullopt when the store has none.
// Throws Error when its manifest does not match its digest.
std::optional<RootfsImageFacts> image_facts(const rootfs::Store& store, const std::string& name);

// Each caller bind source not yet opened (the daemon's client opens its
// caller's): opened once, its path replaced by the path of what was opened
// (no symbolic link left in it) and its identity recorded, so that the tree
// mounted is the one the checks saw (stages/prepared_mounts.cpp compares
// them). Otherwise a link in a directory a sandbox can write (a pod's
// writable volume) could point at an allowed tree while the checks run and
// at a forbidden one when the tree is opened. A source that cannot be
// opened is left for the checks and the mount to name.
void pin_bind_sources(TaskRequest& request);

// Today's date, UTC.
Date today_utc();

// profile: the tier as loaded; the caller's widening (policy/widening.h) is
// applied here as in make_plan. never_visible: see assess_data_access.
HostFacts gather_host_facts(const TaskRequest& request, const Profile& tier, const DataClassInventory& inventory,
                            const HostView& view, const std::vector<std::string>& never_visible = {});

// The IPv4 addresses the host's resolver gives for name (getaddrinfo:
// /etc/hosts, then DNS, as nsswitch.conf says). Throws Error when it gives none.
std::vector<net::Ipv4Address> resolve_ipv4(const std::string& name);

// The kernel's Landlock ABI (landlock_create_ruleset with
// LANDLOCK_CREATE_RULESET_VERSION), 0 when it has none or it is disabled.
int kernel_landlock_abi();

}  // namespace tierbox::policy
