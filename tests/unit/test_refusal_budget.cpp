// daemon::RefusalBudget with a fake clock: how many of a uid's refused
// connections are recorded one by one in a window, the count of the rest,
// the uids' independence, the summary at the window's end, at the uid's next
// refusal and at a stop, and the map holding only windows in use.
#include <boost/test/unit_test.hpp>

#include "daemon/refusal_budget.h"
#include "daemon/refusal_records.h"

using namespace tierbox::daemon;
using namespace std::chrono_literals;

namespace {

const RefusalBudget::Clock::time_point t0{std::chrono::hours(1000)};

// n refusals of uid at now: how many were to be recorded one by one.
unsigned refuse(RefusalBudget& budget, uid_t uid, const std::string& kind, unsigned n, RefusalBudget::Clock::time_point now) {
  unsigned recorded = 0;
  for (unsigned i = 0; i < n; ++i) {
    const auto admission = budget.admit(uid, "u" + std::to_string(uid), kind, now);
    BOOST_TEST(!admission.ended.has_value());
    recorded += admission.record;
  }
  return recorded;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(daemon_refusal_budget)

BOOST_AUTO_TEST_CASE(the_first_n_of_a_window_are_recorded_and_the_rest_counted_by_kind) {
  RefusalBudget budget({3, 10s});
  BOOST_TEST(refuse(budget, 1000, "malformed", 2, t0) == 2U);
  BOOST_TEST(refuse(budget, 1000, "malformed", 5, t0 + 1s) == 1U);
  BOOST_TEST(refuse(budget, 1000, "busy", 4, t0 + 9s) == 0U);
  BOOST_TEST(budget.take_ended(t0 + 9s).empty());  // the window goes on
  const auto ended = budget.take_ended(t0 + 10s);
  BOOST_REQUIRE(ended.size() == 1U);
  BOOST_TEST(ended[0].uid == 1000U);
  BOOST_TEST(ended[0].user_name == "u1000");
  BOOST_TEST(ended[0].recorded == 3U);
  BOOST_TEST(ended[0].by_kind.at("malformed") == 4U);
  BOOST_TEST(ended[0].by_kind.at("busy") == 4U);
  BOOST_TEST(ended[0].total() == 8U);
  BOOST_TEST((ended[0].window == 10s));
  BOOST_TEST(budget.uids() == 0U);  // forgotten once summed up
  // A new window: recorded one by one again.
  BOOST_TEST(refuse(budget, 1000, "malformed", 3, t0 + 11s) == 3U);
}

BOOST_AUTO_TEST_CASE(each_uid_has_its_own_budget) {
  RefusalBudget budget({2, 10s});
  BOOST_TEST(refuse(budget, 1000, "malformed", 50, t0) == 2U);
  // Control: another uid in the same window is recorded one by one.
  BOOST_TEST(refuse(budget, 1001, "timeout", 2, t0 + 1s) == 2U);
  BOOST_TEST(budget.uids() == 2U);
  // Each window ends 10 s after its own first refusal.
  const auto first = budget.take_ended(t0 + 10s);
  BOOST_REQUIRE(first.size() == 1U);
  BOOST_TEST(first[0].uid == 1000U);
  BOOST_TEST(first[0].total() == 48U);
  BOOST_TEST(budget.uids() == 1U);
  BOOST_TEST((budget.next_end() == t0 + 11s));
  // A window that stayed within its budget ends with no summary.
  BOOST_TEST(budget.take_ended(t0 + 11s).empty());
  BOOST_TEST(budget.uids() == 0U);
  BOOST_TEST(!budget.next_end().has_value());
}

BOOST_AUTO_TEST_CASE(the_uids_next_refusal_after_its_window_brings_the_summary_first) {
  RefusalBudget budget({1, 10s});
  BOOST_TEST(refuse(budget, 1000, "malformed", 4, t0) == 1U);
  const auto admission = budget.admit(1000, "u1000", "busy", t0 + 25s);
  BOOST_TEST(admission.record);  // the first of a new window
  BOOST_REQUIRE(admission.ended.has_value());
  BOOST_TEST(admission.ended->total() == 3U);
  BOOST_TEST((admission.ended->window == 10s));  // the window's length, not the gap to now
  // Summed up once: the new window has nothing unrecorded yet.
  BOOST_TEST(budget.take_ended(t0 + 40s).empty());
}

BOOST_AUTO_TEST_CASE(a_stop_sums_up_every_window_ended_or_not) {
  RefusalBudget budget({1, 60s});
  BOOST_TEST(refuse(budget, 1000, "malformed", 3, t0) == 1U);
  BOOST_TEST(refuse(budget, 1001, "busy", 1, t0) == 1U);  // within budget: nothing to sum up
  const auto all = budget.take_all(t0 + 5s);
  BOOST_REQUIRE(all.size() == 1U);
  BOOST_TEST(all[0].total() == 2U);
  BOOST_TEST((all[0].window == 5s));  // cut short by the stop
  BOOST_TEST(budget.uids() == 0U);
}

BOOST_AUTO_TEST_CASE(the_summary_record_names_the_counts) {
  UnrecordedRefusals refusals{1000, "alice", 10s, 20, {{"malformed", 178}, {"no_request", 2}}};
  const auto record = unrecorded_refusals_record(refusals, {20, 10s});
  BOOST_TEST(record["event"] == "daemon");
  BOOST_TEST(record["action"] == "refusals_not_recorded");
  BOOST_TEST(record["count"] == 180);
  BOOST_TEST(record["recorded"] == 20);
  BOOST_TEST(record["not_recorded"]["malformed"] == 178);
  BOOST_TEST(record["user"]["uid"] == 1000);
  const std::string detail = record["detail"];
  BOOST_TEST(detail.find("180 more refused connections of uid 1000 in 10.0 s, after the 20 recorded one by one (at most 20 per 10 s): malformed 178, no_request 2") == 0U, detail);
}

// A user with a subordinate id range connects as thousands of uids: past
// max_uids, a uid without a window is only counted, in one shared window
// whose summary is one record; the uids with a window keep theirs (the
// control), and once the windows end a new uid is recorded again.
BOOST_AUTO_TEST_CASE(uids_past_max_uids_share_one_window_recorded_only_in_its_summary) {
  RefusalBudget budget(RefusalBudgetSettings{2, 10s, 3});
  unsigned recorded = 0;
  for (uid_t uid = 100000; uid < 101000; ++uid) recorded += refuse(budget, uid, "refused", 5, t0);
  BOOST_TEST(recorded == 6U);  // 3 uids, 2 each
  BOOST_TEST(budget.uids() == 3U);
  BOOST_TEST(refuse(budget, 100001, "malformed", 1, t0 + 1s) == 0U);  // its own window, spent
  BOOST_TEST((budget.next_end() == t0 + 10s));
  const auto ended = budget.take_ended(t0 + 10s);
  BOOST_REQUIRE(ended.size() == 4U);
  unsigned own = 0;
  for (const auto& window : ended) {
    if (!window.others) {
      ++own;
      BOOST_TEST(window.recorded == 2U);
      continue;
    }
    BOOST_TEST(window.uid == static_cast<uid_t>(-1));
    BOOST_TEST(window.recorded == 0U);
    BOOST_TEST(window.total() == 997U * 5U);
    const auto record = unrecorded_refusals_record(window, budget.settings());
    BOOST_TEST(record["count"] == 997U * 5U);
    BOOST_TEST(record["others"] == true);
    BOOST_TEST(record.value("detail", "").find("refused connections of uids past the 3 with a window of their own") !=
                   std::string::npos,
               record.dump());
  }
  BOOST_TEST(own == 3U);
  BOOST_TEST(budget.uids() == 0U);
  BOOST_TEST(!budget.next_end().has_value());
  // Control: the windows over, a uid that was only counted is recorded again.
  BOOST_TEST(refuse(budget, 100999, "refused", 3, t0 + 11s) == 2U);
}

// At the stop, the shared window's summary as well.
BOOST_AUTO_TEST_CASE(the_shared_window_is_summed_up_at_a_stop) {
  RefusalBudget budget(RefusalBudgetSettings{1, 10s, 1});
  BOOST_TEST(refuse(budget, 1000, "refused", 1, t0) == 1U);
  BOOST_TEST(refuse(budget, 1001, "refused", 4, t0) == 0U);
  const auto all = budget.take_all(t0 + 1s);
  BOOST_REQUIRE(all.size() == 1U);
  BOOST_TEST(all[0].others);
  BOOST_TEST(all[0].total() == 4U);
}

BOOST_AUTO_TEST_SUITE_END()
