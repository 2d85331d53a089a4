// tierbox daemon, staged runs and the options `tierbox run` carries besides
// stdio and the workspace: what a caller who is not root reaches through
// the daemon, as the kernel says it is. The daemon and users are
// daemon_fixture.h's; every refusal has its control.
#include <boost/test/unit_test.hpp>

#include "integration/daemon_fixture.h"

using namespace tierbox::testing;
using nlohmann::json;

// Staged runs through the daemon: the state directory is root's, so a
// caller who is not root reaches `changes`, `apply`, `rollback` and
// `discard` only through it, as the kernel says it is.
BOOST_AUTO_TEST_SUITE(daemon_staged)

namespace {

// A workspace of user's own (0700: nobody else can read it), with files.
fs::path user_workspace(const Daemon& daemon, const std::string& user, const std::map<std::string, std::string>& files) {
  const auto dir = daemon.dir().path() / ("ws-" + user);
  fs::create_directories(dir);
  for (const auto& [name, text] : files) std::ofstream(dir / name) << text;
  must({"/bin/chown", "-R", user + ":users", dir.string()});
  ::chmod(dir.c_str(), 0700);
  // Past the kernel's coarse clock tick of that chown: apply takes a file
  // changed in the tick the run started in as changed since (a conflict,
  // docs/staged-writes.md), and a warm launch can start within it.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  return dir;
}

// user runs script in workspace-staged on workspace; returns the run id
// (from the --result file the client writes as the caller).
std::string staged_run(const Daemon& daemon, const std::string& user, const fs::path& workspace, const std::string& script) {
  const auto result = workspace.parent_path() / ("result-" + user + ".json");
  fs::remove(result);
  std::ofstream(result) << "";
  must({"/bin/chown", user + ":users", result.string()});
  const auto ran = daemon.tierbox_as(user, {"run", "--tier", "workspace-staged", "--workspace", workspace.string(),
                                            "--result", result.string(), "--", "/bin/sh", "-c", script});
  BOOST_REQUIRE_MESSAGE(ran.status == 0, ran.err);
  std::ifstream in(result);
  const auto document = json::parse(in);
  return document.at("run_id").get<std::string>();
}

}  // namespace

BOOST_AUTO_TEST_CASE(another_users_staged_run_cannot_be_seen_applied_or_discarded) {
  DaemonUsers users;
  Daemon daemon(users.group);
  daemon.start();
  // alice's run (alice is an approver; bob is not).
  const auto alice_ws = user_workspace(daemon, users.alice, {{"keep.txt", "keep\n"}});
  const auto alice_run = staged_run(daemon, users.alice, alice_ws, "echo secret-plan > added.txt");
  BOOST_REQUIRE(!fs::exists(alice_ws / "added.txt"));

  // bob: refused for every action, and nothing of alice's change reaches him.
  for (const std::string action : {"changes", "apply", "discard", "rollback"}) {
    const auto tried = daemon.tierbox_as(users.bob, {action, alice_run});
    BOOST_TEST(tried.status == 126, action << ": " << tried.out << tried.err);
    BOOST_TEST(tried.err.find("refused") != std::string::npos, action << ": " << tried.err);
    BOOST_TEST(tried.out.find("added.txt") == std::string::npos, action << ": " << tried.out);
    BOOST_TEST(tried.err.find("added.txt") == std::string::npos, action << ": " << tried.err);
  }
  const auto diff = daemon.tierbox_as(users.bob, {"changes", "--diff", "--json", alice_run});
  BOOST_TEST(diff.status == 126);
  BOOST_TEST(diff.out.find("secret-plan") == std::string::npos);
  BOOST_TEST(!fs::exists(alice_ws / "added.txt"));
  BOOST_TEST(fs::exists(daemon.state()));
  // The refusals are in the trail, with bob's uid from the kernel.
  int refused = 0;
  for (const auto& record : daemon.records())
    if (record.value("action", "") == "refused" && record.dump().find(alice_run) != std::string::npos) {
      BOOST_TEST(record["user"]["uid"].get<uid_t>() == DaemonUsers::uid(users.bob));
      ++refused;
    }
  BOOST_TEST(refused == 5);
  // Options that are root's to choose are refused on the client's side.
  const auto config = daemon.tierbox_as(users.alice, {"changes", alice_run, "--config-dir", daemon.config()});
  BOOST_TEST(config.status == 125, config.err);
  BOOST_TEST(config.err.find("--config-dir") != std::string::npos, config.err);

  // Control: alice sees her own run's change, with its diff, on her stdout.
  const auto seen = daemon.tierbox_as(users.alice, {"changes", "--diff", alice_run});
  BOOST_TEST(seen.status == 0, seen.err);
  BOOST_TEST(seen.out.find("added.txt") != std::string::npos, seen.out);
  BOOST_TEST(seen.out.find("+secret-plan") != std::string::npos, seen.out);
  const auto as_json = daemon.tierbox_as(users.alice, {"changes", "--json", alice_run});
  BOOST_REQUIRE_MESSAGE(as_json.status == 0, as_json.err);
  const auto document = json::parse(as_json.out);
  BOOST_TEST(document["run_id"].get<std::string>() == alice_run);
  // ... and applies it (no deletion: no rule asks for an approver).
  const auto applied = daemon.tierbox_as(users.alice, {"apply", alice_run});
  BOOST_TEST(applied.status == 0, applied.err);
  BOOST_TEST(applied.out.find("applied change set " + document["digest"].get<std::string>()) != std::string::npos, applied.out);
  std::ifstream landed(alice_ws / "added.txt");
  std::string text((std::istreambuf_iterator<char>(landed)), std::istreambuf_iterator<char>());
  BOOST_TEST(text == "secret-plan\n");
  const auto apply_record = last_of(daemon.records(), "apply");
  BOOST_TEST(apply_record["user"]["uid"].get<uid_t>() == DaemonUsers::uid(users.alice));
  BOOST_TEST(apply_record.value("result", "") != "refused");
  // bob cannot roll alice's apply back; alice can.
  const auto bob_rollback = daemon.tierbox_as(users.bob, {"rollback", alice_run});
  BOOST_TEST(bob_rollback.status == 126);
  BOOST_TEST(fs::exists(alice_ws / "added.txt"));
  const auto rolled_back = daemon.tierbox_as(users.alice, {"rollback", alice_run});
  BOOST_TEST(rolled_back.status == 0, rolled_back.err);
  BOOST_TEST(!fs::exists(alice_ws / "added.txt"));
}

