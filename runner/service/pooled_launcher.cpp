#include "service/pooled_launcher.h"

#include <pthread.h>
#include <signal.h>

#include "common/digest.h"
#include "common/errors.h"
#include "common/logging.h"
#include "common/run_id.h"
#include "policy/plan_split.h"
#include "stages/seccomp_cache.h"

namespace tierbox::service {

PooledLauncher::PooledLauncher(policy::RunnerConfig config, Options options)
    : config_(std::move(config)), options_(options) {
  if (options_.refill) refill_ = std::thread([this] { refill_loop(); });
}

PooledLauncher::~PooledLauncher() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (refill_.joinable()) refill_.join();
  // Each kills and reaps its child and removes its cgroup.
  tiers_.clear();
}

std::string PooledLauncher::key_of(const policy::LaunchPlan& plan) {
  // The seccomp filters follow from the tier's section by a pure function of
  // this build: their cache key stands for them.
  return sha256_hex(policy::prepared_key(plan) + "\n" + stages::seccomp_cache_key(plan.seccomp));
}

bool PooledLauncher::same_runner_config(const policy::RunnerConfig& config) const {
  // What a prepared sandbox was made with: its state, ids and cgroup place.
  return config.state_dir == config_.state_dir && config.host_id_base == config_.host_id_base &&
         config.max_concurrent_runs == config_.max_concurrent_runs && config.cgroup_parent == config_.cgroup_parent;
}

bool PooledLauncher::wants_more(const std::string& tier, const TierPool& pool) const {
  return pool.pattern && !pool.refill_failed && pool.ready.size() < config_.warm_pool_size_of(tier);
}

PooledLauncher::TierPool& PooledLauncher::pool_for(const policy::LaunchPlan& plan, const std::string& key,
                                                   Dropped& dropped) {
  auto& pool = tiers_[plan.tier];
  if (pool.key != key) {
    // The tier, its inventory or its image changed on disk (or the request's
    // workspace has another layout): what was prepared is stale.
    if (!pool.ready.empty()) logging::step("warm pool: tier '{}' changed, {} prepared sandboxes dropped", plan.tier, pool.ready.size());
    counts_.dropped += pool.ready.size();
    for (auto& sandbox : pool.ready) dropped.push_back(std::move(sandbox));
    pool.ready.clear();
    pool.key = key;
    pool.pattern = std::make_shared<const policy::LaunchPlan>(policy::tier_part(plan));
  }
  pool.refill_failed = false;
  return pool;
}

launch::Outcome PooledLauncher::launch(const policy::LaunchPlan& plan, const policy::RunnerConfig& config,
                                       const launch::LaunchHooks& hooks) {
  const auto why_not = policy::why_not_preparable(plan);
  std::unique_ptr<launch::PreparedSandbox> taken;
  Dropped dropped;  // destroyed outside the lock (each kills and reaps a child)
  if (why_not.empty() && same_runner_config(config) &&
      (config_.warm_pool_size_of(plan.tier) > 0 || !options_.refill)) {
    const auto key = key_of(plan);
    std::lock_guard lock(mutex_);
    auto& pool = pool_for(plan, key, dropped);
    while (!pool.ready.empty() && !taken) {
      auto sandbox = std::move(pool.ready.front());
      pool.ready.pop_front();
      if (sandbox->waiting()) {
        taken = std::move(sandbox);
      } else {
        ++counts_.dropped;  // its child died or failed while waiting
        dropped.push_back(std::move(sandbox));
      }
    }
    ++(taken ? counts_.warm : counts_.cold);
  } else {
    std::lock_guard lock(mutex_);
    ++counts_.cold;
  }
  // The refill waits until this run has ended (below): preparing a sandbox
  // (a clone3 of this process, a root built) on the other CPU would compete
  // with the run's own last steps and its task on this 2-CPU-class machine,
  // and a run's request is rarely followed by the next within its own time.
  struct WakeRefillAtEnd {
    std::condition_variable& wake;
    ~WakeRefillAtEnd() { wake.notify_one(); }
  } wake_at_end{wake_};
  dropped.clear();
  if (!taken && why_not.empty() && !options_.cold_fallback)
    throw Error("tier '" + plan.tier + "': no prepared sandbox matches this run's plan, and this launcher does not launch cold",
                exit_code::runner_failed);
  if (!taken) {
    logging::step("warm pool: none ready for tier '{}'{}; launching cold", plan.tier, why_not.empty() ? "" : " (" + why_not + ")");
    return launch::launch(plan, config, hooks);
  }
  logging::step("warm pool: tier '{}' takes prepared sandbox {}", plan.tier, taken->id());
  return launch::run_prepared(std::move(taken), plan, config, hooks);
}

