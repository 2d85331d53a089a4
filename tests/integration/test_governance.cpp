// Governance end to end: approvers (two real local users and a third made by
// the test), signed grants, and the audit trail of real launches (a full
// disk, a runner killed mid-run, tampering caught by `audit verify`, the log
// kept out of the sandbox).
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include <fstream>
#include <map>
#include <regex>
#include <cstring>
#include <set>
#include <sstream>
#include <thread>

#include "integration/harness.h"

using namespace tierbox::testing;
using nlohmann::json;

namespace {

// Runs an account tool, failing the test when it does not succeed.
void must(const std::vector<std::string>& argv) {
  const auto result = run_account_tool(argv);
  BOOST_REQUIRE_MESSAGE(result.status == 0, argv[0] + " failed: " + result.err);
}

// A group and three users made for this test (names carry the pid, so
// concurrent runs never collide) and removed after it.
struct LocalUsers {
  std::string group = "tbx8g" + std::to_string(::getpid());
  std::string alice = "tbx8a" + std::to_string(::getpid());  // the requester (through sudo)
  std::string bob = "tbx8b" + std::to_string(::getpid());    // an approver
  std::string carol = "tbx8c" + std::to_string(::getpid());  // an approver
  std::string dave = "tbx8d" + std::to_string(::getpid());   // not an approver
  LocalUsers() {
    must({"/usr/sbin/groupadd", group});
    for (const auto& user : {alice, bob, carol})
      must({"/usr/sbin/useradd", "-M", "-N", "-g", "users", "-G", group, "-s", "/usr/sbin/nologin", user});
    must({"/usr/sbin/useradd", "-M", "-N", "-g", "users", "-s", "/usr/sbin/nologin", dave});
  }
  ~LocalUsers() {
    for (const auto& user : {alice, bob, carol, dave}) run_account_tool({"/usr/sbin/userdel", user});
    run_account_tool({"/usr/sbin/groupdel", group});
  }
};

// Its own config dir (tiers, approval matrix, tierbox.json), approvals
// directory, governance state and audit log, readable where approvers need it.
struct Governance {
  TempDir dir{"tierbox-test-gov"};
  std::string config = (dir.path() / "config").string();
  std::string log = (dir.path() / "audit.jsonl").string();
  explicit Governance(const std::string& approver_group) {
    ::chmod(dir.str().c_str(), 0755);
    dir.write("config/tierbox.json", json{{"approvals_dir", dir.str() + "/approvals"},
                                          {"governance_dir", dir.str() + "/state"}}.dump());
    for (const char* tier : {"gov-approver", "gov-two", "gov-timeout", "gov-grant", "gov-open", "gov-confirm", "gov-confirm-quick"})
      dir.write(std::string("config/tiers/") + tier + ".json", R"({"extends": "base"})");
    dir.write("config/approvals.json", json{
        {"tiers", {"gov-*"}},
        {"approvers", approver_group},
        {"approval_timeout", "60s"},
        {"rules", {{{"id", "open"}, {"require", "none"}},
                   {{"id", "one-approver"}, {"when", {{"tiers", {"gov-approver", "gov-grant"}}}}, {"require", "approver"}},
                   {{"id", "two-approvers"}, {"when", {{"tiers", {"gov-two"}}}}, {"require", "two_person"}},
                   {{"id", "quick"}, {"when", {{"tiers", {"gov-timeout"}}}}, {"require", "approver"}, {"timeout", "2s"}},
                   {{"id", "ask-me"}, {"when", {{"tiers", {"gov-confirm"}}}}, {"require", "confirm"}},
                   {{"id", "ask-me-quickly"}, {"when", {{"tiers", {"gov-confirm-quick"}}}}, {"require", "confirm"}, {"timeout", "1s"}}}}}
        .dump());
    ::chmod(config.c_str(), 0755);
    ::chmod((dir.path() / "config/tiers").c_str(), 0755);
    for (const char* file : {"tierbox.json", "approvals.json"}) ::chmod((dir.path() / "config" / file).c_str(), 0644);
  }
  std::vector<std::string> run(const std::string& tier, const std::vector<std::string>& command) const {
    std::vector<std::string> args = {"run", "--config-dir", config, "--audit-log", log, "--tier", tier, "--"};
    args.insert(args.end(), command.begin(), command.end());
    return args;
  }
  // tierbox run by root through sudo, as user: SUDO_USER says who.
  [[nodiscard]] std::vector<std::string> sudo_prefix(const std::string& user) const {
    return {"/usr/bin/env", "SUDO_USER=" + user};
  }
  // tierbox run as another (unprivileged) user.
  ProcessResult as(const std::string& user, std::vector<std::string> args) const {
    std::vector<std::string> argv = {"/usr/bin/setpriv", "--reuid", user, "--regid", "users", "--init-groups", kTierbox};
    args.push_back("--config-dir");
    args.push_back(config);
    argv.insert(argv.end(), args.begin(), args.end());
    return run_process(argv);
  }
  std::vector<json> records() const {
    std::vector<json> out;
    std::ifstream in(log);
    std::string line;
    while (std::getline(in, line)) out.push_back(json::parse(line));
    return out;
  }
  std::vector<json> records_of(const std::string& run_id, const std::string& event) const {
    std::vector<json> out;
    for (auto& record : records())
      if (record.value("run_id", "") == run_id && record.value("event", "") == event) out.push_back(record);
    return out;
  }
  ProcessResult verify() const { return run_tierbox({"audit", "verify", "--config-dir", config, "--audit-log", log}); }
};

// "tierbox: waiting for approval of request ID: ..." -> ID
std::string request_id(const std::string& line) {
  std::smatch match;
  if (!std::regex_search(line, match, std::regex("approval of request ([0-9a-f]+)"))) return "";
  return match[1];
}

}  // namespace

BOOST_AUTO_TEST_SUITE(approvals)

