// What the staged-workspace tests share (tests/integration/test_staged*.cpp):
// a config, state directory and audit log per test, the workspace, and the
// listings that compare trees. Every layer the runs mount lives in the test
// process's own private mount namespace.
#pragma once

#include <sched.h>
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
#include "integration/harness.h"

namespace tierbox::testing::staged_fixture {

using nlohmann::json;
namespace fs = std::filesystem;


// The workspace's owner on disk: not root, not the task, so ownership
// mistakes show.
inline constexpr uid_t kOwner = 4321;

// A listing of a tree as the task and the host both can make it: every
// path but what tierbox itself adds during a run (the protected paths'
// placeholders), with its mode, type and content hash.
inline const char* const kListing =
    "find . \\( -path ./.git -o -path ./.tierbox -o -path ./.env \\) -prune -o -print | LC_ALL=C sort | "
    "while read -r p; do if [ -f \"$p\" ] && [ ! -L \"$p\" ]; then echo \"$p $(stat -c %a \"$p\") $(sha256sum < \"$p\" | cut -c1-64)\"; "
    "elif [ -L \"$p\" ]; then echo \"$p -> $(readlink \"$p\")\"; else echo \"$p $(stat -c '%a %F' \"$p\")\"; fi; done";

// Everything of a tree, byte for byte: path, type, mode, owner, content or
// link target, never following a symlink.
inline std::string tree_hash(const fs::path& root) {
  std::vector<std::string> lines;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator(); ++it) {
    struct stat st {};
    BOOST_REQUIRE(::lstat(it->path().c_str(), &st) == 0);
    std::string line = fs::relative(it->path(), root).string() + " " + std::to_string(st.st_mode) + " " +
                       std::to_string(st.st_uid) + ":" + std::to_string(st.st_gid);
    if (S_ISREG(st.st_mode)) line += " " + sha256_hex(read_regular_file(it->path().string(), "tree", 1 << 30));
    if (S_ISLNK(st.st_mode)) line += " -> " + fs::read_symlink(it->path()).string();
    lines.push_back(line);
  }
  std::sort(lines.begin(), lines.end());
  std::string all;
  for (const auto& line : lines) all += line + "\n";
  return sha256_hex(all);
}

inline std::string host_listing(const fs::path& root) {
  const auto result = run_process({"/bin/sh", "-c", "cd " + root.string() + " && " + kListing});
  BOOST_REQUIRE(result.status == 0);
  return result.out;
}

// A staged run mounts its layer (a tmpfs) in the runner's mount namespace,
// where the later `tierbox changes|apply` find it. The test process moves
// itself into a private mount namespace of its own first, so every layer
// its runs make lives there (never in the host's) and goes away with it.
inline void enter_private_mount_namespace() {
  static bool entered = false;
  if (entered) return;
  BOOST_REQUIRE_MESSAGE(::unshare(CLONE_NEWNS) == 0, "unshare(CLONE_NEWNS): " << std::strerror(errno));
  BOOST_REQUIRE_MESSAGE(::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0,
                        "mount(/, MS_REC|MS_PRIVATE): " << std::strerror(errno));
  entered = true;
}

struct Staged {
  bool private_namespace = [] {
    enter_private_mount_namespace();
    return true;
  }();
  TempDir dir{"tierbox-test-staged"};
  std::string config = (dir.path() / "config").string();
  std::string log = (dir.path() / "audit.jsonl").string();
  TempDir workspace{"tierbox-test-staged-ws"};

