// Network test fixtures: test hosts in network namespaces of this test
// process (never a real address: 198.51.100.0/24 and 203.0.113.0/24, the
// documentation ranges, and one private range, 172.30.254.0/24), each joined
// to the host by a veth pair and a /32 route, with TCP and UDP echo servers;
// and a way to run tierbox with a hosts file of the test's own (a private
// mount namespace: the host's /etc is never touched).
//
// Every name a fixture creates on the host carries this process's pid, and
// the destructor removes it.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/temp_dir.h"
#include "common/unique_fd.h"
#include "integration/harness.h"

namespace tierbox::testing {

// One /24 of a test network pool (tierbox.json network_pool) for this
// process alone: the third octet, claimed by binding the abstract unix
// socket "<name_prefix><octet>" (the pid alone is no unique choice: suites
// run in parallel processes). A tierbox.json with a state_dir of its own
// needs a pool of its own too (docs/network.md): run slots, and with them
// the subnets and the host's interface and chain names, are counted per
// state_dir, so two state_dirs on the default pool hand the same names to
// two live runs, and each run's setup removes the other's as left over. The
// kernel releases the name when the socket closes: nothing is left on the host.
struct PoolClaim {
  UniqueFd lock;
  unsigned third_octet = 0;
  explicit PoolClaim(const std::string& name_prefix);
};

// A tierbox.json host_id_base for this process alone: 0x60000000 + K *
// 0x1000 for a K claimed as PoolClaim claims an octet (below the default
// 0x70000000; 4096 ids, room for any test's max_concurrent_runs). Slots are
// counted per state_dir but host ids are the host's (/run/tierbox-ids, one
// lock per id: runner/launch/run_slot.h), so on the default base a run of
// this test takes the slot whose id no other test's live run holds: a test
// that needs a known slot (slot 0 and its subnet), or a small
// max_concurrent_runs that other processes' runs must not use up, takes a
// base of its own. The claim bounds the ids, and so the empty lock files
// they leave in /run/tierbox-ids, to 256 ranges.
struct HostIdRange {
  PoolClaim claim{"tierbox-test-host-ids-"};
  [[nodiscard]] uid_t base() const { return 0x60000000u + claim.third_octet * 0x1000u; }
};

// Runs argv; fails the test unless it exits 0 (or allow_failure).
ProcessResult run_or_fail(const std::vector<std::string>& argv, bool allow_failure = false);

class TestHost {
 public:
  // ranges: the first three octets of each address to take, e.g.
  // {"198.51.100", "172.30.254"}; one free address is picked in each.
  TestHost(const std::vector<std::string>& ranges, const std::vector<std::uint16_t>& tcp_ports,
           const std::vector<std::uint16_t>& udp_ports);
  ~TestHost();
  TestHost(const TestHost&) = delete;
  TestHost& operator=(const TestHost&) = delete;

  [[nodiscard]] const std::string& address(std::size_t index = 0) const { return addresses_.at(index); }
  [[nodiscard]] const std::string& interface() const { return host_interface_; }
  // Connections accepted and bytes received on a TCP port, datagrams on a UDP port.
  [[nodiscard]] int connections(std::uint16_t tcp_port) const;
  [[nodiscard]] long received_bytes(std::uint16_t port) const;
  // Waits (up to 5 s) until the server has accepted at least count connections on the port.
  bool wait_for_connections(std::uint16_t tcp_port, int count) const;
  // Datagrams on udp_port get the handler's reply instead of their echo
  // (nullopt: no reply). Called on the server's thread.
  using DatagramHandler = std::function<std::optional<std::string>(const std::string& request)>;
  void set_datagram_handler(std::uint16_t udp_port, DatagramHandler handler);

 private:
  void serve(int stop_fd);
  void tear_down();

  std::vector<std::string> addresses_;
  std::string host_interface_;
  std::vector<std::uint16_t> tcp_ports_;
  std::vector<std::uint16_t> udp_ports_;
  std::thread server_;
  // Start-up handshake with the server thread (members: the thread may wake
  // after the constructor has returned).
  std::mutex startup_mutex_;
  std::condition_variable startup_;
  bool started_ = false;
  bool configured_ = false;
  bool serving_ = false;  // listening: a connection now finds the servers
  std::string thread_error_;
  int stop_fd_ = -1;
  pid_t thread_id_ = 0;
  mutable std::mutex mutex_;
  std::map<std::uint16_t, int> connections_;
  std::map<std::uint16_t, long> received_;
  std::map<std::uint16_t, DatagramHandler> handlers_;
};

// A TCP listener on the host itself (0.0.0.0, an ephemeral port), accepting
// in the background: what a sandbox must never reach.
class HostListener {
 public:
  HostListener();
  ~HostListener();
  [[nodiscard]] std::uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

// A TCP connect from the host itself (the controls): "ok", "timeout" or the errno name.
std::string connect_from_host(const std::string& address, std::uint16_t port);

// The host's first IPv4 address that is not loopback (its "own address").
std::string host_ipv4_address();

// The command prefix that runs what follows in a private mount namespace
// where /etc/hosts is hosts_file and /etc/nsswitch.conf says "hosts: files"
// (so no test ever asks a real DNS server).
std::vector<std::string> with_hosts_file(const std::string& hosts_file, const std::string& nsswitch_file);

// The `network report: {...}` line of `run -v`'s stderr.
std::optional<nlohmann::json> network_report_from(const std::string& err);
// The run id from `run -v` ("run ID registered").
std::string run_id_from(const std::string& err);
// The helper's host interface from `run -v` ("host interface tbx...").
std::string host_interface_from(const std::string& err);

// Writes a profile extending the shipped `untrusted` tier with these network settings.
std::string write_network_profile(const TempDir& dir, const std::string& name, const nlohmann::json& network);

// The lines of `nft list table inet tierbox` that are one pool's runs' own:
// their chains (named "sandbox-<tag>...", tag_prefix being the pool's hex),
// whole, and the lines of the shared maps and sets that contain one of
// markers (their interface names, their addresses). Not the rules of other
// runs' chains: every allowlist run refuses the host's addresses as they
// were at its launch, and these include the host-side veth addresses of the
// pool's runs alive then, so a run of another pool (another test suite) may
// name this pool's addresses until it ends.
std::vector<std::string> nft_lines_of_pool(const std::string& tag_prefix, const std::vector<std::string>& markers);

}  // namespace tierbox::testing
