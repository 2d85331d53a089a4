// Governance end to end: approvers (two real local users and a third made by
// the test), the terminal confirmation, signed grants and caller widening.
// The audit trail of real launches is in test_audit.cpp.
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

#include "integration/governance_fixture.h"
#include "integration/harness.h"

using namespace tierbox::testing;
using nlohmann::json;


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
  gov.use_own_registry();
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
    BOOST_TEST(line_count(without_landlock_warnings(result.err)) == 1, result.err);
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
  // The host's /proc is no data directory, whatever the inventory says.
  auto proc = run_tierbox({"run", "--config-dir", gov.config, "--audit-log", gov.log, "--tier", "gov-wide", "--bind",
                           "/proc:/hostproc", "--", "/bin/true"});
  BOOST_TEST(proc.status == 126, proc.err);
  BOOST_TEST(proc.err.find("--bind /proc:/hostproc: a directory of the kernel's proc filesystem") != std::string::npos,
             proc.err);
  // The request record lists the widening.
  bool listed = false;
  for (const auto& record : gov.records())
    if (record["event"] == "request" && !record["widening"].empty())
      listed = record["widening"][0]["kind"] == "bind" && record["widening"][0]["text"] == "--bind " + bind;
  BOOST_TEST(listed);
}

BOOST_AUTO_TEST_SUITE_END()
