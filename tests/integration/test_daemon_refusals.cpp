// tierbox daemon's records of refused connections under a flood: a local
// user who opens malformed connections in a loop gets the first
// --refusal-records of each --refusal-window recorded one by one and the rest
// counted in one summary record (docs/daemon.md, "Refusals in the audit
// log"); another user's refusal in the same window is still recorded one by
// one, and the log's chain still verifies.
#include <boost/test/unit_test.hpp>

#include "integration/daemon_fixture.h"

using namespace tierbox::testing;
using nlohmann::json;

namespace {

// As uid (in a child of the test): count connections to the daemon, each
// sending body as a frame and reading the reply up to the daemon's close.
// How many replies held answer.
int connections(const Daemon& daemon, uid_t uid, int count, const std::string& body, const std::string& answer) {
  int answered[2];
  BOOST_REQUIRE(::pipe2(answered, O_CLOEXEC) == 0);
  const pid_t child = ::fork();
  if (child == 0) {
    const gid_t gid = *tierbox::group_id("users");
    if (::setgroups(0, nullptr) != 0 || ::setresgid(gid, gid, gid) != 0 || ::setresuid(uid, uid, uid) != 0) ::_exit(2);
    int replies = 0;
    const auto frame = RawClient::frame(body);
    for (int i = 0; i < count; ++i) {
      const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_un address{};
      address.sun_family = AF_UNIX;
      std::strncpy(address.sun_path, daemon.socket().c_str(), sizeof address.sun_path - 1);
      timeval timeout{20, 0};
      ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
      if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
          ::send(fd, frame.data(), frame.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(frame.size())) {
        char buffer[512];
        std::string reply;
        for (ssize_t n; (n = ::read(fd, buffer, sizeof buffer)) > 0;) reply.append(buffer, static_cast<std::size_t>(n));
        replies += reply.find(answer) != std::string::npos;
      }
      ::close(fd);
    }
    (void)!::write(answered[1], &replies, sizeof replies);
    ::_exit(0);
  }
  ::close(answered[1]);
  int replies = -1;
  (void)!::read(answered[0], &replies, sizeof replies);
  ::close(answered[0]);
  ::waitpid(child, nullptr, 0);
  return replies;
}

int malformed_connections(const Daemon& daemon, uid_t uid, int count) {
  return connections(daemon, uid, count, "not json", "malformed");
}

struct RecordsOf {
  int one_by_one = 0;       // protocol_error records
  int profile_refused = 0;  // profile_refused records (a run the policy refused)
  std::vector<json> summaries;  // refusals_not_recorded records
};

RecordsOf records_of(const Daemon& daemon, uid_t uid) {
  RecordsOf found;
  for (const auto& record : daemon.records()) {
    if (record.value("event", "") == "profile_refused" && record["user"]["uid"].get<uid_t>() == uid)
      ++found.profile_refused;
    if (record.value("event", "") != "daemon" || record["user"]["uid"].get<uid_t>() != uid) continue;
    found.one_by_one += record.value("action", "") == "protocol_error";
    if (record.value("action", "") == "refusals_not_recorded") found.summaries.push_back(record);
  }
  return found;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(daemon_refusal_records)

BOOST_AUTO_TEST_CASE(a_flood_of_malformed_connections_is_recorded_within_the_budget_and_counted_in_one_summary) {
  DaemonUsers users;
  Daemon daemon(users.group);
  // A window long enough for the flood to fit in one on a loaded machine.
  daemon.start({"--refusal-records", "20", "--refusal-window", "15"});
  const uid_t alice = DaemonUsers::uid(users.alice);
  const uid_t bob = DaemonUsers::uid(users.bob);
  const auto flood_began = std::chrono::steady_clock::now();
  BOOST_REQUIRE(malformed_connections(daemon, alice, 200) == 200);  // each refused, budget or not
  const auto flood = std::chrono::steady_clock::now() - flood_began;
  BOOST_TEST_MESSAGE("200 malformed connections in " << std::chrono::duration_cast<std::chrono::milliseconds>(flood).count() << " ms");
  BOOST_REQUIRE_MESSAGE(flood < std::chrono::seconds(15), "the flood outlasted the window: the counts below would span two");
  // Control: bob's refusal in alice's window is recorded one by one.
  BOOST_REQUIRE(malformed_connections(daemon, bob, 1) == 1);
  BOOST_TEST(records_of(daemon, bob).one_by_one == 1);
  BOOST_TEST(records_of(daemon, bob).summaries.empty());
  // Within the window: alice's first 20 only, no summary yet.
  BOOST_TEST(records_of(daemon, alice).one_by_one == 20);
  // When it ends, the summary of the other 180 (the daemon's own timer).
  BOOST_REQUIRE_MESSAGE(wait_until([&] { return !records_of(daemon, alice).summaries.empty(); }, std::chrono::seconds(40)),
                        "no refusals_not_recorded record of alice's within 40 s of her flood (the window is 15 s)");
  auto alice_records = records_of(daemon, alice);
  BOOST_TEST(alice_records.one_by_one == 20);
  BOOST_REQUIRE(alice_records.summaries.size() == 1U);
  const auto summary = alice_records.summaries[0];
  BOOST_TEST(summary["count"] == 180, summary.dump());
  BOOST_TEST(summary["recorded"] == 20, summary.dump());
  BOOST_TEST(summary["not_recorded"] == json({{"malformed", 180}}), summary.dump());
  BOOST_TEST(summary.value("detail", "").find("180 more refused connections of uid " + std::to_string(alice)) == 0U, summary.dump());

  // A new window: 20 recorded again; the daemon's stop writes the summary
  // of the 10 others, its window not yet over.
  BOOST_REQUIRE(malformed_connections(daemon, alice, 30) == 30);
  BOOST_TEST(daemon.stop() == 0);
  alice_records = records_of(daemon, alice);
  BOOST_TEST(alice_records.one_by_one == 40);
  BOOST_REQUIRE(alice_records.summaries.size() == 2U);
  BOOST_TEST(alice_records.summaries[1]["count"] == 10, alice_records.summaries[1].dump());
  // Every record in the chain: the log verifies.
  const auto verified = run_tierbox({"audit", "verify", "--audit-log", daemon.log()});
  BOOST_TEST(verified.status == 0, verified.out + verified.err);
}

// A well-formed run the policy refuses (a tier that does not exist) costs
// one connection and no sandbox: admitted, then refused with a
// profile_refused record. A flood of them is within the same budget (it was
// one record per connection). The control: bob's one refused run in the
// same window is recorded, and the refusal itself reaches every caller.
BOOST_AUTO_TEST_CASE(a_flood_of_runs_the_policy_refuses_is_recorded_within_the_budget) {
  DaemonUsers users;
  Daemon daemon(users.group);
  daemon.start({"--refusal-records", "5", "--refusal-window", "30"});
  const uid_t alice = DaemonUsers::uid(users.alice);
  const uid_t bob = DaemonUsers::uid(users.bob);
  const std::string run = R"({"tierbox": 1, "type": "run", "tier": "no-such-tier", "argv": ["/bin/true"]})";
  BOOST_REQUIRE(connections(daemon, alice, 40, run, "no-such-tier") == 40);  // each refused, recorded or not
  BOOST_REQUIRE(connections(daemon, bob, 1, run, "no-such-tier") == 1);
  BOOST_TEST(records_of(daemon, bob).profile_refused == 1);
  BOOST_TEST(records_of(daemon, alice).profile_refused == 5);
  BOOST_TEST(daemon.stop() == 0);
  const auto alice_records = records_of(daemon, alice);
  BOOST_TEST(alice_records.profile_refused == 5);
  BOOST_REQUIRE(alice_records.summaries.size() == 1U);
  BOOST_TEST(alice_records.summaries[0]["not_recorded"] == json({{"profile_refused", 35}}), alice_records.summaries[0].dump());
  const auto verified = run_tierbox({"audit", "verify", "--audit-log", daemon.log()});
  BOOST_TEST(verified.status == 0, verified.out + verified.err);
}

// A local user with a subordinate id range (/etc/subuid, newuidmap)
// connects as any of its 65,536 uids, each its own to SO_PEERCRED (here the
// test's children take 100 such uids of no account). Past the first 64 uids
// with a window of their own, the others are counted in one shared window,
// one summary record at the stop: the log takes 64 + 1 records, not 100 (nor
// 65,536 * 21 a minute). The control: the first 64 are recorded one by one.
BOOST_AUTO_TEST_CASE(refusals_of_many_uids_past_the_budgets_uids_are_counted_in_one_record) {
  DaemonUsers users;
  Daemon daemon(users.group);
  daemon.start({"--refusal-records", "1", "--refusal-window", "60"});
  constexpr uid_t first = 3000000;
  int answered = 0;
  for (uid_t uid = first; uid < first + 100; ++uid) answered += malformed_connections(daemon, uid, 1);
  BOOST_REQUIRE(answered == 100);  // each refused, recorded or not
  BOOST_TEST(daemon.stop() == 0);
  int one_by_one = 0;
  std::vector<json> shared;
  for (const auto& record : daemon.records()) {
    if (record.value("event", "") != "daemon") continue;
    const auto uid = record["user"]["uid"].get<std::uint64_t>();
    one_by_one += record.value("action", "") == "protocol_error" && uid >= first && uid < first + 100;
    if (record.value("action", "") == "refusals_not_recorded") shared.push_back(record);
  }
  BOOST_TEST(one_by_one == 64);
  BOOST_REQUIRE(shared.size() == 1U);
  BOOST_TEST(shared[0]["others"] == true, shared[0].dump());
  BOOST_TEST(shared[0]["count"] == 36, shared[0].dump());
  BOOST_TEST(shared[0]["not_recorded"] == json({{"malformed", 36}}), shared[0].dump());
  const auto verified = run_tierbox({"audit", "verify", "--audit-log", daemon.log()});
  BOOST_TEST(verified.status == 0, verified.out + verified.err);
}

// A run a confirm rule denies at once (the caller has no terminal to be
// asked at) costs one connection and no sandbox: its request and decision
// records were written each time. Now the denied trail is one refusal
// within the budget (--refusal-records 3): 3 trails of 12, the other 9
// counted as "denied" in one summary at the stop. The control: every
// attempt is refused all the same, with the rule named.
BOOST_AUTO_TEST_CASE(a_flood_of_runs_denied_with_no_one_asked_is_recorded_within_the_budget) {
  DaemonUsers users;
  Daemon daemon(users.group);
  daemon.start({"--refusal-records", "3", "--refusal-window", "120"});
  const uid_t alice = DaemonUsers::uid(users.alice);
  for (int i = 0; i < 12; ++i) {
    const auto denied = daemon.tierbox_as(users.alice, {"run", "--tier", "dmn-confirm", "--", "/bin/true"});
    BOOST_TEST(denied.status == 126, denied.err);
    BOOST_TEST(denied.err.find("confirm") != std::string::npos, denied.err);
  }
  BOOST_TEST(daemon.stop() == 0);
  int requests = 0, decisions = 0;
  std::vector<json> summaries;
  for (const auto& record : daemon.records()) {
    if (!record.contains("user") || record["user"].value("uid", 0U) != alice) continue;
    requests += record.value("event", "") == "request";
    decisions += record.value("event", "") == "decision";
    if (record.value("action", "") == "refusals_not_recorded") summaries.push_back(record);
  }
  BOOST_TEST(requests == 3);
  BOOST_TEST(decisions == 3);
  BOOST_REQUIRE(summaries.size() == 1U);
  BOOST_TEST(summaries[0]["not_recorded"] == json({{"denied", 9}}), summaries[0].dump());
  const auto verified = run_tierbox({"audit", "verify", "--audit-log", daemon.log()});
  BOOST_TEST(verified.status == 0, verified.out + verified.err);
}

BOOST_AUTO_TEST_SUITE_END()
