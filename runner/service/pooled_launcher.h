// A launcher that keeps, per tier, a few sandboxes prepared ahead of their
// requests (launch/prepared_sandbox.h): namespaces made, the tier's part of
// the root built, cgroup made, seccomp compiled. A launch takes one whose
// per-tier part matches its plan exactly (policy::prepared_key, plus the
// seccomp filters' cache key) and only adds the run's own part; otherwise it
// launches cold (launch::launch): it never fails for want of a warm one.
//
// Rules (issue 19, docs/launch-sequence.md "Prepared sandboxes"):
// - a prepared sandbox serves exactly one run, never two;
// - the pool learns what to prepare from its requests: the first launch of a
//   tier is cold and sets the pattern (its plan's tier part, nothing of the
//   request); a plan with another key (the tier, the inventory or the
//   image changed on disk, or another workspace layout) drops the tier's
//   prepared sandboxes and sets the new pattern;
// - sizes per tier from RunnerConfig::warm_pool_size_of (0: always cold);
// - refills happen on one background thread, woken when a launch ends (not
//   when it takes its sandbox: preparing competes with the run's last steps
//   for the CPUs), which blocks every signal (a
//   prepared child inherits the mask; PR_SET_PDEATHSIG ties it to that
//   thread, which lives as long as the launcher).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "launch/prepared_sandbox.h"
#include "service/launcher.h"

namespace tierbox::service {

class PooledLauncher final : public Launcher {
 public:
  struct Options {
    bool refill = true;  // false: only what prepare() adds (tests, the prepared launch path)
    // false: a launch that finds no prepared sandbox for a preparable plan
    // throws instead of launching cold (the prepared launch path's proof).
    bool cold_fallback = true;
  };
  explicit PooledLauncher(policy::RunnerConfig config, Options options);
  explicit PooledLauncher(policy::RunnerConfig config) : PooledLauncher(std::move(config), Options{}) {}
  ~PooledLauncher() override;
  PooledLauncher(const PooledLauncher&) = delete;
  PooledLauncher& operator=(const PooledLauncher&) = delete;

  launch::Outcome launch(const policy::LaunchPlan& plan, const policy::RunnerConfig& config,
                         const launch::LaunchHooks& hooks) override;

  // Prepares one sandbox for plan's tier part on the calling thread (beyond
  // the pool's size) and makes plan the tier's pattern. Throws Error, or
  // Error naming why the plan cannot take a prepared sandbox.
  void prepare(const policy::LaunchPlan& plan);
  // Waits until every tier with a pattern holds its size (or its refill
  // failed), at most timeout; false on timeout.
  bool wait_until_full(std::chrono::milliseconds timeout);

  struct Counts {
    std::uint64_t warm = 0;      // launches that took a prepared sandbox
    std::uint64_t cold = 0;      // launches that did not
    std::uint64_t prepared = 0;  // sandboxes prepared
    std::uint64_t dropped = 0;   // prepared and never used (stale key, died, shut down)
    std::size_t ready = 0;       // waiting now, all tiers
  };
  [[nodiscard]] Counts counts() const;

  // The key a plan's prepared sandbox is found by.
  static std::string key_of(const policy::LaunchPlan& plan);

 private:
  struct TierPool {
    std::string key;
    std::shared_ptr<const policy::LaunchPlan> pattern;  // policy::tier_part of a plan with this key
    std::deque<std::unique_ptr<launch::PreparedSandbox>> ready;
    bool refill_failed = false;  // until the next launch of the tier
  };
  using Dropped = std::deque<std::unique_ptr<launch::PreparedSandbox>>;

  // Under mutex_: sets the tier's pattern to plan's (dropping what was
  // prepared for another key into dropped).
  TierPool& pool_for(const policy::LaunchPlan& plan, const std::string& key, Dropped& dropped);
  [[nodiscard]] bool same_runner_config(const policy::RunnerConfig& config) const;
  [[nodiscard]] bool wants_more(const std::string& tier, const TierPool& pool) const;
  void refill_loop();

  const policy::RunnerConfig config_;
  const Options options_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;  // refill work or stop
  std::condition_variable filled_;
  std::map<std::string, TierPool> tiers_;
  Counts counts_;
  bool stopping_ = false;
  std::thread refill_;
};

// The prepared launch path, for tests: with TIERBOX_TEST_PREPARED_LAUNCH=1 a
// root `tierbox run` prepares one sandbox from its own plan's tier part, then
// launches through a PooledLauncher that must take it (docs/testing.md). A
// plan no sandbox can be prepared for (policy::why_not_preparable) launches
// cold, as the daemon's pool would.
class PreparedLaunchPath final : public Launcher {
 public:
  launch::Outcome launch(const policy::LaunchPlan& plan, const policy::RunnerConfig& config,
                         const launch::LaunchHooks& hooks) override;
  // The environment variable that selects this path in the CLI.
  static constexpr const char* kEnvironment = "TIERBOX_TEST_PREPARED_LAUNCH";
};

}  // namespace tierbox::service