void PooledLauncher::prepare(const policy::LaunchPlan& plan) {
  if (const auto why_not = policy::why_not_preparable(plan); !why_not.empty())
    throw Error("tier '" + plan.tier + "': no sandbox can be prepared ahead for this run (" + why_not + ")",
                exit_code::runner_failed);
  const auto key = key_of(plan);
  std::shared_ptr<const policy::LaunchPlan> pattern;
  Dropped dropped;
  {
    std::lock_guard lock(mutex_);
    pattern = pool_for(plan, key, dropped).pattern;
  }
  dropped.clear();
  auto sandbox = launch::PreparedSandbox::prepare(*pattern, config_, new_run_id());
  std::lock_guard lock(mutex_);
  auto& pool = tiers_[plan.tier];
  if (pool.key != key) {
    ++counts_.dropped;
    return;  // destroyed on return, outside nothing
  }
  ++counts_.prepared;
  pool.ready.push_back(std::move(sandbox));
}

bool PooledLauncher::wait_until_full(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return filled_.wait_for(lock, timeout, [&] {
    for (const auto& [tier, pool] : tiers_)
      if (wants_more(tier, pool)) return false;
    return true;
  });
}

PooledLauncher::Counts PooledLauncher::counts() const {
  std::lock_guard lock(mutex_);
  auto counts = counts_;
  counts.ready = 0;
  for (const auto& [tier, pool] : tiers_) counts.ready += pool.ready.size();
  return counts;
}

void PooledLauncher::refill_loop() {
  // A prepared child inherits this thread's mask: every signal blocked until
  // its own steps reset them for the task.
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, nullptr);
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    std::string tier;
    for (const auto& [name, pool] : tiers_)
      if (wants_more(name, pool)) {
        tier = name;
        break;
      }
    if (tier.empty()) {
      filled_.notify_all();
      wake_.wait(lock);
      continue;
    }
    const auto key = tiers_[tier].key;
    const auto pattern = tiers_[tier].pattern;
    lock.unlock();
    std::unique_ptr<launch::PreparedSandbox> sandbox;
    std::string failure;
    try {
      sandbox = launch::PreparedSandbox::prepare(*pattern, config_, new_run_id());
    } catch (const std::exception& error) {
      failure = error.what();
    }
    lock.lock();
    auto& pool = tiers_[tier];
    if (!sandbox) {
      // Not retried in a loop: the tier's next launch (cold) tries again.
      logging::warn("warm pool: tier '{}': a sandbox could not be prepared: {}", tier, failure);
      if (pool.key == key) pool.refill_failed = true;
      continue;
    }
    if (pool.key != key || stopping_) {
      ++counts_.dropped;
      lock.unlock();
      sandbox.reset();
      lock.lock();
      continue;
    }
    ++counts_.prepared;
    logging::step("warm pool: tier '{}': sandbox {} prepared ({} ready)", tier, sandbox->id(), pool.ready.size() + 1);
    pool.ready.push_back(std::move(sandbox));
  }
  filled_.notify_all();
}

launch::Outcome PreparedLaunchPath::launch(const policy::LaunchPlan& plan, const policy::RunnerConfig& config,
                                           const launch::LaunchHooks& hooks) {
  PooledLauncher pool(config, PooledLauncher::Options{false, false});
  if (policy::why_not_preparable(plan).empty()) {
    pool.prepare(plan);
    logging::step("prepared launch path: sandbox prepared for tier '{}'", plan.tier);
  }
  return pool.launch(plan, config, hooks);
}

}  // namespace tierbox::service
