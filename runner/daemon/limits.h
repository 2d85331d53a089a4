// How many connections wait for their request and how many runs go on, per
// user and overall (docs/daemon.md, "Limits"). Pure bookkeeping under one
// mutex: a caller past a limit is refused at once with a line saying which
// limit, never queued behind the others.
#pragma once

#include <sys/types.h>

#include <map>
#include <mutex>
#include <string>

namespace tierbox::daemon {

struct LimitSettings {
  unsigned max_pending = 128;          // connections that have not asked yet, overall
  unsigned max_pending_per_user = 16;
  unsigned max_runs = 256;             // runs going on, overall
  unsigned max_runs_per_user = 32;
};

class Limits {
 public:
  explicit Limits(LimitSettings settings) : settings_(settings) {}
  // "" and counted, or the refusal.
  std::string admit_connection(uid_t uid);
  void connection_done(uid_t uid);  // left before it ran (or was refused)
  // Turns one of uid's pending connections into a run; "" or the refusal
  // (the connection then stays pending until connection_done).
  std::string admit_run(uid_t uid);
  void run_done(uid_t uid);
  [[nodiscard]] unsigned runs() const;
  [[nodiscard]] unsigned pending() const;

 private:
  LimitSettings settings_;
  mutable std::mutex mutex_;
  std::map<uid_t, unsigned> pending_by_user_;
  std::map<uid_t, unsigned> runs_by_user_;
  unsigned pending_ = 0;
  unsigned runs_ = 0;
};

}  // namespace tierbox::daemon
