// tierbox daemon, end to end: a real daemon started by the test (its own
// socket, state directory, config and audit log; never systemd), callers
// that are real unprivileged users made for the test, and the client being
// `tierbox run` itself (and the Python client of tools/). Every refusal has
// its control.
#include <boost/test/unit_test.hpp>

#include "integration/daemon_fixture.h"
#include "policy/runner_config.h"

using namespace tierbox::testing;
using nlohmann::json;

BOOST_AUTO_TEST_SUITE(daemon_runs)

BOOST_AUTO_TEST_CASE(an_unprivileged_caller_runs_with_its_stdio_and_exit_code_and_the_kernel_names_it) {
  DaemonUsers users;
  Daemon daemon(users.group);
  daemon.start();
  SpawnOptions input;
  input.stdin_data = "from the caller\n";
  const auto result_file = daemon.dir().path() / "result.json";
  {
    std::ofstream(result_file).flush();
    ::chown(result_file.c_str(), DaemonUsers::uid(users.alice), static_cast<gid_t>(-1));
  }
  const auto ran = daemon.tierbox_as(users.alice, {"run", "--result", result_file.string(), "--", "/bin/sh", "-c",
                                                   "read line; echo \"out: $line\"; echo err >&2; id -u; exit 7"},
                                     input);
  BOOST_TEST(ran.status == 7, ran.err);
  BOOST_TEST(ran.out.find("out: from the caller") != std::string::npos, ran.out);
  BOOST_TEST(ran.err.find("err") != std::string::npos);
  // The result was written by the client, as alice: she owns it.
  struct stat st {};
  BOOST_REQUIRE(::stat(result_file.c_str(), &st) == 0);
  BOOST_TEST(st.st_uid == DaemonUsers::uid(users.alice));
  const auto result = json::parse(std::ifstream(result_file));
  BOOST_TEST(result.value("exit_status", -1) == 7);
  const auto run_id = result.value("run_id", "");
  const auto trail = records_of_run(daemon.records(), run_id);
  BOOST_REQUIRE(trail.size() >= 3U);
  for (const auto& record : trail) {
    BOOST_TEST(record["user"]["uid"].get<uid_t>() == DaemonUsers::uid(users.alice));
    BOOST_TEST(record["user"]["name"].get<std::string>() == users.alice);
  }
  BOOST_TEST(last_of(trail, "end")["exit"]["code"].get<int>() == 7);
}

BOOST_AUTO_TEST_CASE(without_a_daemon_a_caller_gets_one_line_and_125) {
  DaemonUsers users;
  Daemon daemon(users.group);  // never started
  const auto ran = daemon.tierbox_as(users.alice, {"run", "--", "/bin/true"});
  BOOST_TEST(ran.status == 125);
  BOOST_TEST(line_count(ran.err) == 1, ran.err);
  BOOST_TEST(ran.err.find("the tierbox daemon is not running") != std::string::npos, ran.err);
  BOOST_TEST(ran.err.find("systemctl start tierbox.socket") != std::string::npos, ran.err);
}

BOOST_AUTO_TEST_CASE(a_forged_requester_field_is_ignored_and_the_python_client_runs_a_task) {
  DaemonUsers users;
  Daemon daemon(users.group);
  daemon.start();
  SpawnOptions input;
  input.stdin_data = "py\n";
  const auto result_file = (daemon.dir().path() / "py-result.json").string();
  std::ofstream(result_file).flush();
  ::chown(result_file.c_str(), DaemonUsers::uid(users.alice), static_cast<gid_t>(-1));
  const auto ran = daemon.as(users.alice, {"/usr/bin/python3", std::string(kSourceDir) + "/tools/tierbox-client.py",
                                           "--result", result_file, "--extra", R"(user={"uid": 0, "name": "root"})",
                                           "--extra", "uid=0", "--extra", R"(requester={"uid": 0})", "--",
                                           "/bin/sh", "-c", "cat; exit 5"},
                             input);
  BOOST_TEST(ran.status == 5, ran.err);
  BOOST_TEST(ran.out == "py\n");
  const auto run_id = json::parse(std::ifstream(result_file)).value("run_id", "");
  const auto trail = records_of_run(daemon.records(), run_id);
  BOOST_REQUIRE(!trail.empty());
  for (const auto& record : trail) BOOST_TEST(record["user"]["uid"].get<uid_t>() == DaemonUsers::uid(users.alice));
  // Control: root's own direct run is recorded as uid 0, so the field above
  // would have shown it had it been believed.
  const auto direct = run_tierbox({"run", "--config-dir", daemon.config(), "--audit-log", daemon.log(), "--", "/bin/true"});
  BOOST_TEST(direct.status == 0, direct.err);
  BOOST_TEST(last_of(daemon.records(), "end")["user"]["uid"].get<uid_t>() == 0U);
}

