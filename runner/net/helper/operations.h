// What the network helper does for one run, in the order the runner asks
// for it (docs/network.md):
//   prepare  host-wide settings on first use, the run's host chains and set
//            elements (before the sandbox exists, while the runner clones)
//   attach   the veth pair into the sandbox's namespace, addresses, route,
//            and the sandbox's own table (before the task starts)
//   finish   the counters, then everything of the run removed
// and, outside a launch, isolate (cut a running sandbox's network) and clean
// (what `tierbox gc` asks after a crash).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/unique_fd.h"
#include "net/report.h"
#include "net/run_network.h"

namespace tierbox::net::helper {

class NetlinkSocket;
class Resolver;

class RunSession {
 public:
  explicit RunSession(RunNetwork network);
  ~RunSession();
  RunSession(const RunSession&) = delete;
  RunSession& operator=(const RunSession&) = delete;

  // Returns notes for the runner's -v output (e.g. "net.ipv4.ip_forward set to 1").
  std::vector<std::string> prepare();
  void attach(UniqueFd sandbox_netns);
  // The counters; the run's nft objects are removed, its veth pair not yet
  // (remove_host_objects() does that, after the runner has its answer).
  NetworkReport finish();
  // Removes the run's host objects; safe to call more than once.
  std::vector<std::string> remove_host_objects();
  [[nodiscard]] bool attached() const { return static_cast<bool>(sandbox_netns_); }
  // The run's resolver, once attached, if the allow list has names.
  [[nodiscard]] Resolver* resolver() { return resolver_.get(); }

 private:
  void add_run_chains();
  UniqueFd configure_sandbox_side();
  void open_address(std::size_t entry, Ipv4Address address, std::uint32_t seconds);

  RunNetwork network_;
  EgressPolicy policy_;
  UniqueFd host_netns_;
  UniqueFd sandbox_netns_;
  std::unique_ptr<NetlinkSocket> host_route_;
  std::unique_ptr<NetlinkSocket> host_netfilter_;
  std::unique_ptr<NetlinkSocket> sandbox_netfilter_;  // keeps the namespace readable after the sandbox ends
  std::unique_ptr<Resolver> resolver_;
  // Until when each (name entry, address) is open in both sets, as far as
  // this helper made it so.
  std::map<std::pair<std::size_t, std::uint32_t>, std::chrono::steady_clock::time_point> opened_until_;
  bool host_objects_made_ = false;
  bool rules_removed_ = false;
  UniqueFd subnet_lock_;  // held while this helper lives (operations.cpp open_subnet_lock)
};

// Cuts all of a running sandbox's traffic at once, checked against the
// namespace the run recorded. Throws std::runtime_error.
void isolate(const RunNetwork& network, pid_t sandbox_pid);

// gc: removes what a dead run left, holding its slot's lock meanwhile; if a
// live run holds the slot it owns those names now and nothing is touched.
// inherited_lock: the slot lock's fd when the caller lends it (-1: none).
std::vector<std::string> clean(const RunNetwork& network, int inherited_lock);

}  // namespace tierbox::net::helper
