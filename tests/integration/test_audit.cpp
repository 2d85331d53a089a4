// The audit trail of real launches: records per launch, a full disk, a
// runner killed mid-run, tampering caught by `audit verify`, the log kept out
// of the sandbox; and the audit tools (show, report, checkpoints, syslog).
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
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
#include "common/unique_fd.h"
#include "integration/harness.h"

using namespace tierbox::testing;
using tierbox::UniqueFd;
using nlohmann::json;

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

// Starts a gov-open run of a long task, SIGKILLs its runner once the task
// runs, waits until the sandbox is gone too, and returns the run's id (from
// its start record: the trail has request, decision and start, no end).
std::string run_killed_mid_task(const Governance& gov) {
  BackgroundRun run({"run", "-v", "--config-dir", gov.config, "--audit-log", gov.log, "--tier", "gov-open", "--",
                     "/bin/sh", "-c", "echo task-started >&2; sleep 60"});
  BOOST_REQUIRE(!run.wait_for_line("task-started").empty());
  run.signal(SIGKILL);
  run.wait();
  const auto start = gov.records().at(2);
  BOOST_REQUIRE(start["event"] == "start");
  BOOST_REQUIRE(wait_until_gone(start["pid"].get<pid_t>(), std::chrono::seconds(10)));
  return start["run_id"].get<std::string>();
}

BOOST_AUTO_TEST_CASE(a_runner_killed_mid_run_is_reported_ended_unknown_and_gc_records_the_end) {
  Governance gov("nogroup");
  // A registry of this test's own: no other `tierbox gc` on this host (other
  // tests, other builds) cleans the killed run before this test's gc does.
  gov.use_own_registry();
  const auto run_id = run_killed_mid_task(gov);
  auto verified = gov.verify();
  BOOST_TEST(verified.status == 0, verified.out);
  auto shown = run_tierbox({"audit", "show", "--config-dir", gov.config, "--audit-log", gov.log, "--outcome", "ended unknown", "--json"});
  BOOST_TEST(shown.out.find(run_id) != std::string::npos, shown.out);
  // No gc has seen the run (its registry is this test's): verify reports it.
  BOOST_TEST(gov.records_of(run_id, "end").empty());
  BOOST_TEST(verified.out.find(run_id + " (tier gov-open") != std::string::npos, verified.out);
  BOOST_TEST(verified.out.find("ended unknown") != std::string::npos, verified.out);
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

// Two gcs at once would both clean the dead run and both append its end
// record: gc holds STATE_DIR/runs/gc.lock to the end, and another waits.
BOOST_AUTO_TEST_CASE(gcs_started_together_take_turns_and_a_dead_run_gets_one_end_record) {
  Governance gov("nogroup");
  const auto runs = gov.use_own_registry();
  const auto run_id = run_killed_mid_task(gov);
  const auto entry = runs / (run_id + ".json");
  BOOST_REQUIRE(std::filesystem::exists(entry));

  // This test holds the lock as a running gc would; two gcs start.
  UniqueFd held(::open((runs / "gc.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  BOOST_REQUIRE(held);
  BOOST_REQUIRE(::flock(held.get(), LOCK_EX) == 0);
  BackgroundRun first({"gc", "-v", "--config-dir", gov.config});
  BackgroundRun second({"gc", "-v", "--config-dir", gov.config});
  BOOST_TEST(!first.wait_for_line("waiting for another gc").empty());
  BOOST_TEST(!second.wait_for_line("waiting for another gc").empty());
  // Neither has touched the dead run while the lock is held.
  BOOST_TEST(std::filesystem::exists(entry));
  BOOST_TEST(gov.records_of(run_id, "end").empty());
  held.reset();
  BOOST_TEST(first.wait() == 0);
  BOOST_TEST(second.wait() == 0);
  // One of them cleaned the run and recorded its end; the other found nothing.
  const auto said = first.out() + "\n" + second.out();
  std::size_t cleaned = 0;
  for (auto at = said.find("cleaned " + run_id); at != std::string::npos; at = said.find("cleaned " + run_id, at + 1))
    ++cleaned;
  BOOST_TEST(cleaned == 1u, said);
  BOOST_TEST(!std::filesystem::exists(entry));
  BOOST_TEST(gov.records_of(run_id, "end").size() == 1u);
  const auto verified = gov.verify();
  BOOST_TEST(verified.status == 0, verified.out);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(audit_tools)

BOOST_AUTO_TEST_CASE(operators_read_a_callers_control_characters_spelled_out) {
  // A command line is the caller's (an agent's) choice: escape sequences in
  // it must not erase or rewrite what ps, audit show and audit report print
  // on an incident responder's terminal. ESC, CR and U+009B (a one-byte CSI
  // on some terminals) below.
  Governance gov("nogroup");
  gov.use_own_registry();
  const std::string hostile = "x\x1b[2K\r\x1b[31mFAKE\x1b[0m\xc2\x9b" "1A";
  auto args = gov.run("gov-open", {"/bin/sh", "-c", "sleep 30", hostile});
  args.insert(args.begin() + 1, "-v");
  BackgroundRun run(args);
  BOOST_REQUIRE(!run.wait_for_line("exec succeeded").empty());
  const auto raw_control = [](const std::string& text) {
    return text.find('\x1b') != std::string::npos || text.find('\r') != std::string::npos ||
           text.find("\xc2\x9b") != std::string::npos;
  };
  const auto ps = run_tierbox({"ps", "--config-dir", gov.config});
  BOOST_TEST(ps.status == 0, ps.err);
  BOOST_TEST(ps.out.find("x\\x1b[2K\\x0d\\x1b[31mFAKE") != std::string::npos, ps.out);
  BOOST_TEST(!raw_control(ps.out));
  run.signal(SIGTERM);
  run.wait();
  const auto show = run_tierbox({"audit", "show", "--config-dir", gov.config, "--audit-log", gov.log});
  BOOST_TEST(show.out.find("\\x1b[31mFAKE\\x1b[0m\\u009b1A") != std::string::npos, show.out);
  BOOST_TEST(!raw_control(show.out));
  const auto report = run_tierbox({"audit", "report", "--config-dir", gov.config, "--audit-log", gov.log});
  BOOST_TEST(report.status == 0, report.err);
  BOOST_TEST(!raw_control(report.out));
  // The log itself keeps the exact bytes (JSON-escaped), for the record.
  bool exact = false;
  for (const auto& record : gov.records())
    if (record.value("event", "") == "start") exact = record["argv"].back() == hostile;
  BOOST_TEST(exact);
}

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
  gov.write_settings({{"audit_syslog", socket_path.string()}});
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
