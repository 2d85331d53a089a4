// The security team's policy, enforced on real sandboxes: data classes mask
// secrets in the workspace, protected paths stay read-only and cannot be
// created, an expired tier refuses, allowed_commands and their pins refuse,
// mounts exposing a higher class refuse; and the reviewer tools' exit codes.
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "common/unique_fd.h"
#include "integration/governance_fixture.h"
#include "integration/harness.h"

using namespace tierbox::testing;
using tierbox::UniqueFd;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// A profile file extending the shipped base, with review metadata.
fs::path write_tier(const TempDir& dir, const std::string& name, const std::string& fields) {
  return dir.write("tiers/" + name + ".json", R"({"extends": "base", )" + fields + "}");
}

std::string run_id_from(BackgroundRun& run) {
  auto line = run.wait_for_line("registered");
  auto at = line.find("run ");
  if (at == std::string::npos) return "";
  auto id = line.substr(at + 4);
  return id.substr(0, id.find(' '));
}

// git with an identity for commits (the host's root and the task have none).
const std::string kGit = "git -c user.email=t@example.com -c user.name=t";

// The last end record of an audit log (null when there is none).
json last_end_record(const std::string& log) {
  json last;
  for (auto& record : read_audit_records(log))
    if (record.value("event", "") == "end") last = std::move(record);
  return last;
}

