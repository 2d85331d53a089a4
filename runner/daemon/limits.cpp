#include "daemon/limits.h"

namespace tierbox::daemon {
namespace {

void decrement(std::map<uid_t, unsigned>& counts, uid_t uid) {
  const auto found = counts.find(uid);
  if (found == counts.end()) return;
  if (--found->second == 0) counts.erase(found);
}

}  // namespace

std::string Limits::admit_connection(uid_t uid) {
  std::lock_guard lock(mutex_);
  if (pending_ >= settings_.max_pending)
    return "the daemon has " + std::to_string(pending_) + " connections waiting (max_pending); try again shortly";
  if (pending_by_user_[uid] >= settings_.max_pending_per_user)
    return "uid " + std::to_string(uid) + " has " + std::to_string(pending_by_user_[uid]) +
           " connections waiting (max_pending_per_user " + std::to_string(settings_.max_pending_per_user) + ")";
  ++pending_by_user_[uid];
  ++pending_;
  return "";
}

void Limits::connection_done(uid_t uid) {
  std::lock_guard lock(mutex_);
  decrement(pending_by_user_, uid);
  if (pending_ > 0) --pending_;
}

std::string Limits::admit_run(uid_t uid) {
  std::lock_guard lock(mutex_);
  if (runs_ >= settings_.max_runs)
    return "the daemon runs " + std::to_string(runs_) + " tasks (max_runs " + std::to_string(settings_.max_runs) +
           "); try again when one ends";
  const auto mine = runs_by_user_.count(uid) ? runs_by_user_[uid] : 0U;
  if (mine >= settings_.max_runs_per_user)
    return "uid " + std::to_string(uid) + " already runs " + std::to_string(mine) + " tasks (max_runs_per_user " +
           std::to_string(settings_.max_runs_per_user) + "); try again when one ends";
  ++runs_by_user_[uid];
  ++runs_;
  decrement(pending_by_user_, uid);
  if (pending_ > 0) --pending_;
  return "";
}

void Limits::run_done(uid_t uid) {
  std::lock_guard lock(mutex_);
  decrement(runs_by_user_, uid);
  if (runs_ > 0) --runs_;
}

unsigned Limits::runs() const {
  std::lock_guard lock(mutex_);
  return runs_;
}

unsigned Limits::pending() const {
  std::lock_guard lock(mutex_);
  return pending_;
}

}  // namespace tierbox::daemon
