// Staged workspaces end to end (docs/staged-writes.md): real sandboxes whose
// workspace is a real overlay (made by the runner, attached in the
// sandbox's own mount namespace), then `tierbox changes|apply|rollback|
// discard|gc` on the real workspace. Each test has a config, a state
// directory (registry and layers) and an audit log of its own.
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <regex>
#include <set>
#include <thread>

#include "common/digest.h"
#include "common/files.h"
#include "integration/governance_fixture.h"
#include "integration/harness.h"
#include "integration/staged_fixture.h"

using namespace tierbox;
using namespace tierbox::testing;
using namespace tierbox::testing::staged_fixture;
using nlohmann::json;
namespace fs = std::filesystem;


BOOST_AUTO_TEST_SUITE(staged_workspace)

BOOST_AUTO_TEST_CASE(writes_stay_staged_then_apply_and_rollback) {
  Staged staged;
  staged.populate({{"keep.txt", "keep\n"}, {"edit.txt", "one\n"}, {"gone.txt", "bye\n"}, {"old-name.txt", "moving\n"},
                   {"run.sh", "echo hi\n"}, {"dir/nested.txt", "nested\n"}});
  const auto original = tree_hash(staged.workspace.path());
  const auto [run_id, result] = staged.run(
      std::string("echo two >> edit.txt && rm gone.txt && mv old-name.txt new-name.txt && chmod 755 run.sh && "
                  "echo added > dir/added.txt && mkdir newdir && echo f > newdir/f && ") + kListing);
  BOOST_REQUIRE_MESSAGE(result.status == 0, result.err);
  const auto task_view = result.out;
  BOOST_TEST(task_view.find("./new-name.txt") != std::string::npos);

  // The real workspace is untouched, byte for byte (owners and modes too).
  BOOST_TEST(tree_hash(staged.workspace.path()) == original);

  // changes: exactly what the task did, in text and JSON.
  const auto text = staged.tierbox("changes", run_id, {"--diff"});
  BOOST_REQUIRE_MESSAGE(text.status == 0, text.err);
  for (const char* line : {"M  edit.txt\n", "D  gone.txt", "R  old-name.txt -> new-name.txt\n",
                           "m  run.sh (mode 0644 -> 0755)\n", "A  dir/added.txt\n", "A  newdir/\n", "A  newdir/f\n",
                           "+two\n"})
    BOOST_TEST(text.out.find(line) != std::string::npos, "changes lists " << line << " in:\n" << text.out);
  const auto changes = staged.changes_json(run_id);
  const std::set<std::string> expected = {"modified edit.txt",  "deleted gone.txt",      "deleted old-name.txt",
                                          "added new-name.txt", "mode_changed run.sh",   "added dir/added.txt",
                                          "added newdir",       "added newdir/f"};
  BOOST_TEST(kinds_of(changes) == expected, boost::test_tools::per_element());
  BOOST_TEST(changes["digest"].get<std::string>().size() == 64u);

  // apply: the workspace becomes what the task saw; new files are the owner's.
  const auto applied = staged.tierbox("apply", run_id);
  BOOST_REQUIRE_MESSAGE(applied.status == 0, applied.err);
  BOOST_TEST(host_listing(staged.workspace.path()) == task_view);
  struct stat st {};
  BOOST_REQUIRE(::stat((staged.workspace.path() / "newdir/f").c_str(), &st) == 0);
  BOOST_TEST(st.st_uid == kOwner);
  BOOST_TEST(tree_hash(staged.workspace.path()) != original);  // control: the apply did something

  // The audit record names every file with its sha256 before and after.
  bool audited = false;
  for (const auto& record : read_audit_records(staged.log))
    if (record.value("event", "") == "apply" && record.value("result", "") == "applied") {
      audited = record["files"].size() == 8u && record["change_set"] == changes["digest"];
      for (const auto& file : record["files"])
        if (file["path"] == "edit.txt") audited = audited && file["before_sha256"].get<std::string>().size() == 64u &&
                                                   file["after_sha256"] != file["before_sha256"];
    }
  BOOST_TEST(audited);

  // rollback: exactly as before the apply.
  const auto rolled = staged.tierbox("rollback", run_id);
  BOOST_REQUIRE_MESSAGE(rolled.status == 0, rolled.err);
  BOOST_TEST(tree_hash(staged.workspace.path()) == original);

  const auto discarded = staged.tierbox("discard", run_id);
  BOOST_TEST(discarded.status == 0);
  BOOST_TEST(!fs::exists(staged.layers() / run_id));
}