BOOST_AUTO_TEST_CASE(a_deleting_apply_waits_for_an_approver_who_is_not_the_requester) {
  DaemonUsers users;
  Daemon daemon(users.group);
  daemon.start();
  const auto bob_ws = user_workspace(daemon, users.bob, {{"gone.txt", "gone\n"}, {"keep.txt", "keep\n"}});
  const auto bob_run = staged_run(daemon, users.bob, bob_ws, "rm gone.txt");
  BOOST_REQUIRE(fs::exists(bob_ws / "gone.txt"));
  // An approver (alice) sees bob's run: approvers review what they approve.
  const auto reviewed = daemon.tierbox_as(users.alice, {"changes", bob_run});
  BOOST_TEST(reviewed.status == 0, reviewed.err);
  BOOST_TEST(reviewed.out.find("gone.txt") != std::string::npos, reviewed.out);

  auto apply = std::async(std::launch::async, [&] { return daemon.tierbox_as(users.bob, {"apply", bob_run}); });
  std::string id;
  for (int i = 0; i < 200 && id.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(daemon.dir().path() / "approvals", ec))
      if (entry.path().extension() == ".json") id = entry.path().stem().string();
  }
  if (id.empty()) {  // the apply ended without asking: say why
    const auto result = apply.get();
    BOOST_TEST_MESSAGE("apply ended with " << result.status << ": " << result.out << result.err);
  }
  BOOST_REQUIRE(!id.empty());
  // The requester's own vote does not count; the file is still there.
  const auto own = daemon.tierbox_as(users.bob, {"approve", id, "--config-dir", daemon.config()});
  BOOST_TEST(own.out.find("cannot approve their own request") != std::string::npos, own.out + own.err);
  BOOST_TEST(fs::exists(bob_ws / "gone.txt"));
  BOOST_TEST((apply.wait_for(std::chrono::milliseconds(500)) == std::future_status::timeout));
  // Control: alice approves; the apply lands.
  const auto approved = daemon.tierbox_as(users.alice, {"approve", id, "--config-dir", daemon.config()});
  BOOST_TEST(approved.status == 0, approved.out + approved.err);
  const auto applied = apply.get();
  BOOST_TEST(applied.status == 0, applied.err);
  BOOST_TEST(applied.err.find("waiting for approval of request " + id) != std::string::npos, applied.err);
  BOOST_TEST(applied.out.find("approved by " + users.alice) != std::string::npos, applied.out);
  BOOST_TEST(!fs::exists(bob_ws / "gone.txt"));
  const auto apply_record = last_of(daemon.records(), "apply");
  BOOST_TEST(apply_record["user"]["uid"].get<uid_t>() == DaemonUsers::uid(users.bob));
}