BOOST_AUTO_TEST_CASE(sigterm_to_the_client_reaches_the_task) {
  DaemonUsers users;
  Daemon daemon(users.group);
  daemon.start();
  BackgroundRun client({"run", "--", "/bin/sh", "-c", "trap 'echo got-term; exit 7' TERM; echo ready >&2; sleep 30 & wait"},
                       {"/usr/bin/env", "TIERBOX_SOCKET=" + daemon.socket(), "TIERBOX_CONFIG_DIR=", "/usr/bin/setpriv",
                        "--reuid", users.alice, "--regid", "users", "--init-groups"});
  const json start = daemon.wait_for_start();
  BOOST_REQUIRE(!start.is_null());
  // The task's stderr is the client's: "ready" comes once the trap is set.
  BOOST_REQUIRE(!client.wait_for_line("ready").empty());
  client.signal(SIGTERM);
  BOOST_TEST(client.wait() == 7);  // the task's own status: it got the signal and chose its exit
  const auto out = client.out();
  BOOST_TEST(out.find("got-term") != std::string::npos, out);
}

BOOST_AUTO_TEST_CASE(the_caller_sees_the_warnings_a_direct_run_prints) {
  DaemonUsers users;
  Daemon daemon(users.group);
  daemon.start();
  const auto expired = daemon.tierbox_as(users.alice, {"run", "--tier", "dmn-expired", "--", "/bin/true"});
  BOOST_TEST(expired.status == 126, expired.err);  // control: without the flag an expired tier is refused
  const auto ran = daemon.tierbox_as(users.alice, {"run", "--tier", "dmn-expired", "--allow-expired-tier", "--", "/bin/true"});
  BOOST_TEST(ran.status == 0, ran.err);
  BOOST_TEST(ran.err.find("tierbox: warning: --allow-expired-tier: ") != std::string::npos, ran.err);
}

// The daemon keeps warm sandboxes (service::PooledLauncher): the first run of
// a tier is cold and sets what the pool prepares; the next ones take a
// prepared sandbox, and two of them, for two users, see nothing of each other
// (a file in /tmp, processes left behind, the pids counter of the cgroup).
BOOST_AUTO_TEST_CASE(runs_after_the_first_are_warm_and_two_warm_runs_see_nothing_of_each_other) {
  DaemonUsers users;
  Daemon daemon(users.group);
  daemon.start({"--pool-size", "1", "-v"});
  const auto run_as = [&](const std::string& user, const std::string& script) {
    return daemon.tierbox_as(user, {"run", "--tier", "untrusted", "--", "/bin/sh", "-c", script});
  };
  const auto first = run_as(users.alice, "true");
  BOOST_REQUIRE_MESSAGE(first.status == 0, first.err);
  BOOST_REQUIRE(daemon.wait_for_pool_log({"0 warm and 1 cold launches", "tier 'untrusted': sandbox"}));

  // Run A (alice): a file in /tmp, 20 processes left behind, and (the
  // control) its own view of both.
  const auto a = run_as(users.alice,
                        "echo from-a > /tmp/mark; for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do "
                        "sleep 300 & done; cat /tmp/mark; echo procs $(ls /proc | grep -c '^[0-9]')");
  BOOST_REQUIRE_MESSAGE(a.status == 0, a.err);
  BOOST_TEST(a.out.find("from-a") != std::string::npos, a.out);
  BOOST_TEST(a.out.find("procs 2") != std::string::npos, a.out);  // 20-odd: init, sh, 20 sleeps, ls, grep
  // A was warm; the pool made the next one meanwhile.
  BOOST_REQUIRE(daemon.wait_for_pool_log({"1 warm and 1 cold launches", "tier 'untrusted': sandbox"}));

  // Run B (bob), from the same pool: none of it.
  const auto b = run_as(users.bob, "ls -A /tmp; cat /tmp/mark 2>/dev/null || echo no-mark; "
                                   "echo procs $(ls /proc | grep -c '^[0-9]')");
  BOOST_REQUIRE_MESSAGE(b.status == 0, b.err);
  BOOST_TEST(b.out.find("from-a") == std::string::npos, b.out);
  BOOST_TEST(b.out.find("no-mark") != std::string::npos, b.out);
  const auto procs = b.out.find("procs ");
  BOOST_REQUIRE(procs != std::string::npos);
  BOOST_TEST(std::stoi(b.out.substr(procs + 6)) <= 5, b.out);  // init, sh, the subshell, ls, grep
  BOOST_REQUIRE(daemon.wait_for_pool_log({"2 warm and 1 cold launches"}));  // B was warm

  // The cgroup counters: A's end record counts its 21+ processes, B's does
  // not count them (where the host's pids controller reports a peak).
  std::vector<json> ends;
  for (const auto& record : daemon.records())
    if (record.value("event", "") == "end") ends.push_back(record);
  BOOST_REQUIRE_EQUAL(ends.size(), 3U);
  const auto& a_end = ends[1];
  const auto& b_end = ends[2];
  BOOST_TEST(a_end["user"]["uid"].get<uid_t>() == DaemonUsers::uid(users.alice));
  BOOST_TEST(b_end["user"]["uid"].get<uid_t>() == DaemonUsers::uid(users.bob));
  BOOST_TEST(a_end["run_id"] != b_end["run_id"]);
  if (a_end["usage"]["pids_peak"].is_null() || b_end["usage"]["pids_peak"].is_null()) {
    BOOST_TEST_MESSAGE("no pids peak on this host: the counters part is skipped");
  } else {
    BOOST_TEST(a_end["usage"]["pids_peak"].get<std::uint64_t>() >= 21U);
    BOOST_TEST(b_end["usage"]["pids_peak"].get<std::uint64_t>() < 10U);
  }
}