// A renamed directory (redirect_dir=off: EXDEV inside the sandbox, so mv
// copies it and deletes the original) is a delete of every entry below the
// old name and an add of every one below the new name, shown as one rename
// (staged/renames.h); apply makes the workspace what the task saw, rollback
// restores it exactly.
BOOST_AUTO_TEST_CASE(a_renamed_directory_is_shown_as_a_rename_and_applies_exactly) {
  Staged staged;
  staged.populate({{"lib/a.txt", "a\n"}, {"lib/sub/b.txt", "b\n"}, {"file.txt", "f\n"}});
  const auto original = tree_hash(staged.workspace.path());
  const auto [run_id, result] = staged.run(std::string("mv lib src && mv file.txt renamed.txt && ") + kListing);
  BOOST_REQUIRE_MESSAGE(result.status == 0, result.err);
  BOOST_TEST(tree_hash(staged.workspace.path()) == original);
  const std::set<std::string> expected = {"deleted lib",       "deleted lib/a.txt", "deleted lib/sub",
                                          "deleted lib/sub/b.txt", "added src",     "added src/a.txt",
                                          "added src/sub",     "added src/sub/b.txt", "deleted file.txt",
                                          "added renamed.txt"};
  const auto changes = staged.changes_json(run_id);
  BOOST_TEST(kinds_of(changes) == expected, boost::test_tools::per_element());
  // Shown as two renames; the change set keeps every entry.
  BOOST_REQUIRE(changes["renames"].size() == 2u);
  BOOST_TEST(changes["renames"][0]["from"] == "file.txt");
  BOOST_TEST(changes["renames"][0]["to"] == "renamed.txt");
  BOOST_TEST(changes["renames"][1]["from"] == "lib");
  BOOST_TEST(changes["renames"][1]["to"] == "src");
  BOOST_TEST(changes["renames"][1]["entries"].size() == 8u);
  const auto text = staged.tierbox("changes", run_id);
  BOOST_TEST(text.out.find("R  lib/ -> src/ (3 entries below, unchanged)\n") != std::string::npos, text.out);
  BOOST_TEST(text.out.find("R  file.txt -> renamed.txt\n") != std::string::npos, text.out);
  BOOST_TEST(text.out.find("D  lib/sub/b.txt") == std::string::npos, text.out);
  // Control: a directory moved and changed on the way is no rename.
  const auto [changed_id, changed] = staged.run("mv lib moved && echo more >> moved/a.txt");
  BOOST_REQUIRE_MESSAGE(changed.status == 0, changed.err);
  BOOST_TEST(staged.changes_json(changed_id)["renames"].empty());
  BOOST_TEST(staged.tierbox("changes", changed_id).out.find("D  lib/sub/b.txt") != std::string::npos);
  BOOST_REQUIRE(staged.tierbox("discard", changed_id).status == 0);

  const auto applied = staged.tierbox("apply", run_id);
  BOOST_REQUIRE_MESSAGE(applied.status == 0, applied.err);
  BOOST_TEST(host_listing(staged.workspace.path()) == result.out);
  BOOST_TEST(!fs::exists(staged.workspace.path() / "lib"));
  const auto rolled = staged.tierbox("rollback", run_id);
  BOOST_REQUIRE_MESSAGE(rolled.status == 0, rolled.err);
  BOOST_TEST(tree_hash(staged.workspace.path()) == original);
}