BOOST_AUTO_TEST_CASE(a_deleting_apply_takes_a_grant_the_caller_can_read) {
  DaemonUsers users;
  Daemon daemon(users.group);
  daemon.start();
  const auto key = (daemon.dir().path() / "alice.key").string();
  const auto generated = run_tierbox({"keys", "generate", "--id", "alice-staged", "--out", key});
  BOOST_REQUIRE_MESSAGE(generated.status == 0, generated.err);
  const auto pub = daemon.dir().write("alice.pub", generated.out);
  BOOST_REQUIRE(run_tierbox({"keys", "add", pub.string(), "--owner", users.alice, "--config-dir", daemon.config()}).status == 0);
  const auto bob_ws = user_workspace(daemon, users.bob, {{"gone.txt", "gone\n"}});
  const auto bob_run = staged_run(daemon, users.bob, bob_ws, "rm gone.txt");
  const auto listed = daemon.tierbox_as(users.bob, {"changes", "--json", bob_run});
  BOOST_REQUIRE_MESSAGE(listed.status == 0, listed.err);
  const auto digest = json::parse(listed.out)["digest"].get<std::string>();
  const auto grant = (daemon.dir().path() / "apply-grant.json").string();
  const auto made = run_tierbox({"grant", "--key", key, "--tier", "workspace-staged", "--workspace", bob_ws.string(),
                                 "--plan-digest", digest, "--out", grant, "--config-dir", daemon.config(), "--", "tierbox",
                                 "apply", bob_run});
  BOOST_REQUIRE_MESSAGE(made.status == 0, made.err);
  // Unreadable by bob: refused at his client, nothing lands.
  ::chmod(grant.c_str(), 0600);
  const auto unreadable = daemon.tierbox_as(users.bob, {"apply", bob_run, "--grant", grant});
  BOOST_TEST(unreadable.status == 125, unreadable.err);
  BOOST_TEST(unreadable.err.find(grant) != std::string::npos, unreadable.err);
  BOOST_TEST(fs::exists(bob_ws / "gone.txt"));
  // Control: readable, it lands at once, signed by alice.
  ::chmod(grant.c_str(), 0644);
  const auto applied = daemon.tierbox_as(users.bob, {"apply", bob_run, "--grant", grant});
  BOOST_TEST(applied.status == 0, applied.err);
  BOOST_TEST(applied.out.find("signed by " + users.alice) != std::string::npos, applied.out);
  BOOST_TEST(!fs::exists(bob_ws / "gone.txt"));
}

