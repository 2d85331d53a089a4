// The parent's side of network modes (docs/network.md). Mode none needs
// nothing here: the sandbox's new network namespace has only lo, which the
// child brings up. Mode host needs nothing either: no network namespace.
// Mode allowlist is carried out by the network helper, tierbox-net (a
// dynamically linked program: libmnl and libnftnl have no static archives),
// which the runner starts before clone and talks to over a socketpair.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/unique_fd.h"
#include "net/report.h"
#include "net/run_network.h"
#include "policy/launch_plan.h"
#include "policy/runner_config.h"

namespace tierbox::stages {

// tierbox-net, installed next to the tierbox executable.
std::filesystem::path network_helper_path();

// The run's network: its /30 from the pool (config.network_pool) by run
// slot, the allow rules, and with names the run's resolver's settings.
// Throws Refusal when an allowed block overlaps the pool, Error when the
// pool has no subnet for the slot or no upstream resolver is known.
net::RunNetwork plan_run_network(const policy::EgressPlan& egress, const policy::RunnerConfig& config, unsigned slot,
                                 const std::string& run_id, const std::filesystem::path& slot_lock);

// One allowlist run's helper.
class NetworkSession {
 public:
  // Starts tierbox-net, hands it the run slot's lock and the slot's
  // host-wide id lock (it keeps both until it has removed everything, even
  // if this runner dies: the slot's two locks live and end together) and
  // sends it the prepare request, which it carries out while the runner clones.
  NetworkSession(const net::RunNetwork& network, int slot_lock_fd, int id_lock_fd);
  // Unless finished: closes the channel, upon which the helper removes
  // everything; waits (bounded) for it to exit.
  ~NetworkSession();
  NetworkSession(const NetworkSession&) = delete;
  NetworkSession& operator=(const NetworkSession&) = delete;

  [[nodiscard]] pid_t helper_pid() const { return pid_; }
  // Gives the helper the sandbox's network namespace (it attaches it once
  // prepare is done); does not wait.
  void begin_attach(int sandbox_netns_fd);
  // Returns when the network is ready (with the helper's notes for -v).
  // Throws Error with the helper's one-line reason.
  std::vector<std::string> wait_attached();
  // The counters, with the run's nft objects already removed; the helper
  // then deletes the veth pair (the kernel takes ~20 ms for that) and exits
  // on its own, holding the slot until it is done.
  net::NetworkReport finish();

 private:

  UniqueFd channel_;
  pid_t pid_ = -1;
  bool finished_ = false;
};

// After the task: the session's report. If the helper failed (or died), a
// warning, and the run's network removed by a fresh helper that borrows
// this run's slot lock; no report then.
std::optional<net::NetworkReport> finish_network(NetworkSession& session, const net::RunNetwork& network,
                                                 int slot_lock_fd);

// Live isolation (for incident response): cuts every packet of a running
// allowlist sandbox at once; an established connection stops. network is
// RunRecord.resources["network"]. Throws Error.
void isolate_network(const nlohmann::json& network, pid_t sandbox_pid);

// For `tierbox gc`: removes what a dead run's network left on the host,
// holding the run slot's lock meanwhile (slot_lock_fd: a lock this process
// already holds; otherwise the helper takes it, and touches nothing if a
// live run holds the slot).
std::vector<std::string> clean_up_network(const nlohmann::json& network, int slot_lock_fd = -1);

// The report of a run whose network is not counted (modes none and host).
net::NetworkReport uncounted_network_report(policy::NetworkMode mode);

}  // namespace tierbox::stages