BOOST_AUTO_TEST_CASE(rollback_refuses_where_a_file_changed_again) {
  Staged staged;
  staged.populate({{"a.txt", "a\n"}, {"b.txt", "b\n"}});
  const auto [run_id, result] = staged.run("echo A > a.txt && echo B > b.txt");
  BOOST_REQUIRE(result.status == 0);
  BOOST_REQUIRE(staged.tierbox("apply", run_id).status == 0);
  staged.workspace.write("b.txt", "edited after the apply\n");
  const auto refused = staged.tierbox("rollback", run_id);
  BOOST_TEST(refused.status == 126);
  BOOST_TEST(refused.err.find("changed again since the apply: b.txt") != std::string::npos, refused.err);
  BOOST_TEST(read_regular_file((staged.workspace.path() / "a.txt").string(), "a", 100) == "A\n");  // nothing rolled back
}

BOOST_AUTO_TEST_CASE(a_conflict_is_named_and_nothing_lands) {
  Staged staged;
  staged.populate({{"a.txt", "a\n"}, {"b.txt", "b\n"}});
  const auto [run_id, result] = staged.run("echo task > a.txt && echo task > b.txt");
  BOOST_REQUIRE(result.status == 0);
  staged.workspace.write("a.txt", "changed on the host meanwhile\n");
  const auto refused = staged.tierbox("apply", run_id);
  BOOST_TEST(refused.status == 126);
  BOOST_TEST(refused.err.find("conflict: a.txt: changed in the workspace since the run started") != std::string::npos,
             refused.err);
  BOOST_TEST(refused.err.find("conflict: b.txt") == std::string::npos);
  BOOST_TEST(read_regular_file((staged.workspace.path() / "b.txt").string(), "b", 100) == "b\n");
  // The other path alone still applies.
  BOOST_TEST(staged.tierbox("apply", run_id, {"b.txt"}).status == 0);
  BOOST_TEST(read_regular_file((staged.workspace.path() / "b.txt").string(), "b", 100) == "task\n");
}

BOOST_AUTO_TEST_CASE(symlinks_are_never_followed_out_of_the_workspace) {
  Staged staged;
  TempDir outside("tierbox-test-staged-outside");
  staged.populate({{"sub/keep", "k\n"}});
  const auto [run_id, result] =
      staged.run("ln -s /etc/passwd esc && ln -s ../../.. up && ln -s keep sub/fine && echo x > sub/new.txt");
  BOOST_REQUIRE(result.status == 0);
  const auto changes = staged.changes_json(run_id);
  const std::set<std::string> expected = {"refused esc", "refused up", "added sub/fine", "added sub/new.txt"};
  BOOST_TEST(kinds_of(changes) == expected, boost::test_tools::per_element());
  // Escaping links never land, even when named.
  const auto links = staged.tierbox("apply", run_id, {"esc", "up", "sub/fine"});
  BOOST_TEST(links.status == 0, links.err);
  BOOST_TEST(!fs::exists(fs::symlink_status(staged.workspace.path() / "esc")));
  BOOST_TEST(!fs::exists(fs::symlink_status(staged.workspace.path() / "up")));
  BOOST_TEST(fs::is_symlink(staged.workspace.path() / "sub/fine"));  // control: an inside link lands
  BOOST_TEST(links.err.find("not applied: !  esc (a symlink pointing outside the workspace never lands)") != std::string::npos);
  // A symlink planted on the host in place of a directory is not followed.
  BOOST_REQUIRE(staged.tierbox("rollback", run_id).status == 0);
  fs::remove_all(staged.workspace.path() / "sub");
  fs::create_symlink(outside.path(), staged.workspace.path() / "sub");
  const auto planted = staged.tierbox("apply", run_id, {"sub/new.txt"});
  BOOST_TEST(planted.status != 0);
  BOOST_TEST(planted.err.find("RESOLVE_NO_SYMLINKS") != std::string::npos, planted.err);
  BOOST_TEST(fs::is_empty(outside.path()));
}