// After the run the requester controls the path to its workspace: a
// symlink swapped in there must not turn root's apply or diff onto another
// directory (here a root-owned one with a file of the same name).
BOOST_AUTO_TEST_CASE(a_workspace_path_swapped_for_a_symlink_is_refused) {
  DaemonUsers users;
  Daemon daemon(users.group);
  daemon.start();
  // bob's own directory holds the workspace's parent: he may rename in it.
  const auto parent = daemon.dir().path() / "bob-parent";
  const auto home = parent / "home";
  fs::create_directories(home / "ws");
  std::ofstream(home / "ws" / "notes.txt") << "bob's notes\n";
  must({"/bin/chown", "-R", users.bob + ":users", parent.string()});
  ::chmod(parent.c_str(), 0755);
  ::chmod(home.c_str(), 0755);
  // Past the coarse clock tick of that chown, as user_workspace waits: a
  // file changed in the run's first tick is a conflict at apply.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const auto run_id = staged_run(daemon, users.bob, home / "ws", "echo task > notes.txt; echo planted > planted.txt");
  // root's directory, laid out like bob's workspace.
  const auto roots = daemon.dir().path() / "roots";
  fs::create_directories(roots / "ws");
  std::ofstream(roots / "ws" / "notes.txt") << "root-only-content\n";
  ::chmod((roots / "ws").c_str(), 0700);
  ::chmod((roots / "ws" / "notes.txt").c_str(), 0600);
  // bob swaps his home for a symlink to it.
  const auto swapped = daemon.as(users.bob, {"/bin/sh", "-c", "mv " + home.string() + " " + home.string() + ".real && ln -s " +
                                                                 roots.string() + " " + home.string()});
  BOOST_REQUIRE_MESSAGE(swapped.status == 0, swapped.err);
  const auto diff = daemon.tierbox_as(users.bob, {"changes", "--diff", run_id});
  BOOST_TEST(diff.status == 126, diff.out + diff.err);
  BOOST_TEST(diff.out.find("root-only-content") == std::string::npos, diff.out);
  BOOST_TEST(diff.err.find("no longer the directory the run used") != std::string::npos, diff.err);
  const auto apply = daemon.tierbox_as(users.bob, {"apply", run_id});
  BOOST_TEST(apply.status == 126, apply.out + apply.err);
  BOOST_TEST(!fs::exists(roots / "ws" / "planted.txt"));
  std::ifstream kept(roots / "ws" / "notes.txt");
  BOOST_TEST(std::string((std::istreambuf_iterator<char>(kept)), std::istreambuf_iterator<char>()) == "root-only-content\n");
  // A root-owned directory renamed into the path (no symlink) is refused by its owner.
  fs::remove(home);
  fs::create_directories(home);
  ::chmod(home.c_str(), 0755);
  fs::create_directories(home / "ws");
  const auto renamed = daemon.tierbox_as(users.bob, {"apply", run_id});
  BOOST_TEST(renamed.status == 126, renamed.out + renamed.err);
  BOOST_TEST(renamed.err.find("its owner is uid 0") != std::string::npos, renamed.err);
  BOOST_TEST(!fs::exists(home / "ws" / "planted.txt"));
  // Control: bob's own directory back in place; the apply lands there.
  fs::remove_all(home);
  fs::rename(home.string() + ".real", home);
  const auto applied = daemon.tierbox_as(users.bob, {"apply", run_id});
  BOOST_TEST(applied.status == 0, applied.err);
  BOOST_TEST(fs::exists(home / "ws" / "planted.txt"));
}

// The apply writes as root into the workspace as it is then. A caller who
// renames another user's directory (one it may not write, in its own
// workspace) to the name of a directory the run wrote under must not get
// the run's files landed there: the renamed directory's ctime is newer than
// the run's start, a conflict, and nothing is applied.
BOOST_AUTO_TEST_CASE(another_users_directory_renamed_under_the_runs_changes_is_a_conflict) {
  DaemonUsers users;
  Daemon daemon(users.group);
  daemon.start();
  const auto make_workspace = [&](const std::string& name) {
    const auto ws = user_workspace(daemon, users.alice, {});
    const auto dir = ws.parent_path() / name;
    fs::rename(ws, dir);
    fs::create_directories(dir / "sub");
    fs::create_directories(dir / "bobs");
    must({"/bin/chown", users.alice + ":users", (dir / "sub").string()});
    must({"/bin/chown", users.bob + ":users", (dir / "bobs").string()});
    ::chmod((dir / "bobs").c_str(), 0700);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // past the tick of those changes
    return dir;
  };
  const auto ws = make_workspace("ws-swap");
  const auto run_id = staged_run(daemon, users.alice, ws, "echo planted > sub/new.txt");
  const auto swapped = daemon.as(users.alice, {"/bin/sh", "-c", "cd " + ws.string() + " && mv sub sub.old && mv bobs sub"});
  BOOST_REQUIRE_MESSAGE(swapped.status == 0, swapped.err);
  const auto apply = daemon.tierbox_as(users.alice, {"apply", run_id});
  BOOST_TEST(apply.status == 126, apply.out + apply.err);
  BOOST_TEST(apply.err.find("conflict: sub: changed in the workspace since the run started") != std::string::npos, apply.err);
  BOOST_TEST(!fs::exists(ws / "sub" / "new.txt"));  // bob's directory
  // Control: the same run in a workspace left alone lands the file.
  const auto calm = make_workspace("ws-calm");
  const auto calm_run = staged_run(daemon, users.alice, calm, "echo planted > sub/new.txt");
  const auto applied = daemon.tierbox_as(users.alice, {"apply", calm_run});
  BOOST_TEST(applied.status == 0, applied.out + applied.err);
  BOOST_TEST(fs::exists(calm / "sub" / "new.txt"));
}

