// How many of one caller's refused connections the daemon records one by one
// (docs/daemon.md, "Refusals in the audit log"). Every refused or malformed
// connection was an audit record, so a local user opening connections in a
// loop grew the root-owned log (and its fsyncs) without bound. Per uid, the
// first records_per_window refusals of a window are recorded one by one; the
// rest are only counted, by kind, and the count becomes one summary record
// when the window ends (or when the uid's next refusal comes after it, or
// when the daemon stops): nothing is lost silently. Pure bookkeeping with the
// time given by the caller (a fake clock in the tests); not thread-safe (the
// daemon holds it under a mutex: daemon/refusal_records.h).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace tierbox::daemon {

struct RefusalBudgetSettings {
  unsigned records_per_window = 20;
  std::chrono::seconds window{60};
  // Windows of single uids held at once. A local user with a subordinate
  // id range (/etc/subuid, newuidmap: 65536 uids on most distributions)
  // connects as any of its uids, each a uid of its own to the kernel
  // (SO_PEERCRED): past this many, a refusal of a uid without a window is
  // only counted, in one shared window (UnrecordedRefusals::others), so the
  // log takes at most max_uids * (records_per_window + 1) + 1 records per
  // window however many uids connect, and the map holds max_uids + 1.
  std::size_t max_uids = 64;
};

// One uid's window that left refusals unrecorded one by one.
struct UnrecordedRefusals {
  uid_t uid = 0;  // (uid_t)-1 with others
  std::string user_name;
  std::chrono::steady_clock::duration window{};  // from the window's first refusal to its end (or the stop)
  unsigned recorded = 0;                         // recorded one by one in it
  std::map<std::string, unsigned> by_kind;       // the others, by error code ("malformed": 180)
  bool others = false;  // the shared window of uids past max_uids: none recorded one by one
  [[nodiscard]] unsigned total() const;
};

class RefusalBudget {
 public:
  using Clock = std::chrono::steady_clock;
  explicit RefusalBudget(RefusalBudgetSettings settings);

  struct Admission {
    bool record = false;  // record this refusal one by one
    // uid's previous window, ended before now with refusals unrecorded: its
    // summary goes into the log first.
    std::optional<UnrecordedRefusals> ended;
  };
  // A refusal of uid's, of kind (the error code), at now.
  Admission admit(uid_t uid, const std::string& user_name, const std::string& kind, Clock::time_point now);
  // The windows ended by now: forgotten, and the summaries of those that left
  // refusals unrecorded.
  std::vector<UnrecordedRefusals> take_ended(Clock::time_point now);
  // Every window, ended or not (the daemon stops), as take_ended.
  std::vector<UnrecordedRefusals> take_all(Clock::time_point now);
  // When the first window in use ends; none when no uid has one.
  [[nodiscard]] std::optional<Clock::time_point> next_end() const;
  // The uids with a window in use (the map's size: it holds no other;
  // the shared window of uids past max_uids is not counted).
  [[nodiscard]] std::size_t uids() const { return windows_.size(); }
  [[nodiscard]] const RefusalBudgetSettings& settings() const { return settings_; }

 private:
  struct Window {
    Clock::time_point start;
    std::string user_name;
    unsigned recorded = 0;
    std::map<std::string, unsigned> unrecorded;
  };
  [[nodiscard]] std::optional<UnrecordedRefusals> summary(uid_t uid, const Window& window, Clock::time_point end) const;

  RefusalBudgetSettings settings_;
  std::map<uid_t, Window> windows_;
  std::optional<Window> others_;  // uids past max_uids
};

}  // namespace tierbox::daemon