BOOST_AUTO_TEST_CASE(setuid_fifos_and_sockets_never_land) {
  Staged staged;
  staged.populate({{"README", "r\n"}});
  const auto [run_id, result] = staged.run(
      "echo s > suid && echo g > sgid && (chmod 4755 suid || echo no-setuid) && (chmod 2755 sgid || echo no-setgid) && "
      "mkfifo fifo && python3 -c 'import socket; socket.socket(socket.AF_UNIX).bind(\"sock\")'");
  BOOST_REQUIRE_MESSAGE(result.status == 0, result.err);
  // The sandbox already refuses the bits (seccomp); a layer made elsewhere
  // could still hold them, so they are planted in the layer for the apply.
  BOOST_TEST(result.out == "no-setuid\nno-setgid\n");
  const auto upper = staged.layers() / run_id / "layer/upper";
  BOOST_REQUIRE(::chmod((upper / "suid").c_str(), 04755) == 0);
  BOOST_REQUIRE(::chmod((upper / "sgid").c_str(), 02755) == 0);
  const auto changes = staged.changes_json(run_id);
  BOOST_TEST(kinds_of(changes) == (std::set<std::string>{"added suid", "added sgid", "refused fifo", "refused sock"}),
             boost::test_tools::per_element());
  for (const auto& change : changes["changes"])
    if (change["path"] == "suid") BOOST_TEST(change["after"]["mode"] == 04755);  // control: the layer has the bit
  const auto applied = staged.tierbox("apply", run_id);
  BOOST_REQUIRE_MESSAGE(applied.status == 0, applied.err);
  struct stat st {};
  BOOST_REQUIRE(::stat((staged.workspace.path() / "suid").c_str(), &st) == 0);
  BOOST_TEST((st.st_mode & 07777) == 0755u);
  BOOST_REQUIRE(::stat((staged.workspace.path() / "sgid").c_str(), &st) == 0);
  BOOST_TEST((st.st_mode & 07777) == 0755u);
  BOOST_TEST(!fs::exists(fs::symlink_status(staged.workspace.path() / "fifo")));
  BOOST_TEST(!fs::exists(fs::symlink_status(staged.workspace.path() / "sock")));
  BOOST_TEST(applied.err.find("not applied: !  fifo (a FIFO never lands") != std::string::npos, applied.err);
}

BOOST_AUTO_TEST_CASE(an_apply_killed_half_way_is_undone_by_gc) {
  Staged staged;
  staged.populate({{"a", "a\n"}, {"b", "b\n"}, {"c", "c\n"}, {"d", "d\n"}});
  const auto original = tree_hash(staged.workspace.path());
  const auto [run_id, result] = staged.run(std::string("rm d && echo A > a && echo B > b && echo C > c && echo E > e && ") + kListing);
  BOOST_REQUIRE(result.status == 0);
  SpawnOptions crash;
  crash.env = {"PATH=/usr/bin:/bin", "TIERBOX_TEST_APPLY_CRASH_AT=3"};
  const auto killed = staged.tierbox("apply", run_id, {}, crash);
  BOOST_TEST(killed.status == 99);
  // The journal is on persistent storage (the governance directory), not beside the layer.
  BOOST_TEST(read_regular_file(staged.dir.str() + "/governance/staged/" + run_id + "/journal.json", "journal", 1 << 20)
                 .find("\"state\": \"applying\"") != std::string::npos);
  BOOST_TEST(tree_hash(staged.workspace.path()) != original);  // control: half of it landed
  const auto gc = run_tierbox({"gc", "--config-dir", staged.config});
  BOOST_TEST(gc.out.find("interrupted apply undone (3 of 5 entries had landed") != std::string::npos, gc.out + gc.err);
  BOOST_TEST(tree_hash(staged.workspace.path()) == original);
  // The layer is staged again: a whole apply now works.
  const auto applied = staged.tierbox("apply", run_id);
  BOOST_REQUIRE_MESSAGE(applied.status == 0, applied.err);
  BOOST_TEST(host_listing(staged.workspace.path()) == result.out);
}