// The daemon writes into the caller's own stdout: a reader that has gone
// must cost the daemon an EPIPE, not its life (SIGPIPE).
BOOST_AUTO_TEST_CASE(output_into_a_pipe_whose_reader_has_gone_does_not_stop_the_daemon) {
  DaemonUsers users;
  Daemon daemon(users.group);
  // SIGPIPE as a shell leaves it (the test runner ignores it, and so does
  // systemd by default; a daemon started by hand does not).
  daemon.start({}, {"/usr/bin/env", "--default-signal=PIPE"});
  const auto ws = user_workspace(daemon, users.bob, {{"keep.txt", "keep\n"}});
  // 1 MiB of diff: more than a pipe holds, so the daemon's write meets the
  // closed pipe whatever the timing.
  const auto run_id = staged_run(daemon, users.bob, ws, "seq 1 200000 > big.txt");
  const auto piped = daemon.as(users.bob, {"/bin/sh", "-c", std::string(kTierbox) + " changes --diff " + run_id + " | true"});
  (void)piped;
  // The daemon still serves: the same command, read whole, works.
  const auto again = daemon.tierbox_as(users.bob, {"changes", run_id});
  BOOST_TEST(again.status == 0, again.err);
  BOOST_TEST(again.out.find("big.txt") != std::string::npos, again.out);
  const auto planned = daemon.as(users.bob, {"/bin/sh", "-c", std::string(kTierbox) + " run --dry-run -- /bin/true | true"});
  (void)planned;
  const auto ran = daemon.tierbox_as(users.bob, {"run", "--", "/bin/echo", "alive"});
  BOOST_TEST(ran.out == "alive\n", ran.err);
}

