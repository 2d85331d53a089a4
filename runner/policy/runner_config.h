// The runner's own settings (not a tier's): where state lives and which host
// ids sandboxes get. Read from the first tierbox.json found in the config
// search directories; every field has a safe default, so none is required.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "net/address_plan.h"
#include "net/ipv4.h"

namespace tierbox::policy {

struct DnsUpstream {
  net::Ipv4Address address;
  std::uint16_t port = 53;
};

struct RunnerConfig {
  std::string default_tier = "untrusted";
  // Host ids of sandboxes: inside root maps to host_id_base, the task of run
  // slot N to host_id_base + 1 + N. The default, 0x70000000, lies above
  // systemd's container range (0x80000-0x6fffffff), far from any real user.
  uid_t host_id_base = 0x70000000;
  unsigned max_concurrent_runs = 4096;
  std::filesystem::path state_dir = "/run/tierbox";
  // Allowlist runs take their /30 from here, by run slot (docs/network.md).
  net::Ipv4Cidr network_pool = *net::parse_ipv4_cidr(net::kDefaultPool);
  // Where runs' cgroups are made, in every hierarchy (e.g. /tierbox.slice):
  // a subtree the administrator grants tierbox. "" is below the runner's own
  // cgroup. --cgroup-parent may name a cgroup below either.
  std::string cgroup_parent;
  // Members of this group (/etc/group) may control every run: ps, stop,
  // kill, freeze, thaw, isolate, panic (docs/incident-response.md). "" for
  // none: then only root and each run's requester.
  std::string operators_group;
  // The audit trail (docs/governance.md): the log ("" for the default,
  // /var/log/tierbox/audit.jsonl; --audit-log and $TIERBOX_AUDIT_LOG come
  // first), and the unix datagram socket every record is also sent to (""
  // for none, "/dev/log" for syslog or journald).
  std::string audit_log;
  std::string audit_syslog;
  // Pending approval requests, where approvers (unprivileged users) read
  // them and reach the waiting runner: one directory, 0755, root's.
  std::filesystem::path approvals_dir = "/run/tierbox-approvals";
  // Persistent governance state: the grant keys trusted (grant-keys.json)
  // and the nonces of grants used (grants-used/). Kept across reboots, so a
  // grant cannot be replayed after one.
  std::filesystem::path governance_dir = "/var/lib/tierbox";
  // The root filesystem image store (rootfs/store.h): persistent, beside
  // the governance state, since a tier pins its images by digest.
  std::filesystem::path rootfs_dir = "/var/lib/tierbox/rootfs";
  // Sandboxes a resident launcher (tierboxd) keeps prepared per tier ahead
  // of requests (service/pooled_launcher.h); 0 disables. warm_pool.size for
  // every tier, warm_pool.tiers.NAME for one.
  unsigned warm_pool_size = 2;
  std::map<std::string, unsigned> warm_pool_tiers;
  [[nodiscard]] unsigned warm_pool_size_of(const std::string& tier) const {
    const auto found = warm_pool_tiers.find(tier);
    return found == warm_pool_tiers.end() ? warm_pool_size : found->second;
  }
  // The run's resolver (allowlist tiers with names, docs/network.md): the
  // upstream it asks (unset: the first IPv4 nameserver of the host's
  // resolv.conf), the bounds of an opened address's lifetime, and how much
  // one task may ask.
  std::optional<DnsUpstream> dns_upstream;
  std::filesystem::path host_resolv_conf = "/etc/resolv.conf";
  std::uint32_t dns_min_ttl_seconds = 60;
  std::uint32_t dns_max_ttl_seconds = 3600;
  // 200 a second: a package manager fetching in parallel asks A and AAAA
  // for every connection (glibc caches nothing), far below a flood.
  std::uint32_t dns_queries_per_second = 200;
  std::uint32_t dns_outstanding = 64;
  // How long `tierbox gc` keeps a staged run's layer (docs/staged-writes.md);
  // the layer is memory (a tmpfs), so it is not kept forever.
  std::chrono::hours staged_retention{24 * 7};
  std::filesystem::path source;  // the file it came from, if any
};

RunnerConfig load_runner_config(const std::vector<std::filesystem::path>& dirs);

// "192.0.2.53" or "192.0.2.53:5353".
std::optional<DnsUpstream> parse_dns_upstream(const std::string& text);
// The first IPv4 nameserver of a resolv.conf (port 53); nullopt if none.
std::optional<DnsUpstream> host_resolver(const std::filesystem::path& resolv_conf);

}  // namespace tierbox::policy