BOOST_AUTO_TEST_CASE(two_runs_on_one_workspace_get_their_own_layers) {
  Staged staged;
  staged.populate({{"f", "base\n"}});
  const auto [first, first_result] = staged.run("echo first > f");
  const auto [second, second_result] = staged.run("cat f && echo second > f");
  BOOST_REQUIRE(first_result.status == 0);
  BOOST_REQUIRE(second_result.status == 0);
  BOOST_TEST(first != second);
  BOOST_TEST(second_result.out == "base\n");  // the second run does not see the first one's layer
  const auto diff_first = staged.tierbox("changes", first, {"--diff"});
  const auto diff_second = staged.tierbox("changes", second, {"--diff"});
  BOOST_TEST(diff_first.out.find("+first") != std::string::npos);
  BOOST_TEST(diff_second.out.find("+second") != std::string::npos);
  BOOST_TEST(diff_first.out.find("+second") == std::string::npos);
  BOOST_TEST(fs::exists(staged.layers() / first / "layer/upper/f"));
  BOOST_TEST(fs::exists(staged.layers() / second / "layer/upper/f"));
  // The workspace was attached at layer/lower only while the overlay was
  // made: nothing of it stays mounted in the host's namespace.
  const auto mounts = read_proc_file("/proc/self/mountinfo");
  BOOST_TEST(mounts.find((staged.layers() / first / "layer").string() + " ") != std::string::npos);  // control
  BOOST_TEST(mounts.find((staged.layers() / first / "layer/lower").string()) == std::string::npos);
}

// A running run is never applied or discarded; once its runner dies (the
// sandbox dies with it: PDEATHSIG), gc settles the layer: staged, the
// placeholders out of it, and then it applies like any other.
BOOST_AUTO_TEST_CASE(a_run_whose_runner_died_is_settled_by_gc) {
  Staged staged;
  staged.populate({{"a.txt", "a\n"}});
  BackgroundRun run({"run", "-v", "--config-dir", staged.config, "--audit-log", staged.log, "--tier", "staged-open",
                     "--workspace", staged.workspace.str(), "--", "/bin/sh", "-c",
                     "echo b > b.txt && echo task-wrote >&2 && sleep 60"});
  const auto pid_line = run.wait_for_line("sandbox init is host pid");
  BOOST_REQUIRE(!run.wait_for_line("task-wrote").empty());
  const auto sandbox = sandbox_pid_from(pid_line);
  BOOST_REQUIRE(sandbox.has_value());
  const auto run_id = fs::directory_iterator(staged.layers())->path().filename().string();
  const auto discard = staged.tierbox("discard", run_id);
  BOOST_TEST(discard.status == 126, discard.err);
  BOOST_TEST(discard.err.find("is still running") != std::string::npos, discard.err);
  BOOST_TEST(staged.tierbox("apply", run_id).err.find("its layer is running, not staged") != std::string::npos);

  run.signal(SIGKILL);
  BOOST_TEST(run.wait() == 128 + SIGKILL);
  BOOST_REQUIRE(wait_until_gone(*sandbox, std::chrono::seconds(10)));
  const auto gc = run_tierbox({"gc", "--config-dir", staged.config});
  BOOST_TEST(gc.out.find("run " + run_id + ": its runner is gone; the layer is staged") != std::string::npos,
             gc.out + gc.err);
  BOOST_TEST(!fs::exists(staged.layers() / run_id / "layer/upper/.env"));
  const auto changes = staged.changes_json(run_id);
  BOOST_TEST(changes["state"] == "staged");
  BOOST_TEST(kinds_of(changes) == (std::set<std::string>{"added b.txt"}), boost::test_tools::per_element());
  BOOST_TEST(staged.tierbox("apply", run_id).status == 0);
  BOOST_TEST(read_regular_file(staged.workspace.str() + "/b.txt", "b", 100) == "b\n");
}