BOOST_AUTO_TEST_CASE(a_deleting_apply_whose_client_goes_away_is_refused_and_discard_drops_the_layer) {
  DaemonUsers users;
  Daemon daemon(users.group);
  daemon.start();
  const auto bob_ws = user_workspace(daemon, users.bob, {{"gone.txt", "gone\n"}});
  const auto bob_run = staged_run(daemon, users.bob, bob_ws, "rm gone.txt");
  // The client killed while it waits: the daemon's wait ends, the apply
  // is refused and recorded, nothing lands.
  BackgroundRun waiting({"apply", bob_run}, {"/usr/bin/env", "TIERBOX_SOCKET=" + daemon.socket(), "TIERBOX_CONFIG_DIR=",
                                             "TIERBOX_AUDIT_LOG=", "/usr/bin/setpriv", "--reuid", users.bob, "--regid",
                                             "users", "--init-groups"});
  const auto line = waiting.wait_for_line("waiting for approval of request");
  if (line.empty()) {  // the apply ended without asking: say why
    const int status = waiting.wait();
    BOOST_TEST_MESSAGE("apply ended with " << status << ": " << waiting.out() << waiting.err_read());
  }
  BOOST_REQUIRE(!line.empty());
  waiting.signal(SIGKILL);
  waiting.wait();
  json refused;
  for (int i = 0; i < 300 && refused.is_null(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const auto record = last_of(daemon.records(), "apply");
    if (record.value("result", "") == "refused") refused = record;
  }
  BOOST_TEST(refused.value("reason", "").find("cancelled") != std::string::npos, refused.dump());
  BOOST_TEST(fs::exists(bob_ws / "gone.txt"));
  // Discard: bob's own layer goes; a second discard finds none.
  const auto discarded = daemon.tierbox_as(users.bob, {"discard", bob_run});
  BOOST_TEST(discarded.status == 0, discarded.err);
  BOOST_TEST(discarded.out.find("discarded the staged layer of run " + bob_run) != std::string::npos, discarded.out);
  const auto again = daemon.tierbox_as(users.bob, {"changes", bob_run});
  BOOST_TEST(again.status != 0);
  BOOST_TEST(again.err.find("no staged layer") != std::string::npos, again.err);
}

// An apply of a run with no changes is refused at once, and was recorded
// each time: alice looping on it wrote one apply record per connection. Now
// the refused apply's record is within her budget of refusal records
// (--refusal-records 5): 3 apply records and 2 daemon ones of her 30
// attempts, the other 55 counted in one summary at the stop. The control:
// every attempt is refused (126) all the same, and the log verifies.
BOOST_AUTO_TEST_CASE(a_loop_of_refused_applies_is_recorded_within_the_budget) {
  DaemonUsers users;
  Daemon daemon(users.group);
  daemon.start({"--refusal-records", "5", "--refusal-window", "120"});
  const auto alice_ws = user_workspace(daemon, users.alice, {{"keep.txt", "keep\n"}});
  const auto run_id = staged_run(daemon, users.alice, alice_ws, "true");
  const uid_t alice = DaemonUsers::uid(users.alice);
  for (int i = 0; i < 30; ++i) {
    const auto apply = daemon.tierbox_as(users.alice, {"apply", run_id});
    BOOST_TEST(apply.status == 126, apply.err);
    BOOST_TEST(apply.err.find("no changes to apply") != std::string::npos, apply.err);
  }
  BOOST_TEST(daemon.stop() == 0);
  int applies = 0, refused = 0;
  std::vector<json> summaries;
  for (const auto& record : daemon.records()) {
    if (!record.contains("user") || record["user"].value("uid", 0U) != alice) continue;
    applies += record.value("event", "") == "apply" && record.value("result", "") == "refused";
    refused += record.value("event", "") == "daemon" && record.value("action", "") == "refused";
    if (record.value("action", "") == "refusals_not_recorded") summaries.push_back(record);
  }
  BOOST_TEST(applies == 3);
  BOOST_TEST(refused == 2);
  BOOST_REQUIRE(summaries.size() == 1U);
  BOOST_TEST(summaries[0]["not_recorded"] == json({{"apply_refused", 27}, {"refused", 28}}), summaries[0].dump());
  const auto verified = run_tierbox({"audit", "verify", "--audit-log", daemon.log()});
  BOOST_TEST(verified.status == 0, verified.out + verified.err);
}

BOOST_AUTO_TEST_SUITE_END()

// What `tierbox run` carries through the daemon besides stdio and the
// workspace: --bind and --bind-rw, their sources opened by the client as
// the caller.
BOOST_AUTO_TEST_SUITE(daemon_options)

BOOST_AUTO_TEST_CASE(a_bind_the_caller_cannot_read_is_refused_and_one_it_can_read_is_bound) {
  DaemonUsers users;
  Daemon daemon(users.group);
  daemon.start();
  const auto secret = daemon.dir().path() / "roots-only";
  fs::create_directories(secret);
  std::ofstream(secret / "s.txt") << "root-secret\n";
  ::chmod(secret.c_str(), 0700);
  const auto readable = daemon.dir().path() / "readable";
  fs::create_directories(readable);
  std::ofstream(readable / "r.txt") << "readable\n";
  ::chmod(readable.c_str(), 0755);

  // The client opens the source as bob: the kernel refuses, nothing is sent.
  const auto refused = daemon.tierbox_as(users.bob, {"run", "--tier", "dmn-bind", "--bind", secret.string() + ":/data", "--",
                                                     "/bin/cat", "/data/s.txt"});
  BOOST_TEST(refused.status == 125, refused.err);
  BOOST_TEST(refused.err.find("--bind " + secret.string() + ":/data: EACCES") != std::string::npos, refused.err);
  BOOST_TEST(refused.out.find("root-secret") == std::string::npos);
  // A client of its own that sends an O_PATH fd (which needs no read
  // permission) is refused by the daemon, and nothing starts.
  const uid_t bob = DaemonUsers::uid(users.bob);
  const gid_t gid = *tierbox::primary_group(bob);
  const std::string bind_body = R"({"tierbox": 1, "type": "run", "tier": "dmn-bind", "argv": ["/bin/cat", "/data/s.txt"],
                                    "fds": ["bind"], "binds": [{"source": "x", "target": "/data"}]})";
  const auto o_path = run_with_workspace_fd(daemon, bob, gid, secret.string(), O_PATH | O_DIRECTORY, bind_body);
  BOOST_TEST(o_path.value("code", "") == "refused", o_path.dump());
  BOOST_TEST(o_path.value("message", "").find("not O_PATH") != std::string::npos, o_path.dump());
  BOOST_TEST(last_of(daemon.records(), "start").is_null());
  BOOST_TEST(last_of(daemon.records(), "daemon")["user"]["uid"].get<uid_t>() == bob);

  // Control: a directory bob may read is bound and read.
  const auto ran = daemon.tierbox_as(users.bob, {"run", "--tier", "dmn-bind", "--bind", readable.string() + ":/data", "--",
                                                 "/bin/cat", "/data/r.txt"});
  BOOST_TEST(ran.status == 0, ran.err);
  BOOST_TEST(ran.out == "readable\n");
  // ... read-only: --bind never lets the task write there.
  const auto write_ro = daemon.tierbox_as(users.bob, {"run", "--tier", "dmn-bind", "--bind", readable.string() + ":/data",
                                                      "--", "/bin/sh", "-c", "echo x > /data/new.txt"});
  BOOST_TEST(write_ro.status != 0);
  BOOST_TEST(!fs::exists(readable / "new.txt"));
  // A single file she may read, too.
  const auto file = daemon.tierbox_as(users.bob, {"run", "--tier", "dmn-bind", "--bind", (readable / "r.txt").string() + ":/r.txt",
                                                  "--", "/bin/cat", "/r.txt"});
  BOOST_TEST(file.status == 0, file.err);
  BOOST_TEST(file.out == "readable\n");

  // Binds still need the tier's widening: untrusted allows none.
  const auto narrow = daemon.tierbox_as(users.bob, {"run", "--tier", "untrusted", "--bind", readable.string() + ":/data", "--",
                                                    "/bin/cat", "/data/r.txt"});
  BOOST_TEST(narrow.status == 126, narrow.err);
  BOOST_TEST(narrow.err.find("allows no extra binds") != std::string::npos, narrow.err);
  BOOST_TEST(narrow.out.empty());
}