  explicit Staged(const std::string& approvers = "nobody-tbx-staged") {
    ::chmod(dir.str().c_str(), 0755);
    dir.write("config/tierbox.json", json{{"state_dir", dir.str() + "/state"},
                                          {"approvals_dir", dir.str() + "/approvals"},
                                          {"governance_dir", dir.str() + "/governance"}}
                                         .dump());
    dir.write("config/tiers/staged-open.json", R"({"extends": "workspace-staged"})");
    dir.write("config/tiers/staged-guarded.json", R"({"extends": "workspace-staged"})");
    dir.write("config/tiers/staged-disk.json", R"({"extends": "workspace-staged", "limits": {"disk": "8M"}})");
    dir.write("config/tiers/staged-bindrw.json",
              R"({"extends": "workspace-staged", "widening": {"binds": "read-write"}, "limits": {"disk": "8M"}})");
    dir.write("config/tiers/staged-output.json", R"({"extends": "untrusted", "limits": {"output": "1K"}})");
    dir.write("config/approvals.json",
              json{{"tiers", {"staged-*", "untrusted"}},
                   {"approvers", approvers},
                   {"rules",
                    {{{"id", "open"}, {"require", "none"}},
                     {{"id", "guarded-deletes"},
                      {"when", {{"tiers", {"staged-guarded"}}, {"apply", {{"deletes", true}}}}},
                      {"require", "approver"},
                      {"timeout", "3s"}}}}}
                  .dump());
    ::chmod(workspace.str().c_str(), 0755);
    // Approvers (other users) read the config when they vote.
    for (const char* path : {"config", "config/tiers"}) ::chmod((dir.path() / path).c_str(), 0755);
    for (const char* file : {"config/tierbox.json", "config/approvals.json"}) ::chmod((dir.path() / file).c_str(), 0644);
  }

  // Files of the workspace, owned by kOwner; then a pause, so that their
  // ctimes lie before the run's start (a conflict is a ctime not older).
  void populate(const std::vector<std::pair<std::string, std::string>>& files) const {
    for (const auto& [path, content] : files) workspace.write(path, content);
    run_process({"/bin/chown", "-R", std::to_string(kOwner) + ":" + std::to_string(kOwner), workspace.str()});
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }

  // Runs script in a staged sandbox; returns the run id and the result.
  std::pair<std::string, ProcessResult> run(const std::string& script, const std::string& tier = "staged-open") const {
    const auto result = run_tierbox({"run", "--config-dir", config, "--audit-log", log, "--tier", tier, "--workspace",
                                     workspace.str(), "--", "/bin/sh", "-c", script});
    std::smatch match;
    std::string run_id;
    if (std::regex_search(result.err, match, std::regex("tierbox changes ([0-9a-f]{16})"))) run_id = match[1];
    BOOST_REQUIRE_MESSAGE(!run_id.empty(), "no staged run: " + result.err);
    return {run_id, result};
  }
  ProcessResult tierbox(const std::string& command, const std::string& run_id, std::vector<std::string> more = {},
                        const SpawnOptions& options = {}) const {
    std::vector<std::string> args = {command, "--config-dir", config, "--audit-log", log, run_id};
    args.insert(args.end(), more.begin(), more.end());
    return run_tierbox(args, options);
  }
  json changes_json(const std::string& run_id) const {
    const auto result = tierbox("changes", run_id, {"--json"});
    BOOST_REQUIRE_MESSAGE(result.status == 0, result.err);
    return json::parse(result.out);
  }
  [[nodiscard]] fs::path layers() const { return dir.path() / "state" / "staged"; }

  // The layers' tmpfs mounts go before the directories they are in
  // (TempDir removes those after this).
  ~Staged() {
    std::error_code error;
    for (const auto& entry : fs::directory_iterator(layers(), error)) {
      ::umount2((entry.path() / "layer" / "lower").c_str(), MNT_DETACH);
      ::umount2((entry.path() / "layer").c_str(), MNT_DETACH);
    }
  }
  Staged(const Staged&) = delete;
  Staged& operator=(const Staged&) = delete;
};

inline std::set<std::string> kinds_of(const json& changes) {
  std::set<std::string> out;
  for (const auto& change : changes["changes"]) out.insert(change["kind"].get<std::string>() + " " + change["path"].get<std::string>());
  return out;
}

}  // namespace tierbox::testing::staged_fixture