BOOST_AUTO_TEST_CASE(an_approver_lets_a_waiting_run_start_and_the_requester_cannot) {
  LocalUsers users;
  Governance gov(users.group);
  BackgroundRun run(gov.run("gov-approver", {"/bin/echo", "approved-task-ran"}), gov.sudo_prefix(users.alice));
  const auto id = request_id(run.wait_for_line("waiting for approval of request"));
  BOOST_REQUIRE(!id.empty());
  // Listed for approvers, with what they approve.
  const auto listed = gov.as(users.bob, {"approvals"});
  BOOST_TEST(listed.status == 0, listed.err);
  BOOST_TEST(listed.out.find(id) != std::string::npos, listed.out);
  BOOST_TEST(listed.out.find("approved-task-ran") != std::string::npos, listed.out);
  // The requester (alice, through sudo) cannot approve, nor can an outsider.
  const auto own = gov.as(users.alice, {"approve", id});
  BOOST_TEST(own.status == 126, own.out + own.err);
  BOOST_TEST(own.out.find("cannot approve their own request") != std::string::npos, own.out);
  const auto outsider = gov.as(users.dave, {"approve", id});
  BOOST_TEST(outsider.status == 126, outsider.out + outsider.err);
  BOOST_TEST(outsider.out.find("not in the approver group") != std::string::npos, outsider.out);
  // The task has not started.
  BOOST_TEST(gov.records_of(id, "start").empty());
  // bob approves: the task runs.
  const auto approved = gov.as(users.bob, {"approve", id, "--reason", "reviewed"});
  BOOST_TEST(approved.status == 0, approved.out + approved.err);
  BOOST_TEST(run.wait() == 0);
  BOOST_TEST(run.out() == "approved-task-ran\n");
  const auto decision = gov.records_of(id, "decision");
  BOOST_REQUIRE(decision.size() == 1u);
  BOOST_TEST(decision[0]["outcome"] == "allowed");
  BOOST_TEST(decision[0]["decision"]["how"] == "approver");
  BOOST_TEST(decision[0]["decision"]["by"][0]["name"] == users.bob);
  BOOST_TEST(gov.records_of(id, "approval").size() == 3u);  // alice and dave rejected, bob counted
  BOOST_TEST(gov.records_of(id, "start").size() == 1u);
  BOOST_TEST(gov.records_of(id, "end").size() == 1u);
  BOOST_TEST(gov.verify().status == 0);
}

BOOST_AUTO_TEST_CASE(a_denial_refuses_with_one_line_naming_the_rule) {
  LocalUsers users;
  Governance gov(users.group);
  BackgroundRun run(gov.run("gov-approver", {"/bin/echo", "must-not-run"}), gov.sudo_prefix(users.alice));
  const auto id = request_id(run.wait_for_line("waiting for approval of request"));
  BOOST_REQUIRE(!id.empty());
  const auto denied = gov.as(users.carol, {"deny", id, "--reason", "not this week"});
  BOOST_TEST(denied.status == 0, denied.out + denied.err);
  const auto line = run.wait_for_line("refused:");
  BOOST_TEST(line.find("rule 'one-approver'") != std::string::npos, line);
  BOOST_TEST(line.find("denied by " + users.carol + ": not this week") != std::string::npos, line);
  BOOST_TEST(run.wait() == 126);
  BOOST_TEST(run.out().empty());
  BOOST_TEST(gov.records_of(id, "start").empty());
  BOOST_TEST(gov.records_of(id, "decision").at(0)["outcome"] == "denied");
}

BOOST_AUTO_TEST_CASE(no_approval_within_the_timeout_is_a_denial) {
  LocalUsers users;
  Governance gov(users.group);
  const auto result = run_process([&] {
    auto argv = gov.sudo_prefix(users.alice);
    argv.push_back(kTierbox);
    for (const auto& arg : gov.run("gov-timeout", {"/bin/echo", "must-not-run"})) argv.push_back(arg);
    return argv;
  }());
  BOOST_TEST(result.status == 126, result.err);
  BOOST_TEST(result.out.empty());
  BOOST_TEST(result.err.find("refused: rule 'quick'") != std::string::npos, result.err);
  BOOST_TEST(result.err.find("(timeout)") != std::string::npos, result.err);
  for (const auto& record : gov.records()) BOOST_TEST(record["event"] != "start");
}

BOOST_AUTO_TEST_CASE(the_requester_interrupting_the_wait_cancels_the_request) {
  LocalUsers users;
  Governance gov(users.group);
  BackgroundRun run(gov.run("gov-approver", {"/bin/echo", "must-not-run"}), gov.sudo_prefix(users.alice));
  const auto id = request_id(run.wait_for_line("waiting for approval of request"));
  BOOST_REQUIRE(!id.empty());
  run.signal(SIGINT);
  const auto line = run.wait_for_line("refused:");
  BOOST_TEST(line.find("the requester cancelled while waiting for approval") != std::string::npos, line);
  BOOST_TEST(run.wait() == 126);
  BOOST_TEST(gov.records_of(id, "decision").at(0)["outcome"] == "denied");
  BOOST_TEST(!std::filesystem::exists(gov.dir.path() / "approvals" / (id + ".sock")));
}

BOOST_AUTO_TEST_CASE(two_person_needs_two_distinct_approvers) {
  LocalUsers users;
  Governance gov(users.group);
  BackgroundRun run(gov.run("gov-two", {"/bin/echo", "two-person-ran"}), gov.sudo_prefix(users.alice));
  const auto id = request_id(run.wait_for_line("waiting for approval of request"));
  BOOST_REQUIRE(!id.empty());
  const auto first = gov.as(users.bob, {"approve", id});
  BOOST_TEST(first.status == 0, first.out + first.err);
  BOOST_TEST(first.out.find("1 of 2") != std::string::npos, first.out);
  // The same approver twice is one approver.
  const auto again = gov.as(users.bob, {"approve", id});
  BOOST_TEST(again.status == 126, again.out + again.err);
  BOOST_TEST(again.out.find("already approved") != std::string::npos, again.out);
  BOOST_TEST(gov.records_of(id, "start").empty());
  const auto second = gov.as(users.carol, {"approve", id});
  BOOST_TEST(second.status == 0, second.out + second.err);
  BOOST_TEST(run.wait() == 0);
  BOOST_TEST(run.out() == "two-person-ran\n");
  const auto decision = gov.records_of(id, "decision").at(0);
  BOOST_TEST(decision["decision"]["how"] == "two_person");
  BOOST_TEST(decision["decision"]["by"].size() == 2u);
}