BOOST_AUTO_TEST_CASE(a_writable_bind_needs_a_source_the_caller_may_write) {
  DaemonUsers users;
  Daemon daemon(users.group);
  daemon.start();
  // Readable by bob, writable by root only.
  const auto roots = daemon.dir().path() / "roots-readable";
  fs::create_directories(roots);
  ::chmod(roots.c_str(), 0755);
  std::ofstream(roots / "f.txt") << "root's\n";
  ::chmod((roots / "f.txt").c_str(), 0644);
  const auto dir_rw = daemon.tierbox_as(users.bob, {"run", "--tier", "dmn-bind", "--bind-rw", roots.string() + ":/data", "--",
                                                    "/bin/sh", "-c", "echo x > /data/new.txt"});
  BOOST_TEST(dir_rw.status == 126, dir_rw.err);
  BOOST_TEST(dir_rw.err.find("not writable by " + users.bob) != std::string::npos, dir_rw.err);
  BOOST_TEST(!fs::exists(roots / "new.txt"));
  const auto file_rw = daemon.tierbox_as(users.bob, {"run", "--tier", "dmn-bind", "--bind-rw", (roots / "f.txt").string() + ":/f",
                                                     "--", "/bin/sh", "-c", "echo changed > /f"});
  BOOST_TEST(file_rw.status == 125, file_rw.err);
  BOOST_TEST(file_rw.err.find("Permission denied") != std::string::npos, file_rw.err);
  std::ifstream kept(roots / "f.txt");
  BOOST_TEST(std::string((std::istreambuf_iterator<char>(kept)), std::istreambuf_iterator<char>()) == "root's\n");

  // Control: bob's own directory, writable by him, takes the task's write
  // (mode 0755: the bind is id-mapped, bob's ids are the task's there;
  // integration.daemon_writable_binds).
  const auto own = daemon.dir().path() / "bobs";
  fs::create_directories(own);
  must({"/bin/chown", users.bob + ":users", own.string()});
  ::chmod(own.c_str(), 0755);
  const auto wrote = daemon.tierbox_as(users.bob, {"run", "--tier", "dmn-bind", "--bind-rw", own.string() + ":/data", "--",
                                                   "/bin/sh", "-c", "echo from-task > /data/new.txt"});
  BOOST_TEST(wrote.status == 0, wrote.err);
  BOOST_TEST(fs::exists(own / "new.txt"));
}

BOOST_AUTO_TEST_CASE(a_dry_run_returns_the_plan_to_the_caller_and_launches_nothing) {
  DaemonUsers users;
  Daemon daemon(users.group);
  daemon.start();
  const auto marker = daemon.dir().path() / "dry-run-ran";
  const auto planned = daemon.tierbox_as(users.bob, {"run", "--dry-run", "--tier", "dmn-approve", "--", "/bin/sh", "-c",
                                                     "echo ran > " + marker.string()});
  BOOST_TEST(planned.status == 0, planned.err);
  // The plan's text on bob's stdout, as a direct dry run prints it.
  BOOST_TEST(planned.out.find("approval matrix: " + daemon.config() + "/approvals.json") != std::string::npos, planned.out);
  BOOST_TEST(planned.out.find("rule 'approver'") != std::string::npos, planned.out);
  BOOST_TEST(planned.out.find("requires: ") != std::string::npos, planned.out);
  // Nothing launched, nothing filed for approval, no run records.
  BOOST_TEST(!fs::exists(marker));
  std::error_code ec;
  BOOST_TEST((!fs::exists(daemon.dir().path() / "approvals") || fs::is_empty(daemon.dir().path() / "approvals", ec)));
  BOOST_TEST(last_of(daemon.records(), "start").is_null());
  BOOST_TEST(last_of(daemon.records(), "request").is_null());
  // Refusals of the planning stay refusals: a tier bob may not use.
  const auto not_allowed = daemon.tierbox_as(users.bob, {"run", "--dry-run", "--tier", "dmn-group", "--", "/bin/true"});
  BOOST_TEST(not_allowed.status == 126, not_allowed.err);
  BOOST_TEST(not_allowed.out.find("requires:") == std::string::npos, not_allowed.out);
  // Control: alice, in the group, gets its plan.
  const auto allowed = daemon.tierbox_as(users.alice, {"run", "--dry-run", "--tier", "dmn-group", "--", "/bin/true"});
  BOOST_TEST(allowed.status == 0, allowed.err);
  BOOST_TEST(allowed.out.find("requires: ") != std::string::npos, allowed.out);
}