BOOST_AUTO_TEST_CASE(a_git_repository_works_end_to_end) {
  Staged staged;
  const auto ws = staged.workspace.str();
  const std::string git = "git -c user.name=t -c user.email=t@example.com -c init.defaultBranch=main";
  const auto setup = run_process({"/bin/sh", "-c", "cd " + ws + " && " + git + " init -q . && echo a > a && git add a && " +
                                                         git + " commit -qm first"});
  BOOST_REQUIRE_MESSAGE(setup.status == 0, setup.err);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const auto [run_id, result] =
      staged.run("echo b > b && git add b && " + git + " commit -qm 'from the sandbox' && git log --oneline | head -1");
  BOOST_REQUIRE_MESSAGE(result.status == 0, result.err);
  const auto applied = staged.tierbox("apply", run_id);
  BOOST_REQUIRE_MESSAGE(applied.status == 0, applied.err);
  const auto fsck = run_process({"/bin/sh", "-c", "cd " + ws + " && git fsck --strict && git log --format=%s -1"});
  BOOST_TEST(fsck.status == 0, fsck.err);
  BOOST_TEST(fsck.out == "from the sandbox\n");
}

BOOST_AUTO_TEST_CASE(protected_paths_hold_at_write_time) {
  Staged staged;
  const auto ws = staged.workspace.str();
  const auto setup = run_process({"/bin/sh", "-c", "cd " + ws + " && git init -q . && echo SECRET=1 > .env"});
  BOOST_REQUIRE_MESSAGE(setup.status == 0, setup.err);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const auto [run_id, result] = staged.run(
      "(echo '[core]fsmonitor=evil' >> .git/config 2>/dev/null || echo refused-config) && "
      "(echo evil > .git/hooks/pre-commit 2>/dev/null || echo refused-hook) && "
      "(echo SECRET=2 > .env 2>/dev/null || echo refused-env) && echo fine > fine.txt");
  BOOST_REQUIRE_MESSAGE(result.status == 0, result.err);
  // Hidden files (.git/config, .env) are /dev/null to the task: the writes
  // vanish; read-only directories (.git/hooks) refuse them.
  BOOST_TEST(result.out == "refused-hook\n");
  const auto changes = staged.changes_json(run_id);
  BOOST_TEST(kinds_of(changes) == (std::set<std::string>{"added fine.txt"}), boost::test_tools::per_element());
  BOOST_TEST(read_regular_file(ws + "/.env", "env", 100) == "SECRET=1\n");
  BOOST_TEST(read_regular_file(ws + "/.git/config", "config", 10000).find("evil") == std::string::npos);
}

// The placeholders of missing protected paths are made in the run's layer,
// never in the real workspace: it has no .env, .git or .tierbox even while
// the task runs (which sees them, read-only). Nothing is written for the run
// when it ends (run.json still says running); the first command that opens
// it records it staged and takes them out of the layer, so they are never
// a change. Control: an unstaged run (workspace-write) makes them in the
// real workspace, where the same look finds them.
BOOST_AUTO_TEST_CASE(placeholders_live_in_the_layer_never_in_the_real_workspace) {
  Staged staged;
  staged.populate({{"a.txt", "a\n"}});
  const auto ws = staged.workspace.path();
  const auto in_real_workspace = [&] {
    return fs::exists(ws / ".env") || fs::exists(ws / ".git") || fs::exists(ws / ".tierbox");
  };
  const auto look_while_running = [&](const std::string& tier) {
    BackgroundRun run({"run", "-v", "--config-dir", staged.config, "--audit-log", staged.log, "--tier", tier,
                       "--workspace", ws.string(), "--", "/bin/sh", "-c",
                       "ls -a; (echo x > .env) 2>/dev/null || echo env-refused; sleep 2"});
    BOOST_REQUIRE(!run.wait_for_line("exec succeeded").empty());
    const bool seen = in_real_workspace();
    if (tier == "staged-open") {
      // While it runs: its placeholders are in the layer, never a change.
      const auto layer = *fs::directory_iterator(staged.layers());
      BOOST_TEST(fs::exists(layer.path() / "layer/upper/.env"));
      const auto running = staged.changes_json(layer.path().filename().string());
      BOOST_TEST(running["state"] == "running");
      BOOST_TEST(running["changes"].empty(), running.dump());
    }
    BOOST_REQUIRE(run.wait() == 0);
    return std::make_pair(seen, run.out());
  };
  const auto [staged_seen, staged_out] = look_while_running("staged-open");
  BOOST_TEST(!staged_seen);
  BOOST_TEST(staged_out.find(".env\n") != std::string::npos, staged_out);  // the task sees them
  BOOST_TEST(staged_out.find("env-refused") != std::string::npos, staged_out);  // read-only
  BOOST_TEST(!in_real_workspace());

  const auto layer = staged.layers() / fs::directory_iterator(staged.layers())->path().filename();
  const auto run_id = layer.filename().string();
  const auto record = json::parse(read_regular_file((layer / "run.json").string(), "run.json", 1 << 20));
  BOOST_TEST(record["state"] == "running");  // nothing written at the end
  BOOST_TEST(record["placeholders"].size() == 3u, record.dump());
  BOOST_TEST(fs::exists(layer / "layer/upper/.env"));  // until settled
  const auto changes = staged.changes_json(run_id);
  BOOST_TEST(changes["changes"].empty(), changes.dump());
  BOOST_TEST(changes["state"] == "staged");
  BOOST_TEST(!fs::exists(layer / "layer/upper/.env"));
  BOOST_TEST(json::parse(read_regular_file((layer / "run.json").string(), "run.json", 1 << 20))["state"] == "staged");

  // Control: read-write mode puts them in the real workspace for the run.
  staged.dir.write("config/tiers/staged-unstaged.json", R"({"extends": "workspace-write"})");
  const auto [write_seen, write_out] = look_while_running("staged-unstaged");
  BOOST_TEST(write_seen);
  BOOST_TEST(write_out.find("env-refused") != std::string::npos, write_out);
  BOOST_TEST(!in_real_workspace());  // and removes them after it
}

