#include "policy/runner_config.h"

#include <fstream>
#include <limits>
#include <sstream>

#include "common/errors.h"
#include "policy/json_reader.h"
#include "policy/profile_loader.h"

namespace tierbox::policy {
namespace {


// Each prepared sandbox holds a run slot, a cgroup and a process.
constexpr std::uint64_t kMaxWarmPool = 64;

}  // namespace

RunnerConfig load_runner_config(const std::vector<std::filesystem::path>& dirs) {
  RunnerConfig config;
  for (const auto& dir : dirs) {
    const auto file = dir / "tierbox.json";
    if (!config_file_exists(file)) continue;
    config.source = file;
    const auto document = read_json_file(file.string());
    JsonObjectReader reader(document, file.string(), "");
    reader.string("comment");
    if (auto tier = reader.string("default_tier")) {
      if (!is_valid_tier_name(*tier)) reader.fail("default_tier", "expected a tier name");
      config.default_tier = *tier;
    }
    if (auto base = reader.unsigned_integer("host_id_base", std::numeric_limits<uid_t>::max() - 1)) {
      if (*base < 65536) reader.fail("host_id_base", "must be at least 65536, above every regular user and group");
      config.host_id_base = static_cast<uid_t>(*base);
    }
    if (auto runs = reader.unsigned_integer("max_concurrent_runs", 65536)) {
      if (*runs == 0) reader.fail("max_concurrent_runs", "must be at least 1");
      config.max_concurrent_runs = static_cast<unsigned>(*runs);
    }
    if (auto state = reader.absolute_path("state_dir")) config.state_dir = *state;
    if (auto pool = reader.string("network_pool")) {
      auto parsed = net::parse_ipv4_cidr(*pool);
      if (!parsed || parsed->prefix < 8 || parsed->prefix > net::kRunSubnetPrefix)
        reader.fail("network_pool", "expected an IPv4 block between /8 and /30 with the host bits zero, e.g. \"10.210.0.0/16\"");
      config.network_pool = *parsed;
    }
    if (auto parent = reader.absolute_path("cgroup_parent")) config.cgroup_parent = *parent;
    if (auto group = reader.string("operators_group")) {
      if (group->empty() || group->find_first_of(":,\n ") != std::string::npos)
        reader.fail("operators_group", "expected the name of a group in /etc/group, e.g. \"tierbox-operators\"");
      config.operators_group = *group;
    }
    if (auto audit_log = reader.absolute_path("audit_log")) config.audit_log = *audit_log;
    if (auto syslog = reader.absolute_path("audit_syslog")) config.audit_syslog = *syslog;
    if (auto approvals = reader.absolute_path("approvals_dir")) config.approvals_dir = *approvals;
    if (auto governance = reader.absolute_path("governance_dir")) config.governance_dir = *governance;
    if (auto rootfs = reader.absolute_path("rootfs_dir")) config.rootfs_dir = *rootfs;
    if (auto pool = reader.object("warm_pool")) {
      if (auto size = pool->unsigned_integer("size", kMaxWarmPool)) config.warm_pool_size = static_cast<unsigned>(*size);
      if (auto tiers = pool->object("tiers")) {
        for (const auto& [tier, value] : document["warm_pool"]["tiers"].items()) {
          if (!is_valid_tier_name(tier)) tiers->fail(tier, "expected a tier name");
          config.warm_pool_tiers[tier] = static_cast<unsigned>(*tiers->unsigned_integer(tier, kMaxWarmPool));
        }
        tiers->finish();
      }
      pool->finish();
    }
    if (auto upstream = reader.string("dns_upstream")) {
      config.dns_upstream = parse_dns_upstream(*upstream);
      if (!config.dns_upstream) reader.fail("dns_upstream", "expected an IPv4 address, optionally with a port, e.g. \"192.0.2.53\" or \"192.0.2.53:5353\"");
    }
    if (auto minimum = reader.unsigned_integer("dns_min_ttl_seconds", 86400)) config.dns_min_ttl_seconds = static_cast<std::uint32_t>(*minimum);
    if (auto maximum = reader.unsigned_integer("dns_max_ttl_seconds", 7 * 86400)) {
      if (*maximum == 0) reader.fail("dns_max_ttl_seconds", "must be at least 1");
      config.dns_max_ttl_seconds = static_cast<std::uint32_t>(*maximum);
    }
    if (config.dns_min_ttl_seconds > config.dns_max_ttl_seconds)
      reader.fail("dns_min_ttl_seconds", "is above dns_max_ttl_seconds (fix: lower it, or raise dns_max_ttl_seconds)");
    if (auto rate = reader.unsigned_integer("dns_queries_per_second", 100000)) {
      if (*rate == 0) reader.fail("dns_queries_per_second", "must be at least 1");
      config.dns_queries_per_second = static_cast<std::uint32_t>(*rate);
    }
    if (auto outstanding = reader.unsigned_integer("dns_outstanding", 4096)) {
      if (*outstanding == 0) reader.fail("dns_outstanding", "must be at least 1");
      config.dns_outstanding = static_cast<std::uint32_t>(*outstanding);
    }
    if (auto retention = reader.duration("staged_retention")) {
      if (retention->count() <= 0) reader.fail("staged_retention", "expected a positive duration, e.g. \"7d\"");
      config.staged_retention = std::chrono::duration_cast<std::chrono::hours>(*retention);
    }
    reader.finish();
    if (net::pool_capacity(config.network_pool) < config.max_concurrent_runs)
      throw ConfigError(file.string(), "/network_pool",
                        config.network_pool.to_string() + " holds " + std::to_string(net::pool_capacity(config.network_pool)) +
                            " run subnets (/30) but max_concurrent_runs is " + std::to_string(config.max_concurrent_runs) +
                            " (fix: a larger pool, e.g. a /18 for 4096 runs, or lower max_concurrent_runs)");
    if (static_cast<std::uint64_t>(config.host_id_base) + 1 + config.max_concurrent_runs >= 0xffffffffULL)
      throw ConfigError(file.string(), "/host_id_base", "host_id_base + max_concurrent_runs exceeds the uid range");
    break;
  }
  return config;
}

std::optional<DnsUpstream> parse_dns_upstream(const std::string& text) {
  const auto colon = text.find(':');
  auto address = net::parse_ipv4(text.substr(0, colon));
  if (!address) return std::nullopt;
  DnsUpstream upstream{*address, 53};
  if (colon != std::string::npos) {
    const auto digits = text.substr(colon + 1);
    if (digits.empty() || digits.size() > 5 || digits.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
    const auto port = std::stoul(digits);
    if (port == 0 || port > 65535) return std::nullopt;
    upstream.port = static_cast<std::uint16_t>(port);
  }
  return upstream;
}

std::optional<DnsUpstream> host_resolver(const std::filesystem::path& resolv_conf) {
  std::ifstream in(resolv_conf);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string keyword, value;
    if (!(words >> keyword >> value) || keyword != "nameserver") continue;
    if (auto address = net::parse_ipv4(value)) return DnsUpstream{*address, 53};
  }
  return std::nullopt;
}

}  // namespace tierbox::policy