// --pool-size 0: the control; no run takes a prepared sandbox.
BOOST_AUTO_TEST_CASE(pool_size_zero_launches_every_run_cold) {
  DaemonUsers users;
  Daemon daemon(users.group);
  daemon.start({"--pool-size", "0", "-v"});
  for (int i = 1; i <= 2; ++i) {
    const auto ran = daemon.tierbox_as(users.alice, {"run", "--tier", "untrusted", "--", "/bin/true"});
    BOOST_REQUIRE_MESSAGE(ran.status == 0, ran.err);
    BOOST_TEST(daemon.wait_for_pool_log({"0 warm and " + std::to_string(i) + " cold launches, 0 prepared"}));
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(daemon_refusals)

BOOST_AUTO_TEST_CASE(a_caller_cannot_edit_a_profile_or_the_audit_log) {
  DaemonUsers users;
  Daemon daemon(users.group);
  daemon.start();
  BOOST_TEST(daemon.tierbox_as(users.alice, {"run", "--", "/bin/true"}).status == 0);
  const auto tier = daemon.config() + "/tiers/dmn-group.json";
  const auto append_tier = daemon.as(users.alice, {"/bin/sh", "-c", "echo '{}' >> " + tier});
  BOOST_TEST(append_tier.status != 0);
  BOOST_TEST(append_tier.err.find("Permission denied") != std::string::npos, append_tier.err);
  const auto read_tier = daemon.as(users.alice, {"/bin/cat", tier});  // control: readable, not writable
  BOOST_TEST(read_tier.status == 0, read_tier.err);
  const auto append_log = daemon.as(users.alice, {"/bin/sh", "-c", "echo x >> " + daemon.log()});
  BOOST_TEST(append_log.status != 0);
  const auto truncate_log = daemon.as(users.alice, {"/usr/bin/truncate", "-s", "0", daemon.log()});
  BOOST_TEST(truncate_log.status != 0);
  // Control: root can append (the log is there and writable to its owner).
  BOOST_TEST(::access(daemon.log().c_str(), W_OK) == 0);
  // The run through the daemon is in it, intact.
  BOOST_TEST(run_tierbox({"audit", "verify", "--audit-log", daemon.log()}).status == 0);
}

BOOST_AUTO_TEST_CASE(a_workspace_the_caller_cannot_read_or_write_is_refused) {
  DaemonUsers users;
  Daemon daemon(users.group);
  daemon.start();
  const auto secret = daemon.dir().path() / "roots-only";
  fs::create_directories(secret);
  ::chmod(secret.c_str(), 0700);
  std::ofstream(secret / "key").write("k", 1);
  const auto read = daemon.tierbox_as(users.alice, {"run", "--workspace", secret.string(), "--", "/bin/ls"});
  BOOST_TEST(read.status == 125);
  BOOST_TEST(read.err.find("Permission denied") != std::string::npos, read.err);
  BOOST_TEST(read.out.find("key") == std::string::npos);
  // Control: root runs in it directly and sees the file.
  const auto root_read = run_tierbox({"run", "--config-dir", daemon.config(), "--audit-log", daemon.log(), "--workspace",
                                      secret.string(), "--", "/bin/ls"});
  BOOST_TEST(root_read.out.find("key") != std::string::npos, root_read.err);

  const auto shared = daemon.dir().path() / "readable";
  fs::create_directories(shared);
  ::chmod(shared.c_str(), 0755);
  const auto write = daemon.tierbox_as(users.alice, {"run", "--tier", "workspace-write", "--workspace", shared.string(),
                                                    "--", "/bin/sh", "-c", "touch made"});
  BOOST_TEST(write.status == 126, write.err);
  BOOST_TEST(write.err.find("not writable by " + users.alice) != std::string::npos, write.err);
  BOOST_TEST(!fs::exists(shared / "made"));
  // Controls: alice's own directory runs read-only (tier untrusted), and is
  // writable. (Root's, even read-only, is refused: the workspace is
  // id-mapped to its owner; integration.daemon_adversarial.)
  BOOST_REQUIRE(::chown(shared.c_str(), DaemonUsers::uid(users.alice), *tierbox::group_id("users")) == 0);
  const auto read_only = daemon.tierbox_as(users.alice, {"run", "--workspace", shared.string(), "--", "/bin/true"});
  BOOST_TEST(read_only.status == 0, read_only.err);
  const auto own = daemon.tierbox_as(users.alice, {"run", "--tier", "workspace-write", "--workspace", shared.string(),
                                                  "--", "/bin/sh", "-c", "touch made"});
  BOOST_TEST(own.status == 0, own.err);
  BOOST_TEST(fs::exists(shared / "made"));
}

BOOST_AUTO_TEST_CASE(an_o_path_workspace_fd_to_a_directory_the_caller_cannot_read_is_refused) {
  DaemonUsers users;
  Daemon daemon(users.group);
  daemon.start();
  const auto secret = daemon.dir().path() / "roots-only";
  fs::create_directories(secret);
  ::chmod(secret.c_str(), 0700);
  const uid_t alice = DaemonUsers::uid(users.alice);
  const gid_t gid = *tierbox::primary_group(alice);
  // O_PATH needs no read permission: the fd opens, and must be refused.
  const auto o_path = run_with_workspace_fd(daemon, alice, gid, secret.string(), O_PATH | O_DIRECTORY);
  BOOST_TEST(o_path.value("type", "") == "error", o_path.dump());
  BOOST_TEST(o_path.value("code", "") == "refused", o_path.dump());
  BOOST_TEST(o_path.value("message", "").find("not O_PATH") != std::string::npos, o_path.dump());
  const auto recorded = last_of(daemon.records(), "daemon");
  BOOST_TEST(recorded.value("action", "") == "refused", recorded.dump());
  BOOST_TEST(recorded["user"]["uid"].get<uid_t>() == alice);
  BOOST_TEST(last_of(daemon.records(), "start").is_null());  // nothing ran
  // Controls: reading it is what the kernel refuses alice; a directory of
  // hers, opened for reading, runs.
  const auto read = run_with_workspace_fd(daemon, alice, gid, secret.string(), O_RDONLY | O_DIRECTORY);
  BOOST_TEST(read.value("open_errno", 0) == EACCES, read.dump());
  const auto readable = daemon.dir().path() / "readable";
  fs::create_directories(readable);
  ::chmod(readable.c_str(), 0755);
  BOOST_REQUIRE(::chown(readable.c_str(), alice, gid) == 0);
  const auto ran = run_with_workspace_fd(daemon, alice, gid, readable.string(), O_RDONLY | O_DIRECTORY);
  BOOST_TEST(ran.value("exit_status", -1) == 0, ran.dump());
}

BOOST_AUTO_TEST_CASE(a_tier_not_allowed_to_the_caller_is_refused) {
  DaemonUsers users;
  Daemon daemon(users.group);
  daemon.start();
  const auto bob = daemon.tierbox_as(users.bob, {"run", "--tier", "dmn-group", "--", "/bin/echo", "ran"});
  BOOST_TEST(bob.status == 126, bob.err);
  BOOST_TEST(bob.err.find("may not be used by " + users.bob) != std::string::npos, bob.err);
  BOOST_TEST(bob.out.find("ran") == std::string::npos);
  const auto refused = last_of(daemon.records(), "profile_refused");
  BOOST_TEST(refused["user"]["uid"].get<uid_t>() == DaemonUsers::uid(users.bob));
  // Control: alice is in the group.
  const auto alice = daemon.tierbox_as(users.alice, {"run", "--tier", "dmn-group", "--", "/bin/echo", "ran"});
  BOOST_TEST(alice.status == 0, alice.err);
  BOOST_TEST(alice.out == "ran\n");
  // profile explain shows who may use it.
  const auto explain = run_tierbox({"profile", "explain", "dmn-group", "--config-dir", daemon.config()});
  BOOST_TEST(explain.out.find("members of groups " + users.group) != std::string::npos, explain.out + explain.err);
}

BOOST_AUTO_TEST_CASE(a_caller_cannot_approve_its_own_request_nor_confirm_without_a_terminal) {
  DaemonUsers users;
  Daemon daemon(users.group);
  daemon.start();
  // bob (not an approver) asks for a tier that needs an approver.
  auto bob_run = std::async(std::launch::async, [&] {
    return daemon.tierbox_as(users.bob, {"run", "--tier", "dmn-approve", "--", "/bin/echo", "approved-run"});
  });
  std::string id;
  for (int i = 0; i < 200 && id.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(daemon.dir().path() / "approvals", ec))
      if (entry.path().extension() == ".json") id = entry.path().stem().string();
  }
  BOOST_REQUIRE(!id.empty());
  const auto own = daemon.tierbox_as(users.bob, {"approve", id, "--config-dir", daemon.config()});
  BOOST_TEST(own.out.find("cannot approve their own request") != std::string::npos, own.out + own.err);
  // Control: alice, an approver, approves; bob's task runs.
  const auto approved = daemon.tierbox_as(users.alice, {"approve", id, "--config-dir", daemon.config()});
  BOOST_TEST(approved.status == 0, approved.out + approved.err);
  const auto ran = bob_run.get();
  BOOST_TEST(ran.status == 0, ran.err);
  BOOST_TEST(ran.out == "approved-run\n");
  // The caller was told what it waits for, on its own stderr.
  BOOST_TEST(ran.err.find("waiting for approval of request " + id) != std::string::npos, ran.err);
  const auto decision = last_of(daemon.records(), "decision");
  BOOST_TEST(decision["user"]["uid"].get<uid_t>() == DaemonUsers::uid(users.bob));
  BOOST_TEST(decision["decision"]["by"][0]["uid"].get<uid_t>() == DaemonUsers::uid(users.alice));
  // confirm asks at the caller's own terminal (test_daemon_confirm.cpp); a
  // caller without one (a new session) is refused, and "y" on its stdin
  // answers nothing.
  SpawnOptions piped;
  piped.stdin_data = "y\n";
  const auto confirm = daemon.as(users.alice, {"/usr/bin/setsid", "-w", kTierbox, "run", "--tier", "dmn-confirm", "--",
                                               "/bin/echo", "confirmed"}, piped);
  BOOST_TEST(confirm.status == 126, confirm.err);
  BOOST_TEST(confirm.err.find("no terminal to confirm at") != std::string::npos, confirm.err);
  BOOST_TEST(confirm.out.find("confirmed") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_caller_cannot_stop_or_freeze_another_users_run) {
  DaemonUsers users;
  Daemon daemon(users.group);
  daemon.start();
  auto alice_run = std::async(std::launch::async, [&] {
    return daemon.tierbox_as(users.alice, {"run", "--", "/bin/sleep", "30"});
  });
  const std::string run_id = daemon.wait_for_start().value("run_id", "");
  BOOST_REQUIRE(!run_id.empty());
  for (const char* action : {"stop", "freeze"}) {
    const auto bob = daemon.tierbox_as(users.bob, {action, run_id, "--config-dir", daemon.config()});
    BOOST_TEST(bob.status != 0, action);
    BOOST_TEST(bob.err.find("tierbox:") != std::string::npos, bob.err);
  }
  const auto bob_ps = daemon.tierbox_as(users.bob, {"ps", "--config-dir", daemon.config()});
  BOOST_TEST(bob_ps.out.find(run_id.substr(0, 8)) == std::string::npos, bob_ps.out);
  // Control: alice may stop her own run.
  const auto alice_ps = daemon.tierbox_as(users.alice, {"ps", "--config-dir", daemon.config()});
  BOOST_TEST(alice_ps.out.find(run_id.substr(0, 8)) != std::string::npos, alice_ps.out + alice_ps.err);
  const auto stop = daemon.tierbox_as(users.alice, {"stop", run_id, "--grace", "1", "--config-dir", daemon.config()});
  BOOST_TEST(stop.status == 0, stop.err);
  const auto ran = alice_run.get();
  BOOST_TEST(ran.status != 0);
}

// A caller's ps, stop, approvals... read tierbox.json with the caller's own
// rights (where the runs' control sockets are) and nothing else of the
// configuration; the first tierbox.json found wins. A caller who may not
// enter the checkout whose profiles/ the binary was built with (a 0700 home)
// is refused there (EACCES), so tools/systemd/install.sh writes a readable
// /etc/tierbox/tierbox.json, found before it. Here the checkout's profiles/
// is hidden behind a root-only directory (a mount namespace of the test's),
// and the caller's readable tierbox.json stands in for /etc/tierbox's.
BOOST_AUTO_TEST_CASE(a_caller_who_cannot_enter_the_checkout_reaches_its_run_through_a_readable_tierbox_json) {
  DaemonUsers users;
  Daemon daemon(users.group);
  daemon.start();
  auto alice_run = std::async(std::launch::async, [&] {
    return daemon.tierbox_as(users.alice, {"run", "--", "/bin/sleep", "30"});
  });
  const std::string run_id = daemon.wait_for_start().value("run_id", "");
  BOOST_REQUIRE(!run_id.empty());
  TempDir hidden("tbx-hidden");  // 0700, root's
  ::chmod(hidden.str().c_str(), 0700);
  const auto as_alice_without_the_checkout = [&](const std::string& config_dir, const std::string& command) {
    const std::string script = "mount --bind " + hidden.str() + " " + kSourceDir + "/profiles && exec /usr/bin/setpriv --reuid " +
                               users.alice + " --regid users --init-groups /usr/bin/env TIERBOX_CONFIG_DIR=" + config_dir +
                               " TIERBOX_AUDIT_LOG= " + kTierbox + " " + command;
    return run_process({"/usr/bin/unshare", "-m", "--propagation", "private", "/bin/sh", "-c", script});
  };
  // Control: no readable tierbox.json before the checkout's: refused there.
  const auto without = as_alice_without_the_checkout("", "ps");
  BOOST_TEST(without.status == 125, without.err);
  BOOST_TEST(without.err.find("tierbox.json: cannot be looked at: EACCES") != std::string::npos, without.err);
  // With one, found first: ps shows alice's run, approvals answers, stop stops it.
  const auto ps = as_alice_without_the_checkout(daemon.config(), "ps");
  BOOST_TEST(ps.status == 0, ps.err);
  BOOST_TEST(ps.out.find(run_id.substr(0, 8)) != std::string::npos, ps.out + ps.err);
  const auto approvals = as_alice_without_the_checkout(daemon.config(), "approvals");
  BOOST_TEST(approvals.status == 0, approvals.err);
  const auto stop = as_alice_without_the_checkout(daemon.config(), "stop " + run_id + " --grace 1");
  BOOST_TEST(stop.status == 0, stop.err);
  BOOST_TEST(alice_run.get().status != 0);
  // install.sh's file names the defaults every caller would look in.
  std::ifstream install(std::string(kSourceDir) + "/tools/systemd/install.sh");
  std::string line, written;
  while (std::getline(install, line))
    if (line.find("'{\"comment\"") != std::string::npos) written = line.substr(line.find('{'), line.rfind('}') - line.find('{') + 1);
  const auto config = json::parse(written);
  const tierbox::policy::RunnerConfig defaults;
  BOOST_TEST(config.value("state_dir", "") == defaults.state_dir.string());
  BOOST_TEST(config.value("approvals_dir", "") == defaults.approvals_dir.string());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(daemon_faults)

BOOST_AUTO_TEST_CASE(a_client_killed_mid_run_stops_its_task_and_the_end_says_so) {
  DaemonUsers users;
  Daemon daemon(users.group);
  daemon.start();
  // setpriv execs tierbox: the pid is the client's.
  BackgroundRun client({"run", "--", "/bin/sleep", "60"},
                       {"/usr/bin/env", "TIERBOX_SOCKET=" + daemon.socket(), "TIERBOX_CONFIG_DIR=", "/usr/bin/setpriv", "--reuid", users.alice,
                        "--regid", "users", "--init-groups"});
  const json start = daemon.wait_for_start();
  BOOST_REQUIRE(!start.is_null());
  const pid_t sandbox = start.value("pid", -1);
  BOOST_REQUIRE(process_exists(sandbox));
  client.signal(SIGKILL);
  client.wait();
  BOOST_TEST(wait_until_gone(sandbox, std::chrono::seconds(10)));
  json end;
  for (int i = 0; i < 300 && end.is_null(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    end = last_of(records_of_run(daemon.records(), start.value("run_id", "")), "end");
  }
  BOOST_REQUIRE(!end.is_null());
  // (Stopped at the start when the kill came between the start record and
  // the task's start: "audit: stopped: ...".)
  BOOST_TEST(end.value("error", "").find("stopped: the client disconnected") != std::string::npos, end.dump());
  // Control: a client left alone gets its task's own end.
  const auto ran = daemon.tierbox_as(users.alice, {"run", "--", "/bin/true"});
  BOOST_TEST(ran.status == 0, ran.err);
  BOOST_TEST(last_of(daemon.records(), "end")["error"].is_null());
}

BOOST_AUTO_TEST_CASE(a_client_that_exits_while_another_process_holds_its_socket_has_gone) {
  DaemonUsers users;
  Daemon daemon(users.group);
  daemon.start();
  // The client (a child of the test) sends its run, hands its socket to a
  // grandchild that only sleeps, and exits: the socket stays open, the
  // client's pidfd (SO_PEERPIDFD) says it is gone.
  int holder_pipe[2];
  BOOST_REQUIRE(::pipe2(holder_pipe, O_CLOEXEC) == 0);
  const pid_t client = ::fork();
  if (client == 0) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, daemon.socket().c_str(), sizeof address.sun_path - 1);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) ::_exit(1);
    const auto frame = RawClient::frame(R"({"tierbox": 1, "type": "run", "argv": ["/bin/sleep", "60"]})");
    if (::send(fd, frame.data(), frame.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(frame.size())) ::_exit(1);
    const pid_t holder = ::fork();
    if (holder == 0) {
      ::sleep(60);
      ::_exit(0);
    }
    (void)!::write(holder_pipe[1], &holder, sizeof holder);
    ::_exit(0);
  }
  ::close(holder_pipe[1]);
  pid_t holder = -1;
  BOOST_REQUIRE(::read(holder_pipe[0], &holder, sizeof holder) == static_cast<ssize_t>(sizeof holder));
  ::close(holder_pipe[0]);
  ::waitpid(client, nullptr, 0);
  json end;
  for (int i = 0; i < 300 && end.is_null(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    end = last_of(daemon.records(), "end");
  }
  ::kill(holder, SIGKILL);  // the test's own grandchild; init reaps it
  BOOST_REQUIRE(end.is_object());
  // (Before or after the task started, depending on how fast the client
  // exited: either way the run was stopped for it.)
  BOOST_TEST(end.value("error", "").find("stopped: the client disconnected (it exited") != std::string::npos, end.dump());
  // Control: with the client alive the same request runs to its own end.
  const auto ran = daemon.tierbox_as(users.alice, {"run", "--", "/bin/true"});
  BOOST_TEST(ran.status == 0, ran.err);
}

BOOST_AUTO_TEST_CASE(twenty_concurrent_clients_each_get_their_own_output_and_status) {
  DaemonUsers users;
  Daemon daemon(users.group);
  daemon.start();
  std::vector<std::future<ProcessResult>> runs;
  for (int i = 0; i < 20; ++i)
    runs.push_back(std::async(std::launch::async, [&, i] {
      return daemon.tierbox_as(users.alice, {"run", "--", "/bin/sh", "-c", "echo client-" + std::to_string(i) + "; exit " + std::to_string(i % 5)});
    }));
  for (int i = 0; i < 20; ++i) {
    const auto ran = runs[i].get();
    BOOST_TEST(ran.status == i % 5, "status " + std::to_string(ran.status) + (ran.timed_out ? " (timed out) " : " ") + ran.err);
    BOOST_TEST(ran.out == "client-" + std::to_string(i) + "\n");
  }
  BOOST_TEST(run_tierbox({"audit", "verify", "--audit-log", daemon.log()}).status == 0);
}

BOOST_AUTO_TEST_CASE(malformed_oversized_and_out_of_order_messages_get_an_error_and_a_record) {
  DaemonUsers users;
  Daemon daemon(users.group);
  daemon.start();
  const std::vector<std::pair<std::string, std::string>> cases = {
      {RawClient::frame("{not json"), "malformed"},
      {std::string("\x7f\xff\xff\xff", 4), "too_large"},
      {RawClient::frame(R"({"tierbox": 9, "type": "run", "argv": ["x"]})"), "bad_version"},
      {RawClient::frame(R"({"tierbox": 1, "type": "signal", "signal": 2})"), "out_of_order"},
      {RawClient::frame(R"({"tierbox": 1, "type": "launch-as-root"})"), "unknown_type"},
  };
  for (const auto& [bytes, code] : cases) {
    RawClient client(daemon.socket());
    client.send_raw(bytes);
    const auto reply = client.reply();
    BOOST_TEST(reply.value("type", "") == "error", reply.dump());
    BOOST_TEST(reply.value("code", "") == code, reply.dump());
  }
  std::vector<std::string> recorded;
  for (const auto& record : daemon.records())
    if (record.value("event", "") == "daemon") recorded.push_back(record.value("detail", ""));
  BOOST_TEST(recorded.size() == cases.size());
  // Control: the daemon still serves a well-formed request.
  const auto ran = daemon.tierbox_as(users.alice, {"run", "--", "/bin/echo", "fine"});
  BOOST_TEST(ran.status == 0, ran.err);
  BOOST_TEST(ran.out == "fine\n");
  BOOST_TEST(run_tierbox({"audit", "verify", "--audit-log", daemon.log()}).status == 0);
}

BOOST_AUTO_TEST_CASE(a_client_that_sends_nothing_stalls_no_one_and_times_out) {
  DaemonUsers users;
  Daemon daemon(users.group);
  daemon.start({"--request-timeout", "8"});
  RawClient silent(daemon.socket());
  RawClient half(daemon.socket());
  half.send_raw(std::string("\x00\x00\x00\x40{\"tierbox\"", 14));  // a frame begun, never finished
  // Meanwhile another caller is served: by the time its task ended, neither
  // silent connection has been answered yet (their timeout is still ahead).
  const auto ran = daemon.tierbox_as(users.alice, {"run", "--", "/bin/echo", "served"});
  BOOST_TEST(ran.status == 0, ran.err);
  BOOST_TEST(ran.out == "served\n");
  BOOST_TEST(!silent.has_reply_yet());
  BOOST_TEST(!half.has_reply_yet());
  BOOST_TEST(silent.reply().value("code", "") == "timeout");
  BOOST_TEST(half.reply().value("code", "") == "timeout");
}

BOOST_AUTO_TEST_CASE(past_the_per_user_limit_a_run_is_refused_with_the_limit_named) {
  DaemonUsers users;
  Daemon daemon(users.group);
  daemon.start({"--max-runs-per-user", "1"});
  // The first run lasts until the test has made its checks (a file in its
  // workspace; at most 60 s), not a fixed time a loaded machine outlasts.
  const auto gate = daemon.dir().path() / "gate";
  fs::create_directories(gate);
  must({"/bin/chown", users.alice + ":users", gate.string()});
  auto first = std::async(std::launch::async, [&] {
    return daemon.tierbox_as(users.alice, {"run", "--workspace", gate.string(), "--", "/bin/sh", "-c",
                                           "i=0; while [ ! -e go ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done"});
  });
  BOOST_REQUIRE_MESSAGE(!daemon.wait_for_start().is_null(), "the first run did not start within 30 s");
  const auto second = daemon.tierbox_as(users.alice, {"run", "--", "/bin/true"});
  BOOST_TEST(second.status == 125);
  BOOST_TEST(second.err.find("max_runs_per_user") != std::string::npos, second.err);
  // Control: another user is not held by alice's limit.
  const auto bob = daemon.tierbox_as(users.bob, {"run", "--", "/bin/true"});
  BOOST_TEST(bob.status == 0, bob.err);
  std::ofstream(gate / "go") << "";
  BOOST_TEST(first.get().status == 0);
}

BOOST_AUTO_TEST_CASE(the_daemon_stopped_with_live_runs_leaves_nothing_and_a_consistent_log) {
  DaemonUsers users;
  Daemon daemon(users.group);
  daemon.start();
  auto live = std::async(std::launch::async, [&] { return daemon.tierbox_as(users.alice, {"run", "--", "/bin/sleep", "60"}); });
  const json start = daemon.wait_for_start();
  BOOST_REQUIRE(!start.is_null());
  const pid_t sandbox = start.value("pid", -1);
  BOOST_TEST(daemon.stop() == 0);
  const auto client = live.get();
  BOOST_TEST(client.status == 125);
  BOOST_TEST(client.err.find("the tierbox daemon ended the connection") != std::string::npos, client.err);
  BOOST_TEST(!process_exists(sandbox));
  const auto end = last_of(records_of_run(daemon.records(), start.value("run_id", "")), "end");
  BOOST_TEST(end.value("error", "").find("stopped: the daemon stopped") != std::string::npos, end.dump());
  std::error_code ec;
  BOOST_TEST(fs::is_empty(daemon.state() / "runs", ec));
  BOOST_TEST(run_tierbox({"audit", "verify", "--audit-log", daemon.log()}).status == 0);
  // Restarted on the same socket, it serves again.
  daemon.start();
  const auto again = daemon.tierbox_as(users.alice, {"run", "--", "/bin/echo", "again"});
  BOOST_TEST(again.status == 0, again.err);
  BOOST_TEST(again.out == "again\n");
}

BOOST_AUTO_TEST_CASE(a_daemon_killed_outright_takes_its_sandboxes_and_gc_closes_their_trail) {
  DaemonUsers users;
  Daemon daemon(users.group);
  daemon.start();
  auto live = std::async(std::launch::async, [&] { return daemon.tierbox_as(users.alice, {"run", "--", "/bin/sleep", "60"}); });
  const json start = daemon.wait_for_start();
  BOOST_REQUIRE(!start.is_null());
  const pid_t sandbox = start.value("pid", -1);
  daemon.kill();
  // Each sandbox's init has the parent-death signal: it dies with the daemon.
  BOOST_TEST(wait_until_gone(sandbox, std::chrono::seconds(10)));
  BOOST_TEST(live.get().status == 125);
  // The trail has a start without an end until gc (tierbox.service runs it
  // before the daemon starts: ExecStartPre).
  const auto run_id = start.value("run_id", "");
  BOOST_TEST(last_of(records_of_run(daemon.records(), run_id), "end").is_null());
  const auto gc = run_tierbox({"gc", "--config-dir", daemon.config()});  // the trail says which log
  BOOST_TEST(gc.status == 0, gc.out + gc.err);
  const auto end = last_of(records_of_run(daemon.records(), run_id), "end");
  BOOST_REQUIRE(end.is_object());
  BOOST_TEST(end.value("outcome", "") == "ended unknown", end.dump());
  std::string left;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(daemon.state() / "runs", ec))
    if (entry.path().filename() != "gc.lock") left += entry.path().filename().string() + " ";  // gc's own lock stays
  BOOST_TEST(left.empty(), "left in runs/: " + left + "; gc said: " + gc.out);
  BOOST_TEST(run_tierbox({"audit", "verify", "--audit-log", daemon.log()}).status == 0);
  daemon.start();  // a new daemon on the stale socket
  BOOST_TEST(daemon.tierbox_as(users.alice, {"run", "--", "/bin/true"}).status == 0);
}

BOOST_AUTO_TEST_SUITE_END()