BOOST_AUTO_TEST_CASE(an_apply_that_leaves_git_commands_warns) {
  Staged staged;
  const auto ws = staged.workspace.str();
  BOOST_REQUIRE(run_process({"/bin/sh", "-c", "cd " + ws + " && git init -q ."}).status == 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const auto [run_id, result] =
      staged.run("mkdir -p .git/rebase-merge && printf 'pick 1234567 x\\nexec make deploy\\n' > .git/rebase-merge/git-rebase-todo");
  BOOST_REQUIRE_MESSAGE(result.status == 0, result.err);
  const auto applied = staged.tierbox("apply", run_id);
  BOOST_REQUIRE_MESSAGE(applied.status == 0, applied.err);
  BOOST_TEST(applied.err.find("tierbox: warning: workspace: .git/rebase-merge/git-rebase-todo") != std::string::npos,
             applied.err);
  BOOST_TEST(applied.err.find("make deploy") != std::string::npos, applied.err);
}

BOOST_AUTO_TEST_CASE(data_classes_hold_as_in_read_write_mode) {
  Staged staged;
  staged.populate({{"vault/key", "k\n"}});
  // The workspace holds secret data; workspace-staged may see internal at most.
  staged.dir.write("config/data-classes.json",
                   json{{"default_class", "internal"},
                        {"paths", {{{"path", staged.workspace.str() + "/vault"}, {"class", "secret"}},
                                   {{"path", "/usr"}, {"class", "public"}, {"scan", false}}}}}
                       .dump());
  const auto refused = run_tierbox({"run", "--config-dir", staged.config, "--audit-log", staged.log, "--tier",
                                    "staged-open", "--workspace", staged.workspace.str(), "--", "/bin/true"});
  BOOST_TEST(refused.status == 126, refused.err);
  BOOST_TEST(refused.err.find(staged.workspace.str() + "/vault") != std::string::npos, refused.err);
  BOOST_TEST(!fs::exists(staged.layers()));  // refused before any layer was made
  // Control: without the secret directory the same run is staged.
  fs::remove_all(staged.workspace.path() / "vault");
  BOOST_TEST(staged.run("true").second.status == 0);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(staged_approval)

BOOST_AUTO_TEST_CASE(a_deleting_apply_needs_an_approvers_grant_for_that_change_set) {
  LocalUsers users;
  Staged staged(users.group);
  const auto key = staged.dir.str() + "/bob.key";
  const auto generated = run_tierbox({"keys", "generate", "--id", "bob-staged", "--out", key});
  BOOST_REQUIRE(generated.status == 0);
  const auto pub = staged.dir.write("bob.pub", generated.out);
  BOOST_REQUIRE(run_tierbox({"keys", "add", pub.string(), "--owner", users.bob, "--config-dir", staged.config}).status == 0);
  staged.populate({{"x", "x\n"}, {"y", "y\n"}});
  const auto [run_x, result_x] = staged.run("rm x", "staged-guarded");
  const auto [run_y, result_y] = staged.run("rm y", "staged-guarded");
  BOOST_REQUIRE(result_x.status == 0 && result_y.status == 0);

  // Without a grant: the apply waits for approvers, and nobody approving,
  // is refused at the rule's timeout, naming the rule and the change set.
  const auto started = std::chrono::steady_clock::now();
  const auto plain = staged.tierbox("apply", run_y);
  BOOST_TEST(plain.status == 126);
  BOOST_TEST(plain.err.find("tierbox: waiting for approval of request") != std::string::npos, plain.err);
  BOOST_TEST(plain.err.find("no approval within 3s (timeout); rule 'guarded-deletes'") != std::string::npos, plain.err);
  BOOST_TEST((std::chrono::steady_clock::now() - started >= std::chrono::seconds(3)));
  BOOST_TEST(fs::exists(staged.workspace.path() / "y"));

  const auto grant = [&](const std::string& run_id, const std::string& digest) {
    const auto file = staged.dir.str() + "/grant-" + run_id + "-" + digest.substr(0, 8) + ".json";
    const auto made = run_tierbox({"grant", "--key", key, "--tier", "staged-guarded", "--workspace", staged.workspace.str(),
                                   "--plan-digest", digest, "--out", file, "--config-dir", staged.config, "--",
                                   "tierbox", "apply", run_id});
    BOOST_REQUIRE_MESSAGE(made.status == 0, made.err);
    return file;
  };
  const auto digest_x = staged.changes_json(run_x)["digest"].get<std::string>();
  const auto digest_y = staged.changes_json(run_y)["digest"].get<std::string>();
  BOOST_REQUIRE(digest_x != digest_y);
  // A grant for change set X does not apply change set Y (same run, command, tier).
  const auto wrong = staged.tierbox("apply", run_y, {"--grant", grant(run_y, digest_x)});
  BOOST_TEST(wrong.status == 126);
  BOOST_TEST(wrong.err.find("the grant binds plan digest " + digest_x) != std::string::npos, wrong.err);
  BOOST_TEST(fs::exists(staged.workspace.path() / "y"));
  // The grant for Y does.
  const auto right = staged.tierbox("apply", run_y, {"--grant", grant(run_y, digest_y)});
  BOOST_TEST(right.status == 0, right.err);
  BOOST_TEST(!fs::exists(staged.workspace.path() / "y"));
  BOOST_TEST(right.out.find("signed by " + users.bob) != std::string::npos, right.out);

  // Waiting: a non-approver's vote does not count, an approver's does.
  const auto bg_args = std::vector<std::string>{"apply", "--config-dir", staged.config, "--audit-log", staged.log, run_x};
  BackgroundRun waiting(bg_args);
  const auto line = waiting.wait_for_line("waiting for approval of request");
  const auto id = request_id(line);
  BOOST_REQUIRE_MESSAGE(!id.empty(), line);
  const auto as = [&](const std::string& user, const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"/usr/bin/setpriv", "--reuid", user, "--regid", "users", "--init-groups", kTierbox};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"--config-dir", staged.config});
    return run_process(argv);
  };
  const auto outsider = as(users.dave, {"approve", id});
  BOOST_TEST(outsider.out.find("refused") != std::string::npos, outsider.out + outsider.err);
  const auto approved = as(users.bob, {"approve", id, "--reason", "reviewed the diff"});
  BOOST_TEST(approved.status == 0, approved.out + approved.err);
  BOOST_TEST(waiting.wait() == 0);
  BOOST_TEST(waiting.out().find("approved by " + users.bob) != std::string::npos);
  BOOST_TEST(!fs::exists(staged.workspace.path() / "x"));
}

BOOST_AUTO_TEST_SUITE_END()