BOOST_AUTO_TEST_CASE(a_grant_is_read_by_the_client_as_the_caller) {
  DaemonUsers users;
  Daemon daemon(users.group);
  daemon.start();
  // alice (an approver) signs grants; bob runs.
  const auto key = (daemon.dir().path() / "alice.key").string();
  const auto generated = run_tierbox({"keys", "generate", "--id", "alice-dmn", "--out", key});
  BOOST_REQUIRE_MESSAGE(generated.status == 0, generated.err);
  const auto pub = daemon.dir().write("alice.pub", generated.out);
  const auto added = run_tierbox({"keys", "add", pub.string(), "--owner", users.alice, "--config-dir", daemon.config()});
  BOOST_REQUIRE_MESSAGE(added.status == 0, added.err);
  const std::vector<std::string> command = {"/bin/echo", "granted"};
  // The plan digest of bob's run, from a dry run through the daemon.
  std::vector<std::string> dry = {"run", "--dry-run", "--tier", "dmn-approve", "--"};
  dry.insert(dry.end(), command.begin(), command.end());
  const auto planned = daemon.tierbox_as(users.bob, dry);
  const auto at = planned.out.find("plan digest: ");
  BOOST_REQUIRE_MESSAGE(at != std::string::npos, planned.out + planned.err);
  const auto digest = planned.out.substr(at + 13, 64);
  const auto grant = (daemon.dir().path() / "grant.json").string();
  std::vector<std::string> sign = {"grant", "--key", key, "--tier", "dmn-approve", "--plan-digest", digest, "--expires", "10m",
                                   "--out", grant, "--config-dir", daemon.config(), "--"};
  sign.insert(sign.end(), command.begin(), command.end());
  const auto signed_ = run_tierbox(sign);
  BOOST_REQUIRE_MESSAGE(signed_.status == 0, signed_.err);
  std::vector<std::string> run = {"run", "--tier", "dmn-approve", "--grant", grant, "--"};
  run.insert(run.end(), command.begin(), command.end());

  // A grant file bob cannot read is refused by the kernel at the client:
  // the daemon never opens it for him.
  ::chmod(grant.c_str(), 0600);
  const auto unreadable = daemon.tierbox_as(users.bob, run);
  BOOST_TEST(unreadable.status == 125, unreadable.err);
  BOOST_TEST(unreadable.err.find(grant) != std::string::npos, unreadable.err);
  BOOST_TEST(unreadable.out.empty(), unreadable.out);
  BOOST_TEST(last_of(daemon.records(), "start").is_null());

  // Control: readable, the grant stands in for the approver; the task runs.
  ::chmod(grant.c_str(), 0644);
  const auto ran = daemon.tierbox_as(users.bob, run);
  BOOST_TEST(ran.status == 0, ran.err);
  BOOST_TEST(ran.out == "granted\n");
  const auto decision = last_of(daemon.records(), "decision");
  BOOST_TEST(decision["user"]["uid"].get<uid_t>() == DaemonUsers::uid(users.bob), decision.dump());
  BOOST_TEST(decision.dump().find("signed grant " + grant) != std::string::npos, decision.dump());
  // Used once: its nonce is spent, a second run with it is refused.
  const auto again = daemon.tierbox_as(users.bob, run);
  BOOST_TEST(again.status == 126, again.err);
  BOOST_TEST(again.out.empty(), again.out);
}

BOOST_AUTO_TEST_SUITE_END()