BOOST_AUTO_TEST_CASE(a_request_whose_runner_died_is_not_listed_and_gc_removes_it) {
  LocalUsers users;
  Governance gov(users.group);
  gov.dir.write("config/tierbox.json", json{{"approvals_dir", gov.dir.str() + "/approvals"},
                                            {"governance_dir", gov.dir.str() + "/state"},
                                            {"state_dir", gov.dir.str() + "/run"}}.dump());
  BackgroundRun run(gov.run("gov-approver", {"/bin/true"}), gov.sudo_prefix(users.alice));
  const auto id = request_id(run.wait_for_line("waiting for approval of request"));
  BOOST_REQUIRE(!id.empty());
  run.signal(SIGKILL);
  run.wait();
  BOOST_TEST(gov.as(users.bob, {"approvals"}).out.find(id) == std::string::npos);
  BOOST_TEST(gov.as(users.bob, {"approvals", "--all"}).out.find(id + "  requested by") != std::string::npos);
  const auto approve = gov.as(users.bob, {"approve", id});
  BOOST_TEST(approve.status == 125, approve.out + approve.err);
  BOOST_TEST(approve.err.find("is waiting") != std::string::npos, approve.err);
  const auto gc = run_tierbox({"gc", "--config-dir", gov.config});
  BOOST_TEST(gc.out.find("removed stale approval request " + id) != std::string::npos, gc.out + gc.err);
  for (const char* suffix : {".json", ".sock", ".lock"})
    BOOST_TEST(!std::filesystem::exists(gov.dir.path() / "approvals" / (id + suffix)), suffix);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(confirm)

BOOST_AUTO_TEST_CASE(the_caller_confirms_at_the_terminal_never_through_stdin) {
  Governance gov("nogroup");
  auto argv = gov.run("gov-confirm", {"/bin/echo", "confirmed-task-ran"});
  argv.insert(argv.begin(), kTierbox);
  // Yes at the terminal: the summary is shown, the task runs.
  const auto yes = run_in_pty(argv, "run this task? [y/N]", "y\n");
  BOOST_TEST(yes.status == 0, yes.out);
  BOOST_TEST(yes.out.find("command: \"/bin/echo\" \"confirmed-task-ran\"") != std::string::npos, yes.out);
  BOOST_TEST(yes.out.find("plan digest: ") != std::string::npos, yes.out);
  BOOST_TEST(yes.out.find("rule 'ask-me'") != std::string::npos, yes.out);
  BOOST_TEST(yes.out.find("confirmed-task-ran") != std::string::npos, yes.out);
  // No (or anything but y/yes): refused.
  const auto no = run_in_pty(argv, "run this task? [y/N]", "n\n");
  BOOST_TEST(no.status == 126, no.out);
  BOOST_TEST(no.out.find("refused: rule 'ask-me'") != std::string::npos, no.out);
  // "y" on stdin without a terminal (a new session has none): refused.
  std::vector<std::string> detached = {"/usr/bin/setsid", "-w"};
  detached.insert(detached.end(), argv.begin(), argv.end());
  SpawnOptions options;
  options.stdin_data = "y\ny\n";
  const auto piped = run_process(detached, options);
  BOOST_TEST(piped.status == 126, piped.err);
  BOOST_TEST(piped.out.empty());
  BOOST_TEST(piped.err.find("no terminal to confirm at") != std::string::npos, piped.err);
  // No answer within the rule's timeout: refused.
  auto quick = gov.run("gov-confirm-quick", {"/bin/echo", "must-not-run"});
  quick.insert(quick.begin(), kTierbox);
  const auto unanswered = run_in_pty(quick);
  BOOST_TEST(unanswered.status == 126, unanswered.out);
  BOOST_TEST(unanswered.out.find("no answer at the terminal within 1s") != std::string::npos, unanswered.out);
  BOOST_TEST(unanswered.out.find("must-not-run\r\n") == std::string::npos, unanswered.out);
  int confirmed = 0, denied = 0;
  for (const auto& record : gov.records()) {
    if (record["event"] != "decision") continue;
    BOOST_TEST(record["decision"]["how"] == "confirm");
    (record["outcome"] == "allowed" ? confirmed : denied)++;
  }
  BOOST_TEST(confirmed == 1);
  BOOST_TEST(denied == 3);
}

BOOST_AUTO_TEST_SUITE_END()

namespace {

struct GrantSetup {
  LocalUsers users;
  Governance gov{users.group};
  std::string bob_key = gov.dir.str() + "/bob.key";

  GrantSetup() { add_key("bob-1", users.bob, bob_key); }

  // Generates a key pair and trusts its public key for owner.
  void add_key(const std::string& id, const std::string& owner, const std::string& secret) {
    const auto generated = run_tierbox({"keys", "generate", "--id", id, "--out", secret});
    BOOST_REQUIRE_MESSAGE(generated.status == 0, generated.err);
    const auto pub = gov.dir.write(id + ".pub", generated.out);
    const auto added = run_tierbox({"keys", "add", pub.string(), "--owner", owner, "--config-dir", gov.config});
    BOOST_REQUIRE_MESSAGE(added.status == 0, added.err);
  }
  std::string digest(const std::string& tier, const std::vector<std::string>& command) const {
    auto args = gov.run(tier, command);
    args.insert(args.begin() + 1, "--dry-run");
    const auto result = run_tierbox(args);
    std::smatch match;
    BOOST_REQUIRE_MESSAGE(std::regex_search(result.out, match, std::regex("plan digest: ([0-9a-f]{64})")), result.out + result.err);
    return match[1];
  }
  std::string grant(const std::string& key, const std::string& tier, const std::vector<std::string>& command,
                    const std::string& expires = "10m") {
    static int counter = 0;
    const auto file = gov.dir.str() + "/grant-" + std::to_string(++counter) + ".json";
    std::vector<std::string> args = {"grant", "--key", key, "--tier", tier, "--plan-digest", digest(tier, command),
                                     "--expires", expires, "--out", file, "--config-dir", gov.config, "--"};
    args.insert(args.end(), command.begin(), command.end());
    const auto result = run_tierbox(args);
    BOOST_REQUIRE_MESSAGE(result.status == 0, result.err);
    return file;
  }
  ProcessResult run_with(const std::string& grant_file, const std::string& tier, const std::vector<std::string>& command) const {
    auto args = gov.run(tier, command);
    args.insert(args.begin() + 1, {"--grant", grant_file});
    return run_tierbox(args);
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(grants)

BOOST_AUTO_TEST_CASE(a_valid_grant_runs_once_and_each_wrong_grant_is_refused_with_its_own_message) {
  GrantSetup setup;
  const std::vector<std::string> command = {"/bin/echo", "granted-task-ran"};
  const auto grant = setup.grant(setup.bob_key, "gov-grant", command);
  const auto ran = setup.run_with(grant, "gov-grant", command);
  BOOST_TEST(ran.status == 0, ran.err);
  BOOST_TEST(ran.out == "granted-task-ran\n");

  std::set<std::string> messages;
  const auto refused = [&](const ProcessResult& result, const std::string& contains) {
    BOOST_TEST(result.status == 126, result.err);
    BOOST_TEST(result.out.empty(), result.out);
    BOOST_TEST(result.err.find(contains) != std::string::npos, result.err);
    BOOST_TEST(result.err.find("rule 'one-approver'") != std::string::npos, result.err);
    // One line.
    BOOST_TEST(std::count(result.err.begin(), result.err.end(), '\n') == 1, result.err);
    const auto reason = result.err.substr(result.err.find(": grant ") + 1);
    BOOST_TEST(messages.insert(reason.substr(reason.find(".json: ") + 7)).second, "not distinct: " + result.err);
  };
  // Replay.
  refused(setup.run_with(grant, "gov-grant", command), "already used");
  // Expired.
  const auto short_lived = setup.grant(setup.bob_key, "gov-grant", command, "1s");
  std::this_thread::sleep_for(std::chrono::milliseconds(2100));
  refused(setup.run_with(short_lived, "gov-grant", command), "expired at");
  // Tampered argv in the grant file.
  const auto tampered = setup.grant(setup.bob_key, "gov-grant", command);
  auto document = json::parse(std::ifstream(tampered));
  document["grant"]["argv"] = json::array({"/bin/sh", "-c", "echo pwned"});
  std::ofstream(tampered) << document.dump();
  refused(setup.run_with(tampered, "gov-grant", {"/bin/sh", "-c", "echo pwned"}), "altered after it was signed");
  // A valid grant used for another command.
  const auto other_command = setup.grant(setup.bob_key, "gov-grant", command);
  refused(setup.run_with(other_command, "gov-grant", {"/bin/echo", "something-else"}), "binds the command");
  // Wrong tier.
  const auto wrong_tier = setup.grant(setup.bob_key, "gov-grant", command);
  refused(setup.run_with(wrong_tier, "gov-approver", command), "is for tier 'gov-grant'");
  // Unknown key (generated, never trusted).
  const auto stranger_key = setup.gov.dir.str() + "/stranger.key";
  BOOST_REQUIRE(run_tierbox({"keys", "generate", "--id", "stranger", "--out", stranger_key}).status == 0);
  refused(setup.run_with(setup.grant(stranger_key, "gov-grant", command), "gov-grant", command), "unknown key 'stranger'");
  // Revoked key.
  const auto carol_key = setup.gov.dir.str() + "/carol.key";
  setup.add_key("carol-1", setup.users.carol, carol_key);
  const auto by_carol = setup.grant(carol_key, "gov-grant", command);
  const auto revoked = run_tierbox({"keys", "revoke", "carol-1", "--reason", "laptop lost", "--config-dir", setup.gov.config});
  BOOST_REQUIRE_MESSAGE(revoked.status == 0, revoked.err);
  refused(setup.run_with(by_carol, "gov-grant", command), "was revoked on");

  // Every use and refusal is in the trail, which still verifies.
  int used = 0, refusals = 0;
  for (const auto& record : setup.gov.records()) {
    used += record["event"] == "grant_used";
    refusals += record["event"] == "grant_refused";
  }
  BOOST_TEST(used == 1);
  BOOST_TEST(refusals == 7);
  BOOST_TEST(setup.gov.verify().status == 0);
}

BOOST_AUTO_TEST_CASE(a_two_person_grant_needs_two_distinct_eligible_signers) {
  GrantSetup setup;
  const auto carol_key = setup.gov.dir.str() + "/carol.key";
  setup.add_key("carol-1", setup.users.carol, carol_key);
  const auto dave_key = setup.gov.dir.str() + "/dave.key";
  setup.add_key("dave-1", setup.users.dave, dave_key);  // not in the approver group
  const std::vector<std::string> command = {"/bin/echo", "two-signatures"};
  const auto grant = setup.grant(setup.bob_key, "gov-two", command);
  auto once = setup.run_with(grant, "gov-two", command);
  BOOST_TEST(once.status == 126, once.err);
  BOOST_TEST(once.err.find("signed by 1 eligible approver, 2 needed") != std::string::npos, once.err);
  // An outsider's signature does not count.
  const auto by_outsider = setup.gov.dir.str() + "/outsider-signed.json";
  BOOST_REQUIRE(run_tierbox({"grant", "--key", dave_key, "--countersign", grant, "--out", by_outsider}).status == 0);
  auto outsider = setup.run_with(by_outsider, "gov-two", command);
  BOOST_TEST(outsider.status == 126, outsider.err);
  BOOST_TEST(outsider.err.find("not in the approver group") != std::string::npos, outsider.err);
  // bob and carol: runs.
  BOOST_REQUIRE(run_tierbox({"grant", "--key", carol_key, "--countersign", grant}).status == 0);
  const auto twice = setup.run_with(grant, "gov-two", command);
  BOOST_TEST(twice.status == 0, twice.err);
  BOOST_TEST(twice.out == "two-signatures\n");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(audit_trail)

BOOST_AUTO_TEST_CASE(every_launch_is_recorded_request_decision_start_end) {
  Governance gov("nogroup");
  const auto result = run_tierbox(gov.run("gov-open", {"/bin/sh", "-c", "exit 3"}));
  BOOST_TEST(result.status == 3, result.err);
  const auto records = gov.records();
  BOOST_REQUIRE(records.size() == 4u);
  const std::vector<std::string> events = {"request", "decision", "start", "end"};
  for (std::size_t i = 0; i < 4; ++i) {
    BOOST_TEST(records[i]["event"] == events[i]);
    BOOST_TEST(records[i]["run_id"] == records[0]["run_id"]);
    BOOST_TEST(records[i]["user"]["uid"] == 0);
    BOOST_TEST(records[i]["argv"] == json({"/bin/sh", "-c", "exit 3"}));
  }
  BOOST_TEST(records[2]["pid"].get<int>() > 0);
  BOOST_TEST(records[2]["plan_digest"].get<std::string>().size() == 64u);
  BOOST_TEST(records[2]["profile_sha256"].get<std::string>().size() == 64u);
  BOOST_TEST(records[3]["exit"]["code"] == 3);
  BOOST_TEST(records[3]["outcome"] == "failed");
  BOOST_TEST(records[3]["usage"].contains("wall_ms"));
  BOOST_TEST(gov.verify().status == 0);
}

BOOST_AUTO_TEST_CASE(concurrent_runners_share_one_valid_chain) {
  // 8 runners at once, 5 launches each (the 8 x 200 records of the issue are
  // appended by 8 processes in unit.audit_log, without sandboxes).
  Governance gov("nogroup");
  const std::string script =
      "for w in 1 2 3 4 5 6 7 8; do (for i in 1 2 3 4 5; do " + std::string(kTierbox) + " run --config-dir " + gov.config +
      " --audit-log " + gov.log + " --tier gov-open -- /bin/echo w$w-$i >/dev/null || exit $?; done) & pids=\"$pids $!\"; done; "
      "for pid in $pids; do wait $pid || { status=$?; echo \"runner loop $pid failed: $status\" >&2; exit 1; }; done";
  const auto result = run_process({"/bin/bash", "-c", script}, SpawnOptions{{}, {}, {}, std::chrono::seconds(120)});
  BOOST_REQUIRE_MESSAGE(result.status == 0, "status " << result.status << ": " << result.err);
  const auto records = gov.records();
  BOOST_REQUIRE(records.size() == 160u);
  std::map<std::string, std::vector<std::string>> events;
  std::set<std::string> commands;
  for (const auto& record : records) {
    events[record["run_id"]].push_back(record["event"]);
    if (record["event"] == "start") commands.insert(record["argv"][1].get<std::string>());
  }
  BOOST_TEST(events.size() == 40u);
  for (const auto& [run_id, sequence] : events)
    BOOST_TEST((sequence == std::vector<std::string>{"request", "decision", "start", "end"}), run_id);
  BOOST_TEST(commands.size() == 40u);
  const auto verified = gov.verify();
  BOOST_TEST(verified.status == 0, verified.out);
  BOOST_TEST(verified.out.find("ok: 160 records") != std::string::npos, verified.out);
}

BOOST_AUTO_TEST_CASE(a_dry_run_shows_the_rules_and_records_nothing) {
  LocalUsers users;
  Governance gov(users.group);
  auto args = gov.run("gov-two", {"/bin/echo", "x"});
  args.insert(args.begin() + 1, "--dry-run");
  const auto result = run_tierbox(args);
  BOOST_TEST(result.status == 0, result.err);
  BOOST_TEST(result.out.find("rule 'two-approvers'") != std::string::npos, result.out);
  BOOST_TEST(result.out.find("requires: rule 'two-approvers'") != std::string::npos, result.out);
  BOOST_TEST(result.out.find("two distinct approvers from group '" + users.group + "'") != std::string::npos, result.out);
  BOOST_TEST(!std::filesystem::exists(gov.log));
  BOOST_TEST(!std::filesystem::exists(gov.dir.path() / "approvals" / ""));
}

BOOST_AUTO_TEST_CASE(an_unknown_tier_is_refused_and_recorded) {
  Governance gov("nogroup");
  gov.dir.write("config/tiers/not-in-matrix.json", R"({"extends": "base"})");
  const auto result = run_tierbox(gov.run("not-in-matrix", {"/bin/echo", "x"}));
  BOOST_TEST(result.status == 126, result.err);
  BOOST_TEST(result.err.find("not in the approval matrix") != std::string::npos, result.err);
  const auto records = gov.records();
  BOOST_REQUIRE(records.size() == 1u);
  BOOST_TEST(records[0]["event"] == "profile_refused");
}

BOOST_AUTO_TEST_CASE(profile_check_validates_the_matrix_and_warns_of_unlisted_tiers) {
  Governance gov("nogroup");
  gov.dir.write("config/tiers/not-in-matrix.json", R"({"extends": "base"})");
  auto result = run_tierbox({"profile", "check", "--config-dir", gov.config, "not-in-matrix", "gov-open"});
  BOOST_TEST(result.status == 0, result.err);
  BOOST_TEST(result.err.find("tier 'not-in-matrix' is not in the approval matrix") != std::string::npos, result.err);
  BOOST_TEST(result.err.find("tier 'gov-open' is not") == std::string::npos, result.err);
  gov.dir.write("config/approvals.json", R"({"tiers": ["gov-*"], "rules": [{"id": "x", "require": "maybe"}]})");
  result = run_tierbox({"profile", "check", "--config-dir", gov.config, "gov-open"});
  BOOST_TEST(result.status == 1, result.err);
  BOOST_TEST(result.err.find("/rules/0/require") != std::string::npos, result.err);
  // And such a matrix refuses every launch.
  const auto run = run_tierbox(gov.run("gov-open", {"/bin/true"}));
  BOOST_TEST(run.status == 125, run.err);
  BOOST_TEST(run.err.find("/rules/0/require") != std::string::npos, run.err);
}

BOOST_AUTO_TEST_CASE(verify_names_the_first_edited_line) {
  Governance gov("nogroup");
  for (int i = 0; i < 2; ++i) BOOST_REQUIRE(run_tierbox(gov.run("gov-open", {"/bin/true"})).status == 0);
  std::vector<std::string> lines;
  {
    std::ifstream in(gov.log);
    std::string line;
    while (std::getline(in, line)) lines.push_back(line);
  }
  BOOST_REQUIRE(lines.size() == 8u);
  auto record = json::parse(lines[5]);
  record["argv"] = json::array({"/bin/innocent"});
  lines[5] = record.dump();
  {
    std::ofstream out(gov.log, std::ios::trunc);
    for (const auto& line : lines) out << line << "\n";
  }
  const auto result = gov.verify();
  BOOST_TEST(result.status == 1);
  BOOST_TEST(result.out.find("line 6: hash mismatch") != std::string::npos, result.out);
}

BOOST_AUTO_TEST_CASE(the_audit_log_is_not_visible_in_the_sandbox) {
  Governance gov("nogroup");
  Workspace workspace;
  // The log inside the workspace: the sandbox gets an empty stand-in.
  const auto log = (workspace.path() / "audit.jsonl").string();
  BOOST_REQUIRE(run_tierbox({"run", "--config-dir", gov.config, "--audit-log", log, "--tier", "gov-open", "--", "/bin/true"}).status == 0);
  BOOST_REQUIRE(std::filesystem::file_size(log) > 0);
  const auto result = run_tierbox({"run", "--config-dir", gov.config, "--audit-log", log, "--tier", "gov-open", "--workspace",
                                   workspace.str(), "--", "./probe", "read", "audit.jsonl"});
  BOOST_REQUIRE_MESSAGE(result.status == 0, result.err);
  const auto report = json::parse(result.out);
  BOOST_TEST(report.dump().find("\"hash\"") == std::string::npos, report.dump());
  BOOST_TEST(report.dump().find("request") == std::string::npos, report.dump());
  BOOST_TEST_MESSAGE("inside the sandbox: " + report.dump());
  // A mount of the governance state itself (here as the workspace) is refused.
  std::filesystem::create_directories(gov.dir.path() / "state");
  const auto refused = run_tierbox({"run", "--config-dir", gov.config, "--audit-log", gov.log, "--tier", "gov-open",
                                    "--workspace", gov.dir.str() + "/state", "--", "/bin/true"});
  BOOST_TEST(refused.status == 126, refused.err);
  BOOST_TEST(refused.err.find("which no sandbox ever sees") != std::string::npos, refused.err);
}

BOOST_AUTO_TEST_CASE(a_full_disk_refuses_the_launch_and_leaves_the_log_valid) {
  Governance gov("nogroup");
  Workspace workspace;
  ::chmod(workspace.str().c_str(), 0755);
  // A 64 KiB tmpfs in a private mount namespace of this test only.
  const std::string script =
      "set -e; d=" + gov.dir.str() + "/small; mkdir -p $d; mount -t tmpfs -o size=64k tmpfs $d;"
      "tb=" + std::string(kTierbox) + "; cfg=" + gov.config + ";"
      "$tb run --config-dir $cfg --audit-log $d/audit.jsonl --tier gov-open -- /bin/true;"
      "dd if=/dev/zero of=$d/filler bs=1k 2>/dev/null || true;"
      "set +e; $tb run --config-dir $cfg --audit-log $d/audit.jsonl --tier gov-open --workspace " + workspace.str() +
      " -- /bin/sh -c 'echo ran > ran-marker'; echo status=$?;"
      "$tb audit verify --config-dir $cfg --audit-log $d/audit.jsonl; echo verify=$?;"
      "wc -l < $d/audit.jsonl; umount $d";
  const auto result = run_process({"/usr/bin/unshare", "-m", "--propagation", "private", "/bin/sh", "-c", script});
  BOOST_TEST_MESSAGE(result.out + result.err);
  BOOST_TEST(result.out.find("status=125") != std::string::npos, result.out + result.err);
  BOOST_TEST(result.err.find("No space left on device") != std::string::npos, result.err);
  BOOST_TEST(result.out.find("verify=0") != std::string::npos, result.out);
  BOOST_TEST(result.out.find("ok: 4 records") != std::string::npos, result.out);
  BOOST_TEST(!std::filesystem::exists(workspace.path() / "ran-marker"));
}

BOOST_AUTO_TEST_CASE(a_runner_killed_mid_run_is_reported_ended_unknown_and_gc_records_the_end) {
  Governance gov("nogroup");
  // A registry of this test's own: no other `tierbox gc` on this host (other
  // tests, other builds) cleans the killed run before this test's gc does.
  gov.dir.write("config/tierbox.json", json{{"approvals_dir", gov.dir.str() + "/approvals"},
                                            {"governance_dir", gov.dir.str() + "/state"},
                                            {"state_dir", gov.dir.str() + "/run"}}.dump());
  BackgroundRun run({"run", "-v", "--config-dir", gov.config, "--audit-log", gov.log, "--tier", "gov-open", "--",
                     "/bin/sh", "-c", "echo task-started >&2; sleep 60"});
  BOOST_REQUIRE(!run.wait_for_line("task-started").empty());
  run.signal(SIGKILL);
  run.wait();
  const auto start = gov.records().at(2);
  BOOST_REQUIRE(start["event"] == "start");
  const auto run_id = start["run_id"].get<std::string>();
  BOOST_REQUIRE(wait_until_gone(start["pid"].get<pid_t>(), std::chrono::seconds(10)));
  auto verified = gov.verify();
  BOOST_TEST(verified.status == 0, verified.out);
  auto shown = run_tierbox({"audit", "show", "--config-dir", gov.config, "--audit-log", gov.log, "--outcome", "ended unknown", "--json"});
  BOOST_TEST(shown.out.find(run_id) != std::string::npos, shown.out);
  // Another test's `tierbox gc` on this host may have recorded the end
  // already (gc closes every dead run's trail); otherwise verify reports it.
  if (gov.records_of(run_id, "end").empty()) {
    BOOST_TEST(verified.out.find(run_id + " (tier gov-open") != std::string::npos, verified.out);
    BOOST_TEST(verified.out.find("ended unknown") != std::string::npos, verified.out);
  } else {
    BOOST_TEST_MESSAGE("the end was recorded by a concurrent gc before this test's verify");
  }
  // gc appends the end (and cleans what the run left).
  const auto gc = run_tierbox({"gc", "--config-dir", gov.config});
  BOOST_TEST(gc.status == 0, gc.out + gc.err);
  const auto ends = gov.records_of(run_id, "end");
  BOOST_REQUIRE(ends.size() == 1u);
  BOOST_TEST(ends[0]["outcome"] == "ended unknown");
  BOOST_TEST(ends[0]["recorded_by"] == "tierbox gc");
  verified = gov.verify();
  BOOST_TEST(verified.status == 0, verified.out);
  // A second gc adds nothing.
  BOOST_TEST(run_tierbox({"gc", "--config-dir", gov.config}).status == 0);
  BOOST_TEST(gov.records_of(run_id, "end").size() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(audit_tools)

BOOST_AUTO_TEST_CASE(show_filters_and_report_summarises) {
  LocalUsers users;
  Governance gov(users.group);
  BOOST_REQUIRE(run_tierbox(gov.run("gov-open", {"/bin/true"})).status == 0);
  BOOST_REQUIRE(run_tierbox(gov.run("gov-open", {"/bin/sh", "-c", "exit 2"})).status == 2);
  BOOST_REQUIRE(run_tierbox(gov.run("gov-timeout", {"/bin/true"})).status == 126);  // nobody approves: timeout
  const auto show = [&](std::vector<std::string> filter) {
    std::vector<std::string> args = {"audit", "show", "--json", "--config-dir", gov.config, "--audit-log", gov.log};
    args.insert(args.end(), filter.begin(), filter.end());
    const auto result = run_tierbox(args);
    BOOST_REQUIRE_MESSAGE(result.status == 0, result.err);
    std::vector<json> records;
    std::istringstream in(result.out);
    std::string line;
    while (std::getline(in, line)) records.push_back(json::parse(line));
    return records;
  };
  BOOST_TEST(show({}).size() == gov.records().size());
  BOOST_TEST(show({"--event", "start"}).size() == 2u);
  BOOST_TEST(show({"--outcome", "denied"}).size() == 1u);
  BOOST_TEST(show({"--tier", "gov-timeout"}).size() == 2u);  // request, decision
  BOOST_TEST(show({"--user", "root"}).size() == gov.records().size());
  BOOST_TEST(show({"--user", users.bob}).empty());
  BOOST_TEST(show({"--since", "1h", "--event", "end"}).size() == 2u);
  BOOST_TEST(show({"--until", "2000-01-01"}).empty());
  const auto table = run_tierbox({"audit", "show", "--config-dir", gov.config, "--audit-log", gov.log, "--event", "end"});
  BOOST_TEST(table.out.find("TIME") == 0u, table.out);
  BOOST_TEST(table.out.find("failed") != std::string::npos, table.out);

  const auto report = run_tierbox({"audit", "report", "--since", "1d", "--json", "--config-dir", gov.config, "--audit-log", gov.log});
  BOOST_REQUIRE_MESSAGE(report.status == 0, report.err);
  const auto summary = json::parse(report.out);
  BOOST_TEST_MESSAGE(summary.dump());
  BOOST_TEST(summary.dump().find("\"gov-open\"") != std::string::npos);
  BOOST_TEST(summary["refusals"].size() == 1u, summary.dump());
  BOOST_TEST(summary["new_commands"].size() == 2u, summary.dump());
  const auto text = run_tierbox({"audit", "report", "--config-dir", gov.config, "--audit-log", gov.log});
  BOOST_TEST(text.out.find("Commands seen for the first time: 2") != std::string::npos, text.out);
}

BOOST_AUTO_TEST_CASE(signed_checkpoints_detect_a_rewritten_or_cut_log) {
  LocalUsers users;
  Governance gov(users.group);
  const auto key = gov.dir.str() + "/auditor.key";
  const auto generated = run_tierbox({"keys", "generate", "--id", "auditor-1", "--out", key});
  BOOST_REQUIRE(generated.status == 0);
  const auto pub = gov.dir.write("auditor.pub", generated.out);
  BOOST_REQUIRE(run_tierbox({"keys", "add", pub.string(), "--owner", users.bob, "--config-dir", gov.config}).status == 0);
  BOOST_REQUIRE(run_tierbox(gov.run("gov-open", {"/bin/true"})).status == 0);
  const auto checkpoint = run_tierbox({"audit", "checkpoint", "--key", key, "--config-dir", gov.config, "--audit-log", gov.log});
  BOOST_REQUIRE_MESSAGE(checkpoint.status == 0, checkpoint.err);
  const auto kept = gov.dir.write("checkpoints.jsonl", checkpoint.out);  // kept "elsewhere"
  BOOST_REQUIRE(run_tierbox(gov.run("gov-open", {"/bin/true"})).status == 0);
  const auto verify = [&](const std::string& log) {
    return run_tierbox({"audit", "verify", "--config-dir", gov.config, "--audit-log", log, "--checkpoints", kept.string()});
  };
  auto ok = verify(gov.log);
  BOOST_TEST(ok.status == 0, ok.out);
  BOOST_TEST(ok.out.find("1 signed checkpoints, 1 external") != std::string::npos, ok.out);

  // Cut after the checkpoint: the external checkpoint misses its records.
  std::vector<std::string> lines;
  {
    std::ifstream in(gov.log);
    std::string line;
    while (std::getline(in, line)) lines.push_back(line);
  }
  BOOST_REQUIRE(lines.size() == 9u);
  const auto cut = gov.dir.write("cut.jsonl", lines[0] + "\n" + lines[1] + "\n" + lines[2] + "\n");
  auto result = verify(cut.string());
  BOOST_TEST(result.status == 1);
  BOOST_TEST(result.out.find("missing records") != std::string::npos, result.out);

  // Rewritten as a whole with a valid chain (no key): the checkpoint's
  // signature no longer covers its line.
  TempDir forged_dir;
  {
    const auto forged = forged_dir.path() / "audit.jsonl";
    std::string prev(64, '0');
    std::ofstream out(forged);
    for (std::size_t i = 0; i < lines.size(); ++i) {
      auto record = json::parse(lines[i]);
      if (record["event"] == "start") record["argv"] = json::array({"/bin/innocent"});
      record["prev"] = prev;
      if (record["event"] == "checkpoint") record["covers_hash"] = prev;
      record.erase("hash");
      // The chain's hash, as tierbox computes it: sha256(prev + canonical JSON).
      const auto hashed = run_process({"/bin/sh", "-c", "printf '%s' \"$0\" | sha256sum | cut -c1-64", prev + record.dump()});
      record["hash"] = hashed.out.substr(0, 64);
      prev = record["hash"];
      out << record.dump() << "\n";
    }
  }
  result = run_tierbox({"audit", "verify", "--config-dir", gov.config, "--audit-log", (forged_dir.path() / "audit.jsonl").string()});
  BOOST_TEST(result.status == 1, result.out);
  BOOST_TEST(result.out.find("line 5: checkpoint: the signature does not verify") != std::string::npos, result.out);
}

BOOST_AUTO_TEST_CASE(every_record_also_goes_to_syslog_when_configured) {
  Governance gov("nogroup");
  const auto socket_path = gov.dir.path() / "log.sock";
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  BOOST_REQUIRE(fd >= 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, socket_path.c_str(), sizeof address.sun_path - 1);
  BOOST_REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  gov.dir.write("config/tierbox.json", json{{"approvals_dir", gov.dir.str() + "/approvals"},
                                            {"governance_dir", gov.dir.str() + "/state"},
                                            {"audit_syslog", socket_path.string()}}.dump());
  BOOST_REQUIRE(run_tierbox(gov.run("gov-open", {"/bin/true"})).status == 0);
  std::vector<std::string> messages;
  char buffer[65536];
  ssize_t n;
  while ((n = ::recv(fd, buffer, sizeof buffer, MSG_DONTWAIT)) > 0) messages.emplace_back(buffer, static_cast<std::size_t>(n));
  ::close(fd);
  BOOST_REQUIRE(messages.size() == 4u);
  BOOST_TEST(messages[0].find("<86>tierbox[") == 0u, messages[0]);
  const auto records = gov.records();
  for (std::size_t i = 0; i < 4; ++i) {
    const auto body = json::parse(messages[i].substr(messages[i].find("]: ") + 3));
    BOOST_TEST(body == records[i]);
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(widening)

BOOST_AUTO_TEST_CASE(extra_binds_need_the_tier_widening_and_the_matrix_sees_them) {
  Governance gov("nogroup");
  gov.dir.write("config/tiers/gov-wide.json", R"({"extends": "base", "widening": {"binds": "read-only"}})");
  TempDir data;
  ::chmod(data.str().c_str(), 0755);
  data.write("hello.txt", "extra-bind-content\n");
  ::chmod((data.path() / "hello.txt").c_str(), 0644);
  const std::string bind = data.str() + ":/data";
  // A tier without widening refuses the flag.
  auto refused = run_tierbox({"run", "--config-dir", gov.config, "--audit-log", gov.log, "--tier", "gov-open", "--bind", bind,
                              "--", "/bin/cat", "/data/hello.txt"});
  BOOST_TEST(refused.status == 126, refused.err);
  BOOST_TEST(refused.err.find("allows no extra binds") != std::string::npos, refused.err);
  // Read-only allowed, read-write not.
  auto writable = run_tierbox({"run", "--config-dir", gov.config, "--audit-log", gov.log, "--tier", "gov-wide", "--bind-rw", bind,
                               "--", "/bin/true"});
  BOOST_TEST(writable.status == 126, writable.err);
  BOOST_TEST(writable.err.find("only read-only extra binds") != std::string::npos, writable.err);
  auto ran = run_tierbox({"run", "--config-dir", gov.config, "--audit-log", gov.log, "--tier", "gov-wide", "--bind", bind,
                          "--", "/bin/sh", "-c", "cat /data/hello.txt; echo x > /data/new 2>/dev/null || echo read-only"});
  BOOST_TEST(ran.status == 0, ran.err);
  BOOST_TEST(ran.out == "extra-bind-content\nread-only\n", ran.out);
  BOOST_TEST(!std::filesystem::exists(data.path() / "new"));
  // The request record lists the widening.
  bool listed = false;
  for (const auto& record : gov.records())
    if (record["event"] == "request" && !record["widening"].empty())
      listed = record["widening"][0]["kind"] == "bind" && record["widening"][0]["text"] == "--bind " + bind;
  BOOST_TEST(listed);
}

BOOST_AUTO_TEST_SUITE_END()
