// The network section of a profile, the pool of the runner configuration,
// and what the planner makes of them (pinned names, /etc files, refusals).
#include <boost/test/unit_test.hpp>

#include <algorithm>

#include "common/errors.h"
#include "common/temp_dir.h"
#include "profile_text.h"
#include "policy/planner.h"
#include "policy/profile_loader.h"
#include "policy/runner_config.h"

using namespace tierbox;
using namespace tierbox::policy;
using namespace tierbox::testing;

namespace {

// A kernel with every Landlock restriction (the shipped untrusted tier requires it).
tierbox::policy::HostFacts landlock_facts() {
  tierbox::policy::HostFacts facts;
  facts.landlock_abi = 7;
  return facts;
}

TaskRequest request() {
  TaskRequest request;
  request.argv = {"/bin/true"};
  return request;
}

const MountOp* file_op(const LaunchPlan& plan, const std::string& target) {
  for (const auto& op : plan.mount_ops)
    if (op.target == target) return &op;
  return nullptr;
}

net::Ipv4Address ip(const char* text) { return *net::parse_ipv4(text); }

}  // namespace

BOOST_AUTO_TEST_SUITE(network_policy)

BOOST_AUTO_TEST_CASE(allowlist_lists_destinations) {
  TempDir dir;
  auto profile = load_text(dir, R"({"extends": "untrusted", "network": {"mode": "allowlist",
      "allow": ["api.github.com:443/tcp", "10.20.0.0/16:5432/tcp", "198.51.100.7:53/udp"]}})");
  BOOST_TEST((profile.network.mode == NetworkMode::allowlist));
  BOOST_TEST_REQUIRE(profile.network.allow.size() == 3u);
  BOOST_TEST(profile.network.allow[0].host_name == "api.github.com");
  BOOST_TEST(profile.network.allow[1].block->to_string() == "10.20.0.0/16");
  BOOST_TEST(network_warnings(profile.network).empty());
}

BOOST_AUTO_TEST_CASE(bad_entries_name_their_json_pointer_and_the_fix) {
  auto message = load_error(TempDir{}, R"({"network": {"mode": "allowlist", "allow": ["api.github.com:443/tcp", "api.github.com:443"]}})");
  BOOST_TEST(message.find("/network/allow/1") != std::string::npos, message);
  BOOST_TEST(message.find("expected HOST:PORT/PROTO") != std::string::npos, message);
  message = load_error(TempDir{}, R"({"network": {"mode": "allowlist", "allow": ["[::1]:443/tcp"]}})");
  BOOST_TEST(message.find("IPv6") != std::string::npos, message);
  message = load_error(TempDir{}, R"({"network": {"mode": "everything"}})");
  BOOST_TEST(message.find("\"none\", \"allowlist\" or \"host\"") != std::string::npos, message);
  message = load_error(TempDir{}, R"({"network": {"mode": "allowlist", "allowed": []}})");
  BOOST_TEST(message.find("allowed") != std::string::npos, message);
}

BOOST_AUTO_TEST_CASE(mode_and_allow_must_agree_across_the_chain) {
  auto message = load_error(TempDir{}, R"({"network": {"mode": "allowlist"}})");
  BOOST_TEST(message.find("nothing allowed") != std::string::npos, message);
  message = load_error(TempDir{}, R"({"network": {"mode": "none", "allow": ["api.github.com:443/tcp"]}})");
  BOOST_TEST(message.find("mode is \"none\"") != std::string::npos, message);
  // A tier extending a networked one can turn the network off, with allow [].
  TempDir dir;
  dir.write("tiers/networked-base.json", R"({"extends": "untrusted", "network": {"mode": "allowlist", "allow": ["api.github.com:443/tcp"]}})");
  BOOST_CHECK_THROW(load_text(dir, R"({"extends": "networked-base", "network": {"mode": "none"}})"), ConfigError);
  auto off = load_text(dir, R"({"extends": "networked-base", "network": {"mode": "none", "allow": []}})");
  BOOST_TEST((off.network.mode == NetworkMode::none));
  auto inherited = load_text(dir, R"({"extends": "networked-base", "description": "same network"})");
  BOOST_TEST(inherited.network.allow.size() == 1u);
}