std::string read_file(const fs::path& file) {
  std::ifstream in(file);
  return {std::istreambuf_iterator<char>(in), {}};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(data_class_masking)

BOOST_AUTO_TEST_CASE(a_secret_file_in_the_workspace_is_not_readable_in_an_internal_tier) {
  Workspace workspace;
  workspace.write(".env", "TOKEN=abc");
  workspace.write("service/.git/config", "[remote \"origin\"]\n\turl = https://user:token@example.com/x.git\n");
  workspace.write("keys/id_ed25519", "PRIVATE KEY");
  workspace.write("README", "hello");
  // Control: outside the sandbox the files are there and readable.
  BOOST_REQUIRE(read_file(workspace.path() / ".env") == "TOKEN=abc");
  auto report = probe_in(workspace, {"--tier", "untrusted"},
                         {"read", ".env", "service/.git/config", "keys/id_ed25519", "README"});
  BOOST_TEST(report[".env"]["bytes"] == 0, report.dump());
  BOOST_TEST(report["service/.git/config"]["bytes"] == 0, report.dump());
  BOOST_TEST(report["keys/id_ed25519"]["bytes"] == 0, report.dump());
  BOOST_TEST(report["README"]["bytes"] == 5, report.dump());
  // Control: a tier that may see secrets reads them.
  TempDir config;
  write_tier(config, "secrets-ok", R"("max_data_class": "secret")");
  auto allowed = probe_in(workspace, {"--config-dir", config.str(), "--tier", "secrets-ok"}, {"read", ".env"});
  BOOST_TEST(allowed[".env"]["bytes"] == 9, allowed.dump());
}

BOOST_AUTO_TEST_CASE(a_mask_cannot_be_removed_bypassed_by_a_new_symlink_or_written_through) {
  Workspace workspace;
  workspace.write(".env", "TOKEN=abc");
  auto through_link = probe_in(workspace, {"--tier", "workspace-write"}, {"read-through-symlink", ".env", "alias"});
  BOOST_TEST(through_link["symlink"] == "ok");
  BOOST_TEST(through_link["read"]["bytes"] == 0, through_link.dump());
  auto removed = probe_in(workspace, {"--tier", "workspace-write"}, {"remove", ".env"});
  BOOST_TEST(removed[".env"] == "EBUSY", removed.dump());
  auto renamed = probe_in(workspace, {"--tier", "workspace-write"}, {"rename", ".env", "stolen"});
  BOOST_TEST(renamed["rename"] == "EBUSY", renamed.dump());
  probe_in(workspace, {"--tier", "workspace-write"}, {"write", ".env"});
  BOOST_TEST(read_file(workspace.path() / ".env") == "TOKEN=abc");
}

BOOST_AUTO_TEST_CASE(a_host_processs_socket_or_pipe_in_the_workspace_cannot_be_reached) {
  // A service on the host listening in the workspace (a project's database
  // socket, an agent's, git's fsmonitor daemon), or a named pipe a host
  // process holds: in a tier without network the task must not reach them.
  // A read-only mount stops neither, and the workspace's idmap makes the task
  // their owner.
  Workspace workspace;
  fs::create_directories(workspace.path() / "run");
  UniqueFd listener(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  BOOST_REQUIRE(listener);
  struct sockaddr_un address {};
  address.sun_family = AF_UNIX;
  const auto path = (workspace.path() / "run/db.sock").string();
  BOOST_REQUIRE(path.size() < sizeof address.sun_path);
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  BOOST_REQUIRE(::bind(listener.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  BOOST_REQUIRE(::chmod(path.c_str(), 0600) == 0);
  BOOST_REQUIRE(::listen(listener.get(), 8) == 0);
  const auto accepted = [&] {
    int count = 0;
    while (true) {
      UniqueFd connection(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (!connection) break;
      ++count;
    }
    return count;
  };
  // The pipe's host end is open and holds data for whoever reads it.
  const auto pipe_path = workspace.path() / "run/pipe";
  BOOST_REQUIRE(::mkfifo(pipe_path.c_str(), 0600) == 0);
  UniqueFd host_end(::open(pipe_path.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC));
  BOOST_REQUIRE(host_end);
  BOOST_REQUIRE(::write(host_end.get(), "from the host", 13) == 13);
  for (const char* tier : {"untrusted", "workspace-write"}) {
    auto report = probe_in(workspace, {"--tier", tier}, {"connect-unix", "run/db.sock"});
    BOOST_TEST(report["connect"] != "ok", tier << ": " << report.dump());
    BOOST_TEST(accepted() == 0, tier << ": the host's service took a connection from the sandbox");
    auto read = probe_in(workspace, {"--tier", tier}, {"read", "run/pipe"});
    BOOST_TEST(read["run/pipe"]["bytes"] == 0, tier << ": " << read.dump());
  }
  // The host's data is still in the pipe: nobody inside read it.
  char buffer[32];
  BOOST_TEST(::read(host_end.get(), buffer, sizeof buffer) == 13);
  // The control: the socket still works on the host.
  UniqueFd client(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  BOOST_REQUIRE(client);
  BOOST_TEST(::connect(client.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  BOOST_TEST(accepted() == 1);
  BOOST_TEST(fs::is_socket(path));
}

BOOST_AUTO_TEST_CASE(a_symlink_planted_over_a_secret_path_does_not_redirect_the_mask) {
  // A previous task replaced the directory holding a secret with a symlink
  // into the runner's view of the host; the secret name now lies outside the
  // tree and nothing inside is masked through the link.
  Workspace workspace;
  TempDir outside;
  outside.write("app/.env", "OUTSIDE");
  fs::create_directory_symlink(outside.path() / "app", workspace.path() / "app");
  auto report = probe_in(workspace, {"--tier", "untrusted"}, {"read", "app/.env"});
  // Inside the sandbox the absolute link points nowhere.
  BOOST_TEST(report["app/.env"]["result"] == "ENOENT", report.dump());
  BOOST_TEST(read_file(outside.path() / "app/.env") == "OUTSIDE");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(data_class_refusal)

BOOST_AUTO_TEST_CASE(mounts_exposing_a_higher_class_are_refused_at_check_and_launch) {
  TempDir host, config;
  host.write("vault/secret/key", "k");
  host.write("vault/public/readme", "r");
  fs::create_directory_symlink(host.path() / "vault/secret", host.path() / "innocent");
  config.write("data-classes.json", R"({"default_class": "internal", "paths": [{"path": ")" + host.str() +
                                        R"(/vault/secret", "class": "secret"}, {"path": "/usr", "class": "public", "scan": false}]})");
  struct Case {
    std::string source;
    std::string how;
  };
  for (const auto& [source, how] : std::vector<Case>{{host.str() + "/vault/secret", "directly"},
                                                     {host.str() + "/vault", "through a parent directory bind"},
                                                     {host.str() + "/innocent", "through the symlink"}}) {
    auto file = write_tier(config, "t", R"("mounts": [{"type": "bind", "source": ")" + source + R"(", "target": "/data"}])");
    auto run = run_tierbox({"run", "--config-dir", config.str(), "--tier", "t", "--", "/bin/true"});
    BOOST_TEST(run.status == 126, source << ": " << run.err);
    BOOST_TEST(run.err.find(host.str() + "/vault/secret") != std::string::npos, run.err);
    BOOST_TEST(run.err.find("secret") != std::string::npos, run.err);
    BOOST_TEST(run.err.find(how) != std::string::npos, run.err);
    BOOST_TEST(run.err.find("tier 't'") != std::string::npos, run.err);
    auto check = run_tierbox({"profile", "check", "--config-dir", config.str(), file.string()});
    BOOST_TEST(check.status == 1, check.err);
    BOOST_TEST(check.err.find(how) != std::string::npos, check.err);
  }
  // The public part alone is fine, and so is a workspace there.
  write_tier(config, "t", R"("mounts": [{"type": "bind", "source": ")" + host.str() + R"(/vault/public", "target": "/data"}])");
  BOOST_TEST(run_tierbox({"run", "--config-dir", config.str(), "--tier", "t", "--", "/bin/true"}).status == 0);
  // The workspace is checked the same way.
  auto workspace = run_tierbox({"run", "--config-dir", config.str(), "--tier", "t", "--workspace", host.str() + "/vault", "--", "/bin/true"});
  BOOST_TEST(workspace.status == 126, workspace.err);
  BOOST_TEST(workspace.err.find("--workspace") != std::string::npos, workspace.err);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(protected_paths_enforced)

BOOST_AUTO_TEST_CASE(an_existing_git_hooks_cannot_be_written_replaced_or_removed) {
  Workspace workspace;
  workspace.write(".git/HEAD", "ref: refs/heads/main\n");
  workspace.write(".git/hooks/pre-commit.sample", "#!/bin/sh\n");
  // Control: the probe may write elsewhere in the workspace, and .git itself.
  auto control = probe_in(workspace, {"--tier", "workspace-write"}, {"write", "notes.txt", ".git/ORIG_HEAD"});
  BOOST_TEST(control["notes.txt"] == "ok", control.dump());
  BOOST_TEST(control[".git/ORIG_HEAD"] == "ok", control.dump());
  auto writes = probe_in(workspace, {"--tier", "workspace-write"},
                         {"write", ".git/hooks/pre-commit", ".git/hooks/pre-commit.sample", ".git/hooks"});
  BOOST_TEST(writes[".git/hooks/pre-commit"] == "EROFS", writes.dump());
  BOOST_TEST(writes[".git/hooks/pre-commit.sample"] == "EROFS", writes.dump());
  BOOST_TEST(writes[".git/hooks"] == "EROFS", writes.dump());
  auto mkdirs = probe_in(workspace, {"--tier", "workspace-write"}, {"mkdir", ".git/hooks/sub"});
  BOOST_TEST(mkdirs[".git/hooks/sub"] == "EROFS", mkdirs.dump());
  auto removed = probe_in(workspace, {"--tier", "workspace-write"}, {"remove", ".git/hooks"});
  BOOST_TEST(removed[".git/hooks"] == "EBUSY", removed.dump());
  auto renamed = probe_in(workspace, {"--tier", "workspace-write"}, {"rename", ".git/hooks", ".git/old-hooks"});
  BOOST_TEST(renamed["rename"] == "EBUSY", renamed.dump());
  BOOST_TEST(!fs::exists(workspace.path() / ".git/hooks/pre-commit"));
  BOOST_TEST(fs::exists(workspace.path() / ".git/hooks/pre-commit.sample"));
}

BOOST_AUTO_TEST_CASE(a_submodules_git_config_cannot_be_changed) {
  // `git status` in the superproject runs each submodule's core.fsmonitor
  // from .git/modules/NAME/config: as good as .git/config for a task.
  Workspace workspace;
  workspace.write(".git/HEAD", "ref: refs/heads/main\n");
  workspace.write(".git/modules/lib/config", "[core]\n\tbare = false\n");
  auto writes = probe_in(workspace, {"--tier", "workspace-write"}, {"write", ".git/modules/lib/config", ".git/modules/lib"});
  BOOST_TEST(writes[".git/modules/lib/config"] == "EROFS", writes.dump());
  BOOST_TEST(writes[".git/modules/lib"] == "EROFS", writes.dump());
  auto renamed = probe_in(workspace, {"--tier", "workspace-write"}, {"rename", ".git/modules", ".git/old-modules"});
  BOOST_TEST(renamed["rename"] == "EBUSY", renamed.dump());
  BOOST_TEST(read_file(workspace.path() / ".git/modules/lib/config") == "[core]\n\tbare = false\n");
  // A repository without submodules: .git/modules cannot be created, and
  // its placeholder is gone after the run.
  Workspace plain;
  plain.write(".git/HEAD", "ref: refs/heads/main\n");
  auto made = probe_in(plain, {"--tier", "workspace-write"}, {"mkdir", ".git/modules/lib"});
  BOOST_TEST(made[".git/modules/lib"] == "EROFS", made.dump());
  BOOST_TEST(!fs::exists(plain.path() / ".git/modules"));
}

// git takes config and hooks from the directory `.git/commondir` names, from
// `.git/config.worktree` when the repository has extensions.worktreeConfig
// (`git sparse-checkout` sets it), and a linked worktree's from
// `.git/worktrees/NAME/`. Each led around the protected .git/config: the
// host's next `git status` ran a core.fsmonitor of the task's (reproduced
// with git 2.39; the control below does it on the host).
BOOST_AUTO_TEST_CASE(git_cannot_be_pointed_at_a_config_of_the_tasks) {
  TempDir markers("tierbox-git-markers");
  const auto marker = markers.path() / "fsmonitor-ran";
  // Lays a config whose fsmonitor touches the marker, and points .git/commondir at it.
  const std::string plant = "mkdir -p .cache/evil && cp -r .git/objects .git/refs .git/HEAD .cache/evil/ && "
                            "printf '[core]\\n\\tfsmonitor = \"touch " + marker.string() + "; false\"\\n' > .cache/evil/config; "
                            "echo ../.cache/evil > .git/commondir; echo commondir=$?; ";
  // Control, on the host: the attack works where nothing blocks it.
  Workspace control;
  BOOST_REQUIRE(run_process({"/bin/sh", "-c", "cd " + control.str() + " && git init -q && " + plant + " git status >/dev/null 2>&1; true"}).status == 0);
  BOOST_TEST(fs::exists(marker), "control: git on the host did not follow .git/commondir");
  fs::remove(marker);

  Workspace workspace;
  BOOST_REQUIRE(run_process({"/bin/sh", "-c", "cd " + workspace.str() + " && git init -q && " + kGit + " commit -q --allow-empty -m host"}).status == 0);
  auto result = run_tierbox({"run", "--tier", "workspace-write", "--workspace", workspace.str(), "--", "/bin/sh", "-c",
                             plant + "rm -f .git/commondir; echo rm=$?; "
                             "printf '[core]\\n\\tfsmonitor = x\\n' > .git/config.worktree; echo config_worktree=$?; "
                             "mkdir -p .git/worktrees/wt; echo worktrees=$?; "
                             "echo commondir_holds=$(cat .git/commondir); " + kGit + " commit -q --allow-empty -m sandbox; echo commit=$?"});
  BOOST_TEST(result.status == 0, result.err);
  for (const char* expected : {"commondir=2", "rm=1", "config_worktree=2", "worktrees=1", "commondir_holds=.", "commit=0"})
    BOOST_TEST(result.out.find(expected) != std::string::npos, expected << " not in: " << result.out << result.err);
  // After the run: the placeholders are gone, the task's commit is there,
  // and the host's git runs nothing of the task's.
  for (const char* path : {".git/commondir", ".git/config.worktree", ".git/worktrees"})
    BOOST_TEST(!fs::exists(fs::symlink_status(workspace.path() / path)), path);
  auto log = run_process({"/bin/sh", "-c", "cd " + workspace.str() + " && git status >/dev/null 2>&1; git log --format=%s"});
  BOOST_TEST(log.out == "sandbox\nhost\n", log.out << log.err);
  BOOST_TEST(!fs::exists(marker), "the host's git ran the task's fsmonitor");
}

BOOST_AUTO_TEST_CASE(a_repository_the_task_registers_as_a_submodule_is_reported) {
  // The index stays writable (the task commits), so a task can make a
  // repository of its own whose config runs a command, and register it as a
  // submodule: git status on the host then runs the command. tierbox cannot
  // refuse that in the sandbox; it reports it after the run.
  TempDir markers("tierbox-git-markers");
  const auto marker = markers.path() / "fsmonitor-ran";
  const std::string plant = "git init -q vendor/x && " + kGit + " -C vendor/x commit -q --allow-empty -m x && "
                            "printf '[core]\\n\\tfsmonitor = \"touch " + marker.string() + "; false\"\\n' >> vendor/x/.git/config && "
                            "git update-index --add --cacheinfo 160000,$(git -C vendor/x rev-parse HEAD),vendor/x; echo planted=$?";
  // Control, on the host: the attack works where nothing stops it.
  Workspace control;
  BOOST_REQUIRE(run_process({"/bin/sh", "-c", "cd " + control.str() + " && git init -q && " + plant + " && git status >/dev/null 2>&1; true"}).status == 0);
  BOOST_TEST(fs::exists(marker), "control: git on the host did not recurse into the registered repository");
  fs::remove(marker);

  // A repository with a submodule the host absorbed (its .git a file into
  // the superproject's protected .git/modules/): not reported.
  Workspace workspace;
  BOOST_REQUIRE(run_process({"/bin/sh", "-c", "cd " + workspace.str() + " && git init -q && " + kGit + " commit -q --allow-empty -m host && "
                             "git init -q lib && " + kGit + " -C lib commit -q --allow-empty -m lib && mkdir -p .git/modules && "
                             "mv lib/.git .git/modules/lib && echo 'gitdir: ../.git/modules/lib' > lib/.git && "
                             "git config -f .git/modules/lib/config core.worktree ../../../lib && "
                             "git update-index --add --cacheinfo 160000,$(git -C lib rev-parse HEAD),lib"}).status == 0);
  TempDir audit("tierbox-audit");
  const auto log = (audit.path() / "audit.jsonl").string();
  const auto run = [&](const std::string& script) {
    return run_tierbox({"run", "--audit-log", log, "--tier", "workspace-write", "--workspace", workspace.str(), "--",
                        "/bin/sh", "-c", script});
  };
  // Nothing reported when the index does not change, nor when it changes
  // without a repository of the task's.
  auto untouched = run("true");
  BOOST_TEST(untouched.err.find("workspace:") == std::string::npos, untouched.err);
  auto added = run("echo a > a.txt && git add a.txt");
  BOOST_TEST(added.status == 0, added.err);
  BOOST_TEST(added.err.find("workspace:") == std::string::npos, added.err);

  const auto result_file = (audit.path() / "result.json").string();
  auto planted = run_tierbox({"run", "--audit-log", log, "--result", result_file, "--tier", "workspace-write", "--workspace",
                              workspace.str(), "--", "/bin/sh", "-c", plant});
  BOOST_TEST(planted.status == 0, planted.err);
  BOOST_TEST(planted.out.find("planted=0") != std::string::npos, planted.out << planted.err);
  BOOST_TEST(planted.err.find("warning: workspace: vendor/x: a git repository of its own") != std::string::npos, planted.err);
  BOOST_TEST(planted.err.find("workspace: lib") == std::string::npos, planted.err);
  // The end record says so too.
  const auto end = last_end_record(log);
  BOOST_REQUIRE(!end.is_null());
  bool reported = false;
  for (const auto& violation : end["violations"])
    if (violation["kind"] == "nested_git_repository") reported = violation["detail"].dump().find("vendor/x") != std::string::npos;
  BOOST_TEST(reported, end.dump());
  // And the run's result, for the agent framework that launched it.
  const auto result = json::parse(read_file(result_file));
  BOOST_TEST(result["workspace_warnings"].dump().find("vendor/x: a git repository of its own") != std::string::npos,
             result.dump());
}

BOOST_AUTO_TEST_CASE(a_rebase_left_in_progress_with_exec_lines_is_reported) {
  // The task stops an interactive rebase at a break with an exec line still
  // to come: the developer's `git rebase --continue` runs it on the host.
  TempDir markers("tierbox-git-markers");
  const auto marker = markers.path() / "exec-ran";
  Workspace workspace;
  BOOST_REQUIRE(run_process({"/bin/sh", "-c", "cd " + workspace.str() + " && git init -q && " + kGit + " commit -q --allow-empty -m one && " +
                             kGit + " commit -q --allow-empty -m two"}).status == 0);
  TempDir audit("tierbox-audit");
  const auto log = (audit.path() / "audit.jsonl").string();
  auto result = run_tierbox({"run", "--audit-log", log, "--tier", "workspace-write", "--workspace", workspace.str(), "--",
                             "/bin/sh", "-c", "GIT_SEQUENCE_EDITOR=\"printf 'break\\nexec touch " + marker.string() + "\\n' >\" " + kGit +
                             " rebase -q -i HEAD~1 >/dev/null 2>&1; test -f .git/rebase-merge/git-rebase-todo; echo todo=$?"});
  BOOST_TEST(result.status == 0, result.err);
  BOOST_TEST(result.out.find("todo=0") != std::string::npos, result.out << result.err);
  BOOST_TEST(result.err.find("warning: workspace: .git/rebase-merge/git-rebase-todo: left in progress with 1 exec line (touch " +
                             marker.string() + ")") != std::string::npos, result.err);
  const auto end = last_end_record(log);
  BOOST_REQUIRE(!end.is_null());
  BOOST_TEST(end["violations"].dump().find("pending_git_commands") != std::string::npos, end.dump());
  // The control: on the host the warning is no false alarm.
  BOOST_TEST(!fs::exists(marker));
  run_process({"/bin/sh", "-c", "cd " + workspace.str() + " && " + kGit + " rebase --continue >/dev/null 2>&1; true"});
  BOOST_TEST(fs::exists(marker), "control: git rebase --continue did not run the exec line");
}

BOOST_AUTO_TEST_CASE(git_cannot_be_moved_aside_and_replaced_by_a_git_of_the_tasks) {
  // .git holds the protected mounts but is not one itself: renaming it
  // would carry .git/config away and leave the name free for a new .git
  // whose config runs code on the developer's next `git status`.
  Workspace workspace;
  workspace.write(".git/HEAD", "ref: refs/heads/main\n");
  workspace.write(".git/config", "[core]\n\tbare = false\n");
  workspace.write(".git/hooks/pre-commit.sample", "#!/bin/sh\n");
  workspace.write("src/main.c", "int main() {}\n");
  auto renamed = probe_in(workspace, {"--tier", "workspace-write"}, {"rename", ".git", ".git-old"});
  BOOST_TEST(renamed["rename"] == "EBUSY", renamed.dump());
  auto removed = probe_in(workspace, {"--tier", "workspace-write"}, {"remove", ".git"});
  BOOST_TEST(removed[".git"] == "EBUSY", removed.dump());
  // Control: the same rename of a directory without protected paths works,
  // and .git's other files stay writable.
  auto control = probe_in(workspace, {"--tier", "workspace-write"}, {"rename", "src", "src-moved"});
  BOOST_TEST(control["rename"] == "ok", control.dump());
  auto writes = probe_in(workspace, {"--tier", "workspace-write"}, {"write", ".git/ORIG_HEAD"});
  BOOST_TEST(writes[".git/ORIG_HEAD"] == "ok", writes.dump());
  BOOST_TEST(read_file(workspace.path() / ".git/config") == "[core]\n\tbare = false\n");
  BOOST_TEST(!fs::exists(workspace.path() / ".git-old"));
  BOOST_TEST(fs::is_directory(workspace.path() / "src-moved"));
}

BOOST_AUTO_TEST_CASE(missing_protected_paths_cannot_be_created_and_leave_nothing_behind) {
  Workspace workspace;  // no .git, .tierbox or .env
  auto report = probe_in(workspace, {"--tier", "workspace-write"}, {"mkdir", ".git", ".git/hooks", ".tierbox/x", "ok-dir"});
  BOOST_TEST(report[".git"] == "EEXIST", report.dump());
  BOOST_TEST(report[".git/hooks"] == "EROFS", report.dump());
  BOOST_TEST(report[".tierbox/x"] == "EROFS", report.dump());
  BOOST_TEST(report["ok-dir"] == "ok", report.dump());
  auto files = probe_in(workspace, {"--tier", "workspace-write"}, {"write", ".env", ".git/config", ".tierbox"});
  BOOST_TEST(files[".env"] == "EROFS", files.dump());
  BOOST_TEST(files[".git/config"] == "EROFS", files.dump());
  auto removed = probe_in(workspace, {"--tier", "workspace-write"}, {"remove", ".git", ".tierbox", ".env"});
  for (const char* path : {".git", ".tierbox", ".env"}) BOOST_TEST(removed[path] == "EBUSY", removed.dump());
  // The placeholders were removed when the runs ended.
  for (const char* path : {".git", ".tierbox", ".env"}) BOOST_TEST(!fs::exists(fs::symlink_status(workspace.path() / path)), path);
  BOOST_TEST(fs::is_directory(workspace.path() / "ok-dir"));
}

BOOST_AUTO_TEST_CASE(a_symlink_on_a_protected_path_refuses_the_launch) {
  Workspace workspace;
  TempDir elsewhere;
  fs::create_directories(elsewhere.path() / "hooks");
  fs::create_directory_symlink(elsewhere.path(), workspace.path() / ".git");
  auto result = run_tierbox({"run", "--tier", "workspace-write", "--workspace", workspace.str(), "--", "/bin/true"});
  BOOST_TEST(result.status == 126, result.err);
  BOOST_TEST(result.err.find("/workspace/.git is a symlink") != std::string::npos, result.err);
}

BOOST_AUTO_TEST_CASE(placeholders_survive_a_concurrent_run_and_gc_removes_a_crashed_runs) {
  Workspace workspace;
  TempDir config;
  const auto runs = use_own_registry(config);
  BackgroundRun first({"run", "-v", "--config-dir", config.str(), "--tier", "workspace-write", "--workspace",
                       workspace.str(), "--", "/bin/sh", "-c", "echo ready >&2; sleep 30"});
  const auto id = run_id_from(first);
  BOOST_REQUIRE(!id.empty());
  BOOST_REQUIRE(!first.wait_for_line("ready").empty());
  BOOST_TEST(fs::is_directory(workspace.path() / ".tierbox"));
  // A second run on the same workspace ends first: the first still needs them.
  auto second = probe_in(workspace, {"--tier", "workspace-write"}, {"mkdir", ".tierbox/x"});
  BOOST_TEST(second[".tierbox/x"] == "EROFS", second.dump());
  BOOST_TEST(fs::is_directory(workspace.path() / ".tierbox"), "the second run removed a placeholder the first uses");
  // The first runner dies without cleaning up; gc does it.
  first.signal(SIGKILL);
  BOOST_TEST(first.wait() == 137);
  BOOST_TEST(fs::is_directory(workspace.path() / ".tierbox"));
  const auto record = read_file(runs / (id + ".json"));
  BOOST_TEST(record.find("placeholders") != std::string::npos, record);
  auto gc = run_tierbox({"gc", "--json", "--config-dir", config.str()});
  BOOST_TEST(gc.status == 0, gc.err);
  BOOST_TEST(gc.out.find("placeholder " + workspace.str() + "/.tierbox") != std::string::npos, gc.out);
  for (const char* path : {".git", ".tierbox", ".env"}) BOOST_TEST(!fs::exists(fs::symlink_status(workspace.path() / path)), path);
}

BOOST_AUTO_TEST_CASE(concurrent_runs_on_one_workspace_all_succeed_and_leave_nothing) {
  // Runs that start and end while others make, adopt and remove the same
  // placeholders: none may fail (a placeholder removed under a run's mount
  // would make its launch fail closed) and none may be left behind.
  Workspace workspace;
  std::atomic<int> runs{0}, failures{0};
  std::string first_error;
  std::mutex error_lock;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  std::vector<std::thread> callers;
  for (int i = 0; i < 3; ++i) {
    callers.emplace_back([&] {
      while (std::chrono::steady_clock::now() < deadline) {
        auto result = run_tierbox({"run", "--tier", "workspace-write", "--workspace", workspace.str(), "--", "/bin/true"});
        ++runs;
        if (result.status == 0) continue;
        ++failures;
        std::lock_guard<std::mutex> hold(error_lock);
        if (first_error.empty()) first_error = result.err;
      }
    });
  }
  for (auto& caller : callers) caller.join();
  BOOST_TEST_MESSAGE(runs << " concurrent runs");
  BOOST_TEST(runs > 10);
  BOOST_TEST(failures == 0, first_error);
  for (const char* path : {".git", ".tierbox", ".env"}) BOOST_TEST(!fs::exists(fs::symlink_status(workspace.path() / path)), path);
  for (const auto& entry : fs::directory_iterator(workspace.path()))
    BOOST_TEST(entry.path().filename().string().rfind(".tierbox-placeholder", 0) != 0u, entry.path());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(tier_review)

BOOST_AUTO_TEST_CASE(an_expired_tier_refuses_to_run_unless_overridden_and_the_override_is_recorded) {
  TempDir config;
  write_tier(config, "old", R"("reviewed_by": "alice@example.com", "reviewed_on": "2020-01-01", "review_by": "2020-06-30")");
  auto refused = run_tierbox({"run", "--config-dir", config.str(), "--tier", "old", "--", "/bin/echo", "ran"});
  BOOST_TEST(refused.status == 126);
  BOOST_TEST(refused.out.empty());
  BOOST_TEST(refused.err.find("EXPIRED since 2020-06-30") != std::string::npos, refused.err);
  BOOST_TEST(refused.err.find("--allow-expired-tier") != std::string::npos, refused.err);
  BOOST_TEST(line_count(without_landlock_warnings(refused.err)) == 1, refused.err);
  BackgroundRun run({"run", "-v", "--config-dir", config.str(), "--tier", "old", "--allow-expired-tier", "--", "/bin/sh",
                     "-c", "echo ready >&2; sleep 30"});
  const auto id = run_id_from(run);
  BOOST_REQUIRE(!id.empty());
  BOOST_REQUIRE(!run.wait_for_line("ready").empty());
  auto record = json::parse(read_file(fs::path("/run/tierbox/runs") / (id + ".json")));
  BOOST_REQUIRE(record["overrides"].size() == 1u);
  BOOST_TEST(record["overrides"][0].get<std::string>().find("--allow-expired-tier") == 0u, record.dump());
  run.signal(SIGTERM);
  BOOST_TEST(run.wait() == 143);
  // And `profile check` fails on it.
  auto check = run_tierbox({"profile", "check", "--config-dir", config.str(), "old"});
  BOOST_TEST(check.status == 1);
  BOOST_TEST(check.err.find("EXPIRED") != std::string::npos, check.err);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(allowed_commands_enforced)

BOOST_AUTO_TEST_CASE(a_command_not_in_the_list_refuses) {
  TempDir config;
  write_tier(config, "shell-only", R"("allowed_commands": ["sh"])");
  auto refused = run_tierbox({"run", "--config-dir", config.str(), "--tier", "shell-only", "--", "ls", "/"});
  BOOST_TEST(refused.status == 126);
  BOOST_TEST(refused.out.empty());
  BOOST_TEST(refused.err.find("\"ls\" resolves to /usr/bin/ls, which tier 'shell-only' does not allow") != std::string::npos, refused.err);
  // Control: the listed command runs, by name or by another path to it.
  auto allowed = run_tierbox({"run", "--config-dir", config.str(), "--tier", "shell-only", "--", "sh", "-c", "echo ok"});
  BOOST_TEST(allowed.status == 0, allowed.err);
  BOOST_TEST(allowed.out == "ok\n");
  BOOST_TEST(run_tierbox({"run", "--config-dir", config.str(), "--tier", "shell-only", "--", "/bin/sh", "-c", "true"}).status == 0);
  BOOST_TEST(run_tierbox({"run", "--config-dir", config.str(), "--tier", "shell-only", "--", "no-such-tool"}).status == 127);
}

BOOST_AUTO_TEST_CASE(a_changed_pinned_skill_refuses_naming_both_digests) {
  Workspace workspace;
  workspace.write("skill.sh", "#!/bin/sh\necho skill v1\n");
  fs::permissions(workspace.path() / "skill.sh", fs::perms(0755));
  auto digest = run_process({"/usr/bin/sha256sum", (workspace.path() / "skill.sh").string()}).out.substr(0, 64);
  TempDir config;
  write_tier(config, "pinned", R"("allowed_commands": [{"path": "/workspace/skill.sh", "sha256": ")" + digest + R"("}])");
  const std::vector<std::string> run = {"run", "--config-dir", config.str(), "--tier", "pinned", "--workspace", workspace.str(), "--", "./skill.sh"};
  auto before = run_tierbox(run);
  BOOST_TEST(before.status == 0, before.err);
  BOOST_TEST(before.out == "skill v1\n");
  workspace.write("skill.sh", "#!/bin/sh\necho skill v2\n");
  auto changed = run_process({"/usr/bin/sha256sum", (workspace.path() / "skill.sh").string()}).out.substr(0, 64);
  auto after = run_tierbox(run);
  BOOST_TEST(after.status == 126);
  BOOST_TEST(after.out.empty());
  BOOST_TEST(after.err.find(digest) != std::string::npos, after.err);
  BOOST_TEST(after.err.find(changed) != std::string::npos, after.err);
  BOOST_TEST(after.err.find("/workspace/skill.sh") != std::string::npos, after.err);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(profile_tools)

BOOST_AUTO_TEST_CASE(list_shows_owner_class_network_and_review) {
  auto result = run_tierbox({"profile", "list"});
  BOOST_TEST(result.status == 0, result.err);
  BOOST_TEST(result.out.find("untrusted") != std::string::npos);
  BOOST_TEST(result.out.find("security-team@example.com") != std::string::npos);
  BOOST_TEST(result.out.find("internal") != std::string::npos);
  BOOST_TEST(result.out.find("current until 2027-05-25") != std::string::npos, result.out);
  auto listed = json::parse(run_tierbox({"profile", "list", "--json"}).out);
  bool found = false;
  for (const auto& row : listed) found = found || (row["tier"] == "workspace-write" && row["network"] == "none" && row["valid"] == true);
  BOOST_TEST(found, listed.dump());
}

BOOST_AUTO_TEST_CASE(explain_is_plain_language_and_names_the_approval_rules) {
  auto result = run_tierbox({"profile", "explain", "workspace-write"});
  BOOST_TEST(result.status == 0, result.err);
  for (const char* part : {"/workspace: the directory given with --workspace, WRITABLE", "masked inside mounted trees",
                           "Approvals", "Matrix: ", "Extra binds (--bind/--bind-rw): none", "System calls", "Allowed: @system-service", "Landlock", "Wall-clock time: 1h", ".git/hooks/: read-only"})
    BOOST_TEST(result.out.find(part) != std::string::npos, part);
}

BOOST_AUTO_TEST_CASE(diff_exits_1_when_something_widens) {
  auto widens = run_tierbox({"profile", "diff", "untrusted", "workspace-write"});
  BOOST_TEST(widens.status == 1, widens.err);
  BOOST_TEST(widens.out.find("WIDENS   workspace.writable: read-only -> writable") != std::string::npos, widens.out);
  auto narrows = run_tierbox({"profile", "diff", "workspace-write", "untrusted"});
  BOOST_TEST(narrows.status == 0, narrows.err);
  BOOST_TEST(narrows.out.find("narrows") != std::string::npos);
  auto same = run_tierbox({"profile", "diff", "untrusted", "untrusted"});
  BOOST_TEST(same.status == 0);
  BOOST_TEST(same.out.find("no security-relevant change") != std::string::npos);
  auto as_json = json::parse(run_tierbox({"profile", "diff", "--json", "untrusted", "workspace-write"}).out);
  BOOST_TEST(as_json["widens"] == true);
  TempDir dir;
  auto inventory = dir.write("classes.json", R"({"paths": []})");
  auto dropped = run_tierbox({"profile", "diff", std::string(kSourceDir) + "/profiles/data-classes.json", inventory.string()});
  BOOST_TEST(dropped.status == 1);
  BOOST_TEST(dropped.out.find("rule removed ~/.ssh") != std::string::npos, dropped.out);
  BOOST_TEST(run_tierbox({"profile", "diff", "untrusted", "no-such-tier"}).status == 125);
}

BOOST_AUTO_TEST_CASE(check_json_is_for_ci) {
  auto all = run_tierbox({"profile", "check", "--json"});
  BOOST_TEST(all.status == 0, all.out << all.err);
  auto report = json::parse(all.out);
  BOOST_TEST(report["ok"] == true);
  BOOST_TEST(report["files"].size() >= 4u);
  TempDir config;
  auto bad = write_tier(config, "bad", R"("limits": {"wall_time": "forever"})");
  auto failing = run_tierbox({"profile", "check", "--json", "--config-dir", config.str(), bad.string()});
  BOOST_TEST(failing.status == 1);
  auto failed = json::parse(failing.out);
  BOOST_TEST(failed["ok"] == false);
  BOOST_TEST(failed["files"][0]["errors"][0].get<std::string>().find("/limits/wall_time") != std::string::npos, failing.out);
}

BOOST_AUTO_TEST_SUITE_END()
