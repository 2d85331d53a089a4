// Pods under a tier with network mode allowlist, on busybox-static bundles,
// talking only to a test host in a network namespace of this test
// (net_harness.h). A plain container of the tier first (its own allowlist
// network, as `tierbox run` gives one); then a pod: the pod sandbox
// container never enters the engine's namespace (/run/netns/NAME, with an
// unfiltered CNI interface) but gets the tier's own network, and the pod's
// application containers join that namespace by path, where the
// allowlist's nftables rules decide every packet whichever process sends
// it. Each refusal is paired with its control: the same destination
// answers when asked from the host, and the listed one answers from the
// same container.
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <fstream>
#include <string>

#include "harness.h"
#include "integration/net_harness.h"
#include "oci_fixture.h"
#include "oci_pod_fixture.h"

using namespace tierbox;
using namespace tierbox::testing;
using namespace tierbox::testing::oci_fixture;
using namespace tierbox::testing::oci_pod_fixture;

namespace {

constexpr std::uint16_t kListedPort = 8080;
constexpr std::uint16_t kUnlistedPort = 8081;

// A tier of the bundle's configuration allowing only host:kListedPort/tcp.
void write_allowlist_tier(const Bundle& b, const TestHost& host) {
  fs::create_directories(b.config / "tiers");
  const json tier = {{"extends", "untrusted"},
                     {"network",
                      {{"mode", "allowlist"}, {"allow", {host.address() + ":" + std::to_string(kListedPort) + "/tcp"}}}}};
  std::ofstream(b.config / "tiers" / "pod-allow.json") << tier.dump(2);
}

// A shell script printing NAME=what a TCP exchange with address:port gave:
// the echo server's "hi", or nc's error (a refused connect says "refused");
// echo's unquoted words drop the trailing space.
std::string reach(const std::string& name, const std::string& address, std::uint16_t port) {
  return "echo " + name + "=$(echo hi | timeout 10 nc -w 3 " + address + " " + std::to_string(port) +
         " 2>&1 | tr '\\n' ' '); ";
}

// The listed port, the unlisted one, the host's own service, and the
// interfaces seen.
std::string probe_script(const TestHost& host, const std::string& host_address, std::uint16_t host_port) {
  return reach("listed", host.address(), kListedPort) + reach("unlisted", host.address(), kUnlistedPort) +
         reach("host_service", host_address, host_port) +
         "echo net=$(readlink /proc/self/ns/net); "
         "echo interfaces=$(grep : /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort | tr '\\n' ' '); ";
}

// What a container may try on its network to get out of the rules: take
// the interface down, add an address, replace the default route. Each
// needs CAP_NET_ADMIN over the namespace, which no container has.
const char* const kChangeTheNetwork =
    "echo link_down=$(ip link set eth0 down 2>&1 && echo done); "
    "echo add_address=$(ip addr add 198.51.100.250/32 dev eth0 2>&1 && echo done); "
    "echo replace_route=$(ip route replace default dev eth0 2>&1 && echo done); "
    "echo link_state=$(ip -o link show eth0 | grep -o '[<,]UP[,>]'); ";

void expect_allowlist_held(const std::string& out, const std::string& who) {
  BOOST_TEST(value_of(out, "listed") == "hi", who + ": " + out);
  BOOST_TEST(contains(value_of(out, "unlisted"), "refused"), who + ": " + out);
  BOOST_TEST(contains(value_of(out, "host_service"), "refused"), who + ": " + out);
  BOOST_TEST(value_of(out, "interfaces") == "eth0 lo", who + ": " + out);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(oci_pod_network)

// The first thing a pod needs: a plain container of an allowlist tier gets
// the tier's network exactly as `tierbox run` gives it.
BOOST_AUTO_TEST_CASE(a_plain_container_of_an_allowlist_tier_gets_the_allowlist) {
  REQUIRE_BUSYBOX();
  TestHost host({"198.51.100"}, {kListedPort, kUnlistedPort}, {});
  HostListener host_service;
  const auto host_address = host_ipv4_address();
  // Controls: every destination answers when asked from the host.
  BOOST_TEST_REQUIRE(connect_from_host(host.address(), kUnlistedPort) == "ok");
  BOOST_TEST_REQUIRE(connect_from_host(host_address, host_service.port()) == "ok");
  auto config = bundle_config({"sh", "-c", probe_script(host, host_address, host_service.port())});
  config["annotations"]["io.tierbox.tier"] = "pod-allow";
  Bundle b(config);
  write_allowlist_tier(b, host);
  const auto ran = b.oci({"run", "--bundle", b.bundle.string(), "plain1"});
  BOOST_REQUIRE_MESSAGE(ran.status == 0, "run plain1: " + ran.err);
  expect_allowlist_held(ran.out, "plain container");
  BOOST_TEST(host.connections(kListedPort) >= 1);
  BOOST_TEST(host.connections(kUnlistedPort) == 1);  // the control's only
}

BOOST_AUTO_TEST_CASE(a_pod_shares_its_sandbox_allowlist_and_cannot_leave_it) {
  REQUIRE_BUSYBOX();
  EngineNetns netns;
  TestHost host({"198.51.100"}, {kListedPort, kUnlistedPort}, {});
  HostListener host_service;
  const auto host_address = host_ipv4_address();
  BOOST_TEST_REQUIRE(connect_from_host(host.address(), kUnlistedPort) == "ok");
  BOOST_TEST_REQUIRE(connect_from_host(host_address, host_service.port()) == "ok");
  Bundle b(pod_config({"sleep", "600"}, "podhost", "pod-allow", {{"network", netns.path.string()}}));
  write_allowlist_tier(b, host);
  DeleteAtEnd delete_sandbox{b, "asb"};
  const int pid = start_sandbox(b, "asb", b.bundle);
  const auto sandbox = b.runtime_state("asb");
  const pid_t sandbox_init = sandbox.at("sandbox_pid").get<int>();
  // The engine's namespace is recorded, not entered.
  BOOST_TEST(sandbox.at("engine_netns") == netns.path.string());
  BOOST_TEST(namespace_inode(sandbox_init, "net") != netns.inode());
  // The allowlist's rules are in the sandbox's namespace, the one its pod
  // joins (read from the host side, root, entering only that namespace).
  const auto rules = run_process({"/usr/bin/nsenter", "--net=/proc/" + std::to_string(sandbox_init) + "/ns/net",
                                  "/usr/sbin/nft", "list", "table", "inet", "tierbox"});
  BOOST_TEST(contains(rules.out, "not on the allowlist"), rules.out + rules.err);

  // Control: the pod sandbox container itself, through exec.
  const auto script = probe_script(host, host_address, host_service.port());
  const auto in_sandbox = b.oci({"exec", "asb", "sh", "-c", script});
  BOOST_REQUIRE_MESSAGE(in_sandbox.status == 0, "exec asb: " + in_sandbox.err);
  expect_allowlist_held(in_sandbox.out, "pod sandbox");

  // The application container, with the paths containerd gives: the
  // engine's network namespace again, the sandbox's IPC and UTS by pid.
  const auto proc = "/proc/" + std::to_string(pid) + "/ns/";
  const auto app = b.add_bundle("app", pod_config({"sh", "-c", script + kChangeTheNetwork}, "apphost", "pod-allow",
                                                  {{"network", netns.path.string()},
                                                   {"ipc", proc + "ipc"},
                                                   {"uts", proc + "uts"}}));
  const auto ran = b.oci({"run", "--bundle", app.string(), "aapp1"});
  BOOST_REQUIRE_MESSAGE(ran.status == 0, "run aapp1: " + ran.err);
  const auto& out = ran.out;
  BOOST_TEST(inode_of_link(value_of(out, "net")) == namespace_inode(sandbox_init, "net"), out);
  expect_allowlist_held(out, "application container");
  // It cannot change the namespace's network: no capability over it.
  for (const char* change : {"link_down", "add_address", "replace_route"}) {
    BOOST_TEST(!contains(value_of(out, change), "done"), out);
    BOOST_TEST(contains(value_of(out, change), "not permitted"), out);
  }
  BOOST_TEST(value_of(out, "link_state") == ",UP,", out);

  // The same namespace named by the pid of the pod sandbox's state, as
  // another engine may give it: the same rules.
  const auto by_pid = b.add_bundle("app-by-pid", pod_config({"sh", "-c", script}, "apphost", "pod-allow",
                                                           {{"network", proc + "net"}}));
  const auto ran_by_pid = b.oci({"run", "--bundle", by_pid.string(), "aapp2"});
  BOOST_REQUIRE_MESSAGE(ran_by_pid.status == 0, "run aapp2: " + ran_by_pid.err);
  BOOST_TEST(inode_of_link(value_of(ran_by_pid.out, "net")) == namespace_inode(sandbox_init, "net"), ran_by_pid.out);
  expect_allowlist_held(ran_by_pid.out, "container joined by pid");

  // No container's packet reached the unlisted port: only the control's.
  BOOST_TEST(host.connections(kUnlistedPort) == 1);
  BOOST_TEST(host.connections(kListedPort) >= 3);
  // The start records say whose network the application containers share
  // (their packets are counted in the pod sandbox's end record).
  int recorded = 0;
  for (const auto& record : b.audit_records()) {
    if (record.at("event") != "start" || !record.contains("container")) continue;
    const auto id = record.at("container").at("id").get<std::string>();
    if (id != "aapp1" && id != "aapp2") continue;
    ++recorded;
    for (const auto& joined : record.at("joined_namespaces")) BOOST_TEST(joined.at("owner") == "container asb");
  }
  BOOST_TEST(recorded == 2);
  BOOST_TEST(b.oci({"delete", "--force", "asb"}).status == 0);
}

BOOST_AUTO_TEST_SUITE_END()