BOOST_AUTO_TEST_CASE(host_mode_loads_with_a_warning) {
  TempDir dir;
  auto profile = load_text(dir, R"({"extends": "untrusted", "network": {"mode": "host"}})");
  BOOST_TEST((profile.network.mode == NetworkMode::host));
  auto warnings = network_warnings(profile.network);
  BOOST_TEST_REQUIRE(warnings.size() == 1u);
  BOOST_TEST(warnings[0].find("trusted tiers only") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(the_shipped_networked_tier_is_an_allowlist) {
  auto profile = load_tier("networked", {kShipped});
  BOOST_TEST((profile.network.mode == NetworkMode::allowlist));
  BOOST_TEST(!profile.network.allow.empty());
  for (const char* tier : {"untrusted", "readonly", "workspace-write"})
    BOOST_TEST((load_tier(tier, {kShipped}).network.mode == NetworkMode::none), tier);
}

BOOST_AUTO_TEST_CASE(the_pool_is_configurable_and_must_hold_every_run) {
  TempDir dir;
  BOOST_TEST(load_runner_config({dir.path()}).network_pool.to_string() == "10.210.0.0/16");
  dir.write("tierbox.json", R"({"network_pool": "10.99.0.0/18"})");
  BOOST_TEST(load_runner_config({dir.path()}).network_pool.to_string() == "10.99.0.0/18");
  dir.write("tierbox.json", R"({"network_pool": "10.99.0.0/24"})");
  try {
    load_runner_config({dir.path()});
    BOOST_ERROR("a /24 cannot hold 4096 runs");
  } catch (const ConfigError& error) {
    BOOST_TEST(std::string(error.what()).find("holds 64 run subnets") != std::string::npos, error.what());
  }
  dir.write("tierbox.json", R"({"network_pool": "10.99.0.0/24", "max_concurrent_runs": 64})");
  BOOST_TEST(load_runner_config({dir.path()}).network_pool.prefix == 24);
  dir.write("tierbox.json", R"({"network_pool": "10.99.0.1/24"})");
  BOOST_CHECK_THROW(load_runner_config({dir.path()}), ConfigError);
}

BOOST_AUTO_TEST_CASE(names_are_pinned_in_etc_hosts_and_dns_resolves_nothing) {
  TempDir dir;
  auto profile = load_text(dir, R"({"extends": "untrusted", "network": {"mode": "allowlist", "names": "pinned",
      "allow": ["api.example.com:443/tcp", "api.example.com:8443/tcp", "10.20.0.0/16:5432/tcp"]}})");
  HostFacts facts = landlock_facts();
  facts.resolved_names["api.example.com"] = {ip("198.51.100.7"), ip("198.51.100.8")};
  auto plan = make_plan(profile, request(), facts, "run1");
  BOOST_TEST_REQUIRE(plan.egress.has_value());
  BOOST_TEST(plan.egress->allow.size() == 5u);  // 2 addresses x 2 ports + the block
  BOOST_TEST_REQUIRE(plan.egress->pinned_hosts.size() == 1u);
  BOOST_TEST(plan.egress->pinned_hosts[0].addresses.size() == 2u);
  const auto* hosts = file_op(plan, "etc/hosts");
  BOOST_TEST_REQUIRE(hosts);
  BOOST_TEST(hosts->data.find("198.51.100.7\tapi.example.com\n198.51.100.8\tapi.example.com\n") != std::string::npos, hosts->data);
  BOOST_TEST(hosts->data.find("127.0.0.1\tlocalhost") != std::string::npos);
  const auto* nsswitch = file_op(plan, "etc/nsswitch.conf");
  BOOST_TEST_REQUIRE(nsswitch);
  BOOST_TEST(nsswitch->data.find("hosts: files\n") != std::string::npos, nsswitch->data);
  const auto* resolver = file_op(plan, "etc/resolv.conf");
  BOOST_TEST_REQUIRE(resolver);
  BOOST_TEST(resolver->data.find("nameserver 127.0.0.1") != std::string::npos);
  const auto explicit_block = std::find_if(plan.egress->allow.begin(), plan.egress->allow.end(),
                                           [](const auto& rule) { return rule.given_as_address; });
  BOOST_TEST_REQUIRE((explicit_block != plan.egress->allow.end()));
  BOOST_TEST(explicit_block->block.to_string() == "10.20.0.0/16");
}

BOOST_AUTO_TEST_CASE(a_name_resolving_into_a_denied_range_is_refused) {
  TempDir dir;
  auto profile = load_text(dir, R"({"extends": "untrusted", "network": {"mode": "allowlist", "names": "pinned", "allow": ["api.example.com:443/tcp"]}})");
  for (const char* address : {"169.254.169.254", "10.0.0.5", "127.0.0.1", "100.100.100.200"}) {
    HostFacts facts = landlock_facts();
    facts.resolved_names["api.example.com"] = {ip("198.51.100.7"), ip(address)};
    try {
      make_plan(profile, request(), facts, "run1");
      BOOST_ERROR("no refusal for " << address);
    } catch (const Refusal& refusal) {
      BOOST_TEST(std::string(refusal.what()).find(std::string("resolves to ") + address) != std::string::npos, refusal.what());
    }
  }
  BOOST_CHECK_THROW(make_plan(profile, request(), landlock_facts(), "run1"), Error);  // not resolved at all
}

BOOST_AUTO_TEST_CASE(by_default_names_go_to_the_runs_resolver_and_nothing_is_resolved_at_launch) {
  TempDir dir;
  auto profile = load_text(dir, R"({"extends": "untrusted", "network": {"mode": "allowlist",
      "allow": ["api.example.com:443/tcp", "*.cdn.example.com:443/tcp", "10.20.0.0/16:5432/tcp"]}})");
  BOOST_TEST((profile.network.names == NameResolution::resolver));
  // No resolved_names in the facts: a launch needs no DNS.
  auto plan = make_plan(profile, request(), landlock_facts(), "run1");
  BOOST_TEST_REQUIRE(plan.egress.has_value());
  BOOST_TEST(plan.egress->allow.size() == 1u);  // the block
  BOOST_TEST(plan.egress->pinned_hosts.empty());
  BOOST_TEST_REQUIRE(plan.egress->names.size() == 2u);
  BOOST_TEST(plan.egress->names[0].pattern == "api.example.com");
  BOOST_TEST(plan.egress->names[1].pattern == "*.cdn.example.com");
  BOOST_TEST(plan.egress->names[1].origin == "*.cdn.example.com:443/tcp");
  BOOST_TEST(file_op(plan, "etc/nsswitch.conf")->data.find("hosts: files dns\n") != std::string::npos);
  BOOST_TEST(file_op(plan, "etc/resolv.conf")->data.find("nameserver 127.0.0.53\n") != std::string::npos);
  BOOST_TEST(file_op(plan, "etc/hosts")->data.find("api.example.com") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(wildcards_cannot_be_pinned_and_must_name_a_domain) {
  TempDir dir;
  try {
    load_text(dir, R"({"extends": "untrusted", "network": {"mode": "allowlist", "names": "pinned", "allow": ["*.example.com:443/tcp"]}})");
    BOOST_ERROR("a pinned wildcard was accepted");
  } catch (const ConfigError& error) {
    BOOST_TEST(std::string(error.what()).find("cannot be pinned") != std::string::npos, error.what());
  }
  for (const char* bad : {"*.com:443/tcp", "*:443/tcp", "a.*.example.com:443/tcp", "**.example.com:443/tcp", "*.-x.example.com:443/tcp"})
    BOOST_TEST(std::holds_alternative<std::string>(tierbox::net::parse_destination(bad)), bad);
  BOOST_CHECK_THROW(load_text(dir, R"({"extends": "untrusted", "network": {"mode": "allowlist", "names": "sometimes", "allow": ["a.example.com:443/tcp"]}})"),
                    ConfigError);
}

BOOST_AUTO_TEST_CASE(resolver_settings_come_from_tierbox_json_and_resolv_conf) {
  TempDir dir;
  auto defaults = load_runner_config({dir.path()});
  BOOST_TEST(!defaults.dns_upstream.has_value());
  BOOST_TEST(defaults.dns_min_ttl_seconds == 60u);
  dir.write("tierbox.json", R"({"dns_upstream": "192.0.2.53:5353", "dns_min_ttl_seconds": 5, "dns_max_ttl_seconds": 600,
                               "dns_queries_per_second": 10, "dns_outstanding": 4})");
  auto config = load_runner_config({dir.path()});
  BOOST_TEST_REQUIRE(config.dns_upstream.has_value());
  BOOST_TEST(config.dns_upstream->address.to_string() == "192.0.2.53");
  BOOST_TEST(config.dns_upstream->port == 5353);
  BOOST_TEST(config.dns_max_ttl_seconds == 600u);
  for (const char* bad : {R"({"dns_upstream": "resolver.example"})", R"({"dns_upstream": "192.0.2.53:0"})",
                          R"({"dns_min_ttl_seconds": 100, "dns_max_ttl_seconds": 10})", R"({"dns_queries_per_second": 0})"}) {
    dir.write("tierbox.json", bad);
    BOOST_CHECK_THROW(load_runner_config({dir.path()}), ConfigError);
  }
  const auto resolv = dir.write("resolv.conf", "# comment\nsearch example\nnameserver fe80::1\nnameserver 192.0.2.1\nnameserver 192.0.2.2\n");
  auto host = host_resolver(resolv);
  BOOST_TEST_REQUIRE(host.has_value());
  BOOST_TEST(host->address.to_string() == "192.0.2.1");
  BOOST_TEST(!host_resolver(dir.write("empty.conf", "search example\n")).has_value());
}

BOOST_AUTO_TEST_CASE(none_and_host_modes) {
  auto none = make_plan(load_tier("untrusted", {kShipped}), request(), landlock_facts(), "run1");
  BOOST_TEST(!none.egress.has_value());
  BOOST_TEST(!file_op(none, "etc/resolv.conf"));
  BOOST_TEST(file_op(none, "etc/nsswitch.conf")->data.find("hosts: files dns") != std::string::npos);
  TempDir dir;
  auto host = make_plan(load_text(dir, R"({"extends": "untrusted", "network": {"mode": "host"}})"), request(), landlock_facts(), "run1");
  BOOST_TEST((host.network == NetworkMode::host));
  const auto* resolver = file_op(host, "etc/resolv.conf");
  BOOST_TEST_REQUIRE(resolver);
  BOOST_TEST((resolver->kind == MountOp::Kind::attach_prepared));
  BOOST_TEST(host.prepared_mounts[static_cast<std::size_t>(resolver->prepared)].source == "/etc/resolv.conf");
  BOOST_TEST(host.prepared_mounts[static_cast<std::size_t>(resolver->prepared)].optional);
}

BOOST_AUTO_TEST_SUITE_END()
