// Data classes and protected paths: pattern matching, class resolution (globs,
// `~`, symlinks, parent binds) and what is masked or protected inside mounted
// trees, checked against real temp trees through the real LinuxHostView.
#include <boost/test/unit_test.hpp>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <sys/xattr.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <thread>
#include <nlohmann/json.hpp>

#include "common/errors.h"
#include "common/temp_dir.h"
#include "policy/data_access.h"
#include "policy/data_classes.h"
#include "policy/host_facts.h"

using namespace tierbox;
using namespace tierbox::policy;
using tierbox::testing::TempDir;
namespace fs = std::filesystem;

namespace {

// The real host view, with home directories chosen by the test.
class TestView final : public HostView {
 public:
  std::map<std::string, std::string> homes;
  std::optional<std::string> real_path(const std::string& path) const override { return real_.real_path(path); }
  EntryType entry_type(const std::string& path) const override { return real_.entry_type(path); }
  std::optional<std::string> read_link(const std::string& path) const override { return real_.read_link(path); }
  bool is_executable_file(const std::string& path) const override { return real_.is_executable_file(path); }
  std::optional<std::vector<std::pair<std::string, EntryType>>> list_directory(const std::string& path) const override {
    return real_.list_directory(path);
  }
  std::string sha256_of_file(const std::string& path) const override { return real_.sha256_of_file(path); }
  BeneathState inspect_beneath(const std::string& root, const std::vector<std::string>& relative) const override {
    return real_.inspect_beneath(root, relative);
  }
  WalkResult walk(const std::string& root, const WalkLimits& limits, const WalkVisitor& visitor) const override {
    ++walks;
    return real_.walk(root, limits, visitor);
  }
  std::map<std::string, std::string> home_directories() const override { return homes; }
  std::optional<std::uint64_t> filesystem_of(const std::string& path) const override {
    return real_.filesystem_of(path);
  }
  mutable int walks = 0;

 private:
  LinuxHostView real_;
};

DataClassInventory inventory_of(const std::string& text) {
  return parse_data_classes(nlohmann::json::parse(text), "data-classes.json");
}

PathPattern pattern(const std::string& text) {
  std::string error;
  auto parsed = parse_path_pattern(text, {PatternAnchor::absolute, PatternAnchor::home, PatternAnchor::anywhere,
                                          PatternAnchor::relative}, &error);
  BOOST_REQUIRE_MESSAGE(parsed, text << ": " << error);
  return *parsed;
}

Profile tier_with(DataClass max) {
  Profile profile;
  profile.name = "t";
  profile.data_access.max_data_class = max;
  return profile;
}

void add_bind(Profile& profile, const std::string& source, const std::string& target, bool writable = false) {
  MountSpec mount;
  mount.type = MountType::bind;
  mount.source = source;
  mount.target = target;
  mount.writable = writable;
  profile.mounts.push_back(mount);
}

ProtectedPath protect(const std::string& text, ProtectionMode mode = ProtectionMode::read_only) {
  std::string error;
  auto parsed = parse_path_pattern(text, {PatternAnchor::relative, PatternAnchor::anywhere}, &error);
  BOOST_REQUIRE_MESSAGE(parsed, error);
  return {*parsed, mode, "t.json:/protected_paths/0"};
}

const TreeAssessment& tree_at(const DataAccessAssessment& assessment, const std::string& target) {
  for (const auto& tree : assessment.trees)
    if (tree.target == target) return tree;
  BOOST_FAIL("no tree at " << target);
  throw 0;
}

std::string actions_text(const TreeAssessment& tree) {
  std::string text;
  for (const auto& action : tree.actions) {
    text += action.kind == TreeEntryAction::Kind::hide ? "hide " : action.kind == TreeEntryAction::Kind::read_only ? "ro " : "placeholder ";
    text += join_components(action.relative, action.relative.size(), false);
    text += action.type == EntryType::directory ? "/ " : " ";
  }
  return text;
}

const char* kInventory = R"({
  "default_class": "internal",
  "paths": [
    {"path": "/usr", "class": "public", "scan": false},
    {"path": "~/.ssh", "class": "secret"},
    {"path": "~/.ssh/known_hosts", "class": "internal"},
    {"path": "/srv/*/keys", "class": "secret"},
    {"path": "**/.env*", "class": "secret"},
    {"path": "**/.git/config", "class": "secret"},
    {"path": "**/node_modules", "class": "internal", "scan": false}
  ]})";

}  // namespace

BOOST_AUTO_TEST_SUITE(path_patterns)

BOOST_AUTO_TEST_CASE(components_match_star_question_and_dots) {
  BOOST_TEST(component_matches("*", ".env"));
  BOOST_TEST(component_matches(".env*", ".env"));
  BOOST_TEST(component_matches(".env*", ".env.local"));
  BOOST_TEST(!component_matches(".env*", "x.env"));
  BOOST_TEST(component_matches("id_?sa*", "id_rsa.pub"));
  BOOST_TEST(component_matches("*.pem", "a.b.pem"));
  BOOST_TEST(!component_matches("*.pem", "a.pem.bak"));
  BOOST_TEST(component_matches("a*b*c", "aXXbYYc"));
  BOOST_TEST(!component_matches("a*b*c", "aXXbYY"));
}

BOOST_AUTO_TEST_CASE(anchors_are_parsed_and_bad_patterns_refused) {
  BOOST_TEST((pattern("/etc/shadow").anchor == PatternAnchor::absolute));
  auto home = pattern("~bob/.aws");
  BOOST_TEST((home.anchor == PatternAnchor::home));
  BOOST_TEST(home.home_user == "bob");
  BOOST_TEST((pattern("~/.ssh").home_user.empty()));
  auto anywhere = pattern("**/.git/config");
  BOOST_TEST((anywhere.anchor == PatternAnchor::anywhere));
  BOOST_TEST(anywhere.components.size() == 2u);
  BOOST_TEST(pattern(".git/hooks/").directory);
  std::string error;
  for (const char* bad : {"", "/a/../b", "/a//b", "**", "/a/**/b", "~b@d/x", "/a/./b"})
    BOOST_TEST(!parse_path_pattern(bad, {PatternAnchor::absolute, PatternAnchor::home, PatternAnchor::anywhere}, &error), bad);
  BOOST_TEST(!parse_path_pattern(".env", {PatternAnchor::absolute, PatternAnchor::anywhere}, &error));
  BOOST_TEST(error.find("expected") != std::string::npos, error);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(data_class_resolution)

BOOST_AUTO_TEST_CASE(most_specific_rule_wins_and_unlisted_paths_take_the_default) {
  auto inventory = inventory_of(kInventory);
  DataClassifier classifier(inventory, {{"bob", "/home/bob"}, {"root", "/root"}});
  BOOST_TEST((classifier.classify("/usr/bin/ls").data_class == DataClass::public_data));
  BOOST_TEST((classifier.classify("/home/bob/.ssh").data_class == DataClass::secret));
  BOOST_TEST((classifier.classify("/home/bob/.ssh/id_ed25519").data_class == DataClass::secret));
  BOOST_TEST((classifier.classify("/root/.ssh/config").data_class == DataClass::secret));
  // A deeper rule declassifies one file below a secret directory.
  BOOST_TEST((classifier.classify("/home/bob/.ssh/known_hosts").data_class == DataClass::internal));
  BOOST_TEST((classifier.classify("/srv/app/keys/k1").data_class == DataClass::secret));
  BOOST_TEST((classifier.classify("/srv/app/other").data_class == DataClass::internal));
  // `**` rules beat a shallower anchored one: the deepest match wins.
  BOOST_TEST((classifier.classify("/usr/share/x/.env").data_class == DataClass::secret));
  auto unlisted = classifier.classify("/home/bob/project/main.c");
  BOOST_TEST((unlisted.data_class == DataClass::internal));
  BOOST_TEST(unlisted.rule == nullptr);
  // ~ is every home the view reports; a user not there matches nothing.
  BOOST_TEST((classifier.classify("/home/alice/.ssh").data_class == DataClass::internal));
}

BOOST_AUTO_TEST_CASE(home_user_rules_apply_only_to_that_user) {
  auto inventory = inventory_of(R"({"paths": [{"path": "~bob/.aws", "class": "secret"}], "default_class": "public"})");
  DataClassifier classifier(inventory, {{"bob", "/home/bob"}, {"eve", "/home/eve"}});
  BOOST_TEST((classifier.classify("/home/bob/.aws/credentials").data_class == DataClass::secret));
  BOOST_TEST((classifier.classify("/home/eve/.aws/credentials").data_class == DataClass::public_data));
}

BOOST_AUTO_TEST_CASE(inventory_errors_name_the_pointer) {
  for (auto [text, part] : std::vector<std::pair<const char*, const char*>>{
           {R"({"paths": [{"path": "relative/x", "class": "secret"}]})", "/paths/0/path"},
           {R"({"paths": [{"path": "/x", "class": "top-secret"}]})", "/paths/0/class"},
           {R"({"paths": [{"path": "/x", "class": "secret", "scna": false}]})", "/paths/0/scna"},
           {R"({"default_class": "none", "paths": []})", "/default_class"},
           {R"({"scan_limit": 0, "paths": []})", "/scan_limit"},
           {R"({})", "/paths"}}) {
    try {
      inventory_of(text);
      BOOST_ERROR("accepted: " << text);
    } catch (const ConfigError& error) {
      BOOST_TEST(std::string(error.what()).find(part) != std::string::npos, error.what());
    }
  }
}

BOOST_AUTO_TEST_CASE(a_mount_of_a_secret_path_is_refused_directly) {
  TempDir host;
  host.write("home/bob/.ssh/id_rsa", "key");
  TestView view;
  view.homes = {{"bob", host.str() + "/home/bob"}};
  auto inventory = inventory_of(kInventory);
  auto profile = tier_with(DataClass::internal);
  add_bind(profile, host.str() + "/home/bob/.ssh", "/keys");
  auto assessment = assess_data_access(profile, inventory, std::nullopt, view);
  BOOST_REQUIRE(assessment.exposures.size() == 1u);
  const auto& exposure = assessment.exposures[0];
  BOOST_TEST(exposure.how == "directly");
  BOOST_TEST((exposure.data_class == DataClass::secret));
  auto message = describe(exposure, "t", DataClass::internal);
  BOOST_TEST(message.find(host.str() + "/home/bob/.ssh") != std::string::npos, message);
  BOOST_TEST(message.find("secret") != std::string::npos, message);
  BOOST_TEST(message.find("~/.ssh") != std::string::npos, message);
  BOOST_TEST(message.find("tier 't'") != std::string::npos, message);
  // The same tier allowed secrets: no exposure.
  profile.data_access.max_data_class = DataClass::secret;
  BOOST_TEST(assess_data_access(profile, inventory, std::nullopt, view).exposures.empty());
}

BOOST_AUTO_TEST_CASE(a_parent_directory_bind_is_refused) {
  TempDir host;
  host.write("home/bob/.ssh/id_rsa", "key");
  host.write("home/bob/notes.txt", "x");
  TestView view;
  view.homes = {{"bob", host.str() + "/home/bob"}};
  auto profile = tier_with(DataClass::internal);
  add_bind(profile, host.str() + "/home", "/h");
  auto assessment = assess_data_access(profile, inventory_of(kInventory), std::nullopt, view);
  BOOST_REQUIRE(assessment.exposures.size() == 1u);
  BOOST_TEST(assessment.exposures[0].how == "through a parent directory bind");
  BOOST_TEST(assessment.exposures[0].path == host.str() + "/home/bob/.ssh");
  // The workspace is checked the same way.
  auto workspace_only = tier_with(DataClass::internal);
  auto on_workspace = assess_data_access(workspace_only, inventory_of(kInventory), host.str() + "/home/bob", view);
  BOOST_REQUIRE(on_workspace.exposures.size() == 1u);
  BOOST_TEST(on_workspace.exposures[0].mount.find("--workspace") != std::string::npos);
  // A glob rule (/srv/*/keys) is expanded against the host.
  host.write("srv/app/keys/k", "k");
  auto srv_inventory = inventory_of(std::string(R"({"paths": [{"path": ")") + host.str() + R"(/srv/*/keys", "class": "secret"}]})");
  auto srv = tier_with(DataClass::internal);
  add_bind(srv, host.str() + "/srv", "/srv");
  auto srv_assessment = assess_data_access(srv, srv_inventory, std::nullopt, view);
  BOOST_REQUIRE(srv_assessment.exposures.size() == 1u);
  BOOST_TEST(srv_assessment.exposures[0].path == host.str() + "/srv/app/keys");
}

BOOST_AUTO_TEST_CASE(symlinks_are_followed_both_ways) {
  TempDir host;
  host.write("home/bob/.ssh/id_rsa", "key");
  host.write("data/real-keys/k", "k");
  TestView view;
  view.homes = {{"bob", host.str() + "/home/bob"}, {"eve", host.str() + "/home/eve"}};
  fs::create_directories(host.path() / "home/eve");
  // A bind source that is a symlink to a secret directory.
  fs::create_directory_symlink(host.path() / "home/bob/.ssh", host.path() / "innocent");
  auto profile = tier_with(DataClass::internal);
  add_bind(profile, host.str() + "/innocent", "/x");
  auto assessment = assess_data_access(profile, inventory_of(kInventory), std::nullopt, view);
  BOOST_REQUIRE(assessment.exposures.size() == 1u);
  BOOST_TEST(assessment.exposures[0].how.find("through the symlink") != std::string::npos, assessment.exposures[0].how);
  // A secret path that is itself a symlink: binding where it points is refused.
  fs::create_directory_symlink(host.path() / "data/real-keys", host.path() / "home/eve/.ssh");
  auto data = tier_with(DataClass::internal);
  add_bind(data, host.str() + "/data", "/data");
  auto through = assess_data_access(data, inventory_of(kInventory), std::nullopt, view);
  BOOST_REQUIRE(through.exposures.size() == 1u);
  BOOST_TEST(through.exposures[0].path == host.str() + "/data/real-keys");
  BOOST_TEST(through.exposures[0].how.find("points to") != std::string::npos, through.exposures[0].how);
}

BOOST_AUTO_TEST_CASE(secrets_inside_a_mounted_tree_are_masked_not_refused) {
  TempDir workspace;
  workspace.write(".env", "TOKEN=1");
  workspace.write("app/.env.production", "TOKEN=2");
  workspace.write(".git/config", "[remote]");
  workspace.write("src/main.c", "int main;");
  workspace.write("node_modules/pkg/.env", "not scanned");
  TestView view;
  auto profile = tier_with(DataClass::internal);
  auto assessment = assess_data_access(profile, inventory_of(kInventory), workspace.str(), view);
  BOOST_TEST(assessment.exposures.empty());
  const auto& tree = tree_at(assessment, "/workspace");
  const auto text = actions_text(tree);
  BOOST_TEST(text.find("hide .env ") != std::string::npos, text);
  BOOST_TEST(text.find("hide app/.env.production ") != std::string::npos, text);
  BOOST_TEST(text.find("hide .git/config ") != std::string::npos, text);
  BOOST_TEST(text.find("main.c") == std::string::npos, text);
  // "scan": false on node_modules: not looked into.
  BOOST_TEST(text.find("node_modules") == std::string::npos, text);
  BOOST_TEST(tree.problems.empty());
  // A tier that may see secrets scans nothing at all.
  view.walks = 0;
  auto secret_tier = tier_with(DataClass::secret);
  auto none = assess_data_access(secret_tier, inventory_of(kInventory), workspace.str(), view);
  BOOST_TEST(tree_at(none, "/workspace").actions.empty());
  BOOST_TEST(view.walks == 0);
}

BOOST_AUTO_TEST_CASE(unix_sockets_and_named_pipes_in_a_scanned_tree_are_masked) {
  // A host service's socket in the workspace (a database's, an agent's) would
  // take the task's connections, a pipe a host process holds would carry
  // data either way; the task's own come later and are not in the host's tree.
  TempDir workspace;
  workspace.write("src/main.c", "int main;");
  fs::create_directories(workspace.path() / "run");
  std::vector<int> sockets;
  for (const char* name : {"run/db.sock", "agent.sock"}) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    BOOST_REQUIRE(fd >= 0);
    struct sockaddr_un address {};
    address.sun_family = AF_UNIX;
    const auto path = (workspace.path() / name).string();
    BOOST_REQUIRE(path.size() < sizeof address.sun_path);
    std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
    BOOST_REQUIRE(::bind(fd, reinterpret_cast<struct sockaddr*>(&address), sizeof address) == 0);
    sockets.push_back(fd);
  }
  BOOST_REQUIRE(::mkfifo((workspace.path() / "run/pipe").c_str(), 0600) == 0);
  TestView view;
  auto assessment = assess_data_access(tier_with(DataClass::internal), inventory_of(kInventory), workspace.str(), view);
  const auto& tree = tree_at(assessment, "/workspace");
  const auto text = actions_text(tree);
  BOOST_TEST(text.find("hide agent.sock ") != std::string::npos, text);
  BOOST_TEST(text.find("hide run/pipe ") != std::string::npos, text);
  BOOST_TEST(text.find("hide run/db.sock ") != std::string::npos, text);
  BOOST_TEST(text.find("main.c") == std::string::npos, text);
  for (const auto& action : tree.actions)
    if (action.relative.back() == "agent.sock")
      BOOST_TEST(action.reason == "a unix socket or named pipe of a process outside the sandbox");
  for (int fd : sockets) ::close(fd);
}

BOOST_AUTO_TEST_CASE(a_secret_symlink_in_the_tree_is_masked_itself_and_never_followed) {
  TempDir workspace, outside;
  outside.write("target/.env", "outside");
  fs::create_symlink(outside.path() / "target/.env", workspace.path() / ".env");
  fs::create_directory_symlink(outside.path() / "target", workspace.path() / "linked");
  TestView view;
  auto assessment = assess_data_access(tier_with(DataClass::internal), inventory_of(kInventory), workspace.str(), view);
  const auto text = actions_text(tree_at(assessment, "/workspace"));
  BOOST_TEST(text == "hide .env ", text);  // the link, as a file; nothing below "linked"
}

BOOST_AUTO_TEST_CASE(the_scan_limit_refuses_rather_than_guessing) {
  TempDir workspace;
  for (int i = 0; i < 20; ++i) workspace.write("f" + std::to_string(i), "");
  auto inventory = inventory_of(R"({"scan_limit": 10, "paths": [{"path": "**/.env", "class": "secret"}]})");
  TestView view;
  auto assessment = assess_data_access(tier_with(DataClass::internal), inventory, workspace.str(), view);
  const auto& tree = tree_at(assessment, "/workspace");
  BOOST_REQUIRE(tree.problems.size() == 1u);
  BOOST_TEST(tree.problems[0].find("scan_limit") != std::string::npos, tree.problems[0]);
}

// A caller's bind source is pinned before the checks: the path they see
// is the one opened (no link left in it), and its identity goes to the
// mount, which refuses another tree (a link swapped between the checks and
// the mount: stages/prepared_mounts.cpp, tests/unit/test_mounts.cpp).
BOOST_AUTO_TEST_CASE(bind_sources_are_pinned_before_the_checks) {
  TempDir host;
  host.write("shared/allowed/file", "x");
  fs::create_symlink(host.path() / "shared" / "allowed", host.path() / "shared" / "link");
  TaskRequest request;
  request.binds = {{host.str() + "/shared/link", "/x", false},
                   {host.str() + "/missing", "/y", false},
                   {"/already", "/z", false, FileIdentity{1, 2}}};
  pin_bind_sources(request);
  struct stat st {};
  BOOST_REQUIRE(::stat((host.path() / "shared" / "allowed").c_str(), &st) == 0);
  BOOST_TEST(request.binds[0].source == fs::canonical(host.path() / "shared" / "allowed").string());
  BOOST_REQUIRE(request.binds[0].opened.has_value());
  BOOST_TEST(request.binds[0].opened->inode == st.st_ino);
  BOOST_TEST(request.binds[0].opened->device == st.st_dev);
  // Not there: left for the checks and the mount to name.
  BOOST_TEST(request.binds[1].source == host.str() + "/missing");
  BOOST_TEST(!request.binds[1].opened.has_value());
  // The daemon's client opened it already: untouched.
  BOOST_TEST(request.binds[2].source == "/already");
  BOOST_TEST(request.binds[2].opened->inode == 2u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(protected_path_resolution)

BOOST_AUTO_TEST_CASE(existing_paths_become_read_only_and_missing_ones_get_placeholders) {
  TempDir workspace;
  workspace.write(".git/hooks/pre-commit.sample", "#!/bin/sh");
  workspace.write(".git/HEAD", "ref");
  TestView view;
  auto profile = tier_with(DataClass::secret);  // no data-class masks in the way
  profile.workspace.writable = true;
  profile.data_access.protected_paths = {protect(".git/hooks/"), protect(".git/config"), protect(".tierbox/"),
                                         protect(".env"), protect("deep/er/file")};
  auto assessment = assess_data_access(profile, inventory_of(kInventory), workspace.str(), view);
  const auto& tree = tree_at(assessment, "/workspace");
  BOOST_TEST(tree.problems.empty());
  const auto text = actions_text(tree);
  BOOST_TEST(text.find("ro .git/hooks/ ") != std::string::npos, text);
  BOOST_TEST(text.find("placeholder .git/config ") != std::string::npos, text);  // missing: a file
  BOOST_TEST(text.find("placeholder .tierbox/ ") != std::string::npos, text);   // trailing /: a directory
  BOOST_TEST(text.find("placeholder .env ") != std::string::npos, text);
  // Only the first missing component, as a directory.
  BOOST_TEST(text.find("placeholder deep/ ") != std::string::npos, text);
  BOOST_TEST(text.find("deep/er") == std::string::npos, text);
}

BOOST_AUTO_TEST_CASE(a_missing_file_gets_its_placeholder_content_and_a_missing_parent_none) {
  auto profile = tier_with(DataClass::secret);
  profile.workspace.writable = true;
  auto commondir = protect(".git/commondir");
  commondir.placeholder = ".\n";
  profile.data_access.protected_paths = {commondir};
  TestView view;
  TempDir repository;
  repository.write(".git/HEAD", "ref");
  const auto in_repository = assess_data_access(profile, inventory_of(kInventory), repository.str(), view);
  const auto& file = tree_at(in_repository, "/workspace").actions;
  BOOST_REQUIRE(file.size() == 1u);
  BOOST_TEST((file[0].kind == TreeEntryAction::Kind::placeholder));
  BOOST_TEST(file[0].content == ".\n");
  // Not a repository: the placeholder is the directory .git, empty.
  TempDir plain;
  const auto in_plain = assess_data_access(profile, inventory_of(kInventory), plain.str(), view);
  const auto& directory = tree_at(in_plain, "/workspace").actions;
  BOOST_REQUIRE(directory.size() == 1u);
  BOOST_TEST((directory[0].type == EntryType::directory));
  BOOST_TEST(directory[0].content.empty());
}

BOOST_AUTO_TEST_CASE(read_only_trees_need_no_protection) {
  TempDir workspace;
  TestView view;
  auto profile = tier_with(DataClass::secret);
  profile.workspace.writable = false;
  profile.data_access.protected_paths = {protect(".git/hooks/")};
  auto assessment = assess_data_access(profile, inventory_of(kInventory), workspace.str(), view);
  BOOST_TEST(tree_at(assessment, "/workspace").actions.empty());
}

BOOST_AUTO_TEST_CASE(a_symlink_on_a_protected_path_refuses) {
  TempDir workspace, elsewhere;
  fs::create_directories(elsewhere.path() / "git/hooks");
  fs::create_directory_symlink(elsewhere.path() / "git", workspace.path() / ".git");
  TestView view;
  auto profile = tier_with(DataClass::secret);
  profile.workspace.writable = true;
  profile.data_access.protected_paths = {protect(".git/hooks/")};
  auto assessment = assess_data_access(profile, inventory_of(kInventory), workspace.str(), view);
  const auto& tree = tree_at(assessment, "/workspace");
  BOOST_REQUIRE(tree.problems.size() == 1u);
  BOOST_TEST(tree.problems[0].find("/workspace/.git is a symlink") != std::string::npos, tree.problems[0]);
}

BOOST_AUTO_TEST_CASE(a_file_where_a_directory_would_be_is_kept_read_only) {
  TempDir workspace;
  workspace.write(".git", "gitdir: /elsewhere/.git/worktrees/x");  // a worktree's .git file
  TestView view;
  auto profile = tier_with(DataClass::secret);
  profile.workspace.writable = true;
  profile.data_access.protected_paths = {protect(".git/hooks/")};
  auto assessment = assess_data_access(profile, inventory_of(kInventory), workspace.str(), view);
  BOOST_TEST(actions_text(tree_at(assessment, "/workspace")) == "ro .git ");
}

BOOST_AUTO_TEST_CASE(glob_entries_protect_what_matches_at_launch_and_hidden_wins) {
  TempDir workspace;
  workspace.write(".env", "a");
  workspace.write(".env.local", "b");
  workspace.write("sub/.env", "not at the root");
  workspace.write("cfg/app.key", "k");
  TestView view;
  auto profile = tier_with(DataClass::secret);
  profile.workspace.writable = true;
  profile.data_access.protected_paths = {protect(".env*"), protect(".env", ProtectionMode::hidden), protect("**/*.key")};
  auto assessment = assess_data_access(profile, inventory_of(kInventory), workspace.str(), view);
  const auto text = actions_text(tree_at(assessment, "/workspace"));
  BOOST_TEST(text == "hide .env ro .env.local ro cfg/app.key ", text);
}

BOOST_AUTO_TEST_CASE(another_runs_placeholder_going_away_is_never_taken_for_a_real_entry) {
  // Another run removes its placeholder while this one inspects the path. An
  // entry seen by fstatat but gone before its mark is read was once taken
  // for the owner's real .tierbox: planned as existing, held by no run, and
  // missing when the sandbox mounted over it (a launch failed closed).
  TempDir dir;
  const auto placeholder = dir.path() / ".tierbox";
  const auto temporary = dir.path() / ".tierbox-placeholder.test";
  std::atomic<bool> stop{false};
  std::thread churn([&] {
    // As stages/placeholders.cpp makes one: marked under a temporary name,
    // renamed into place, later removed.
    while (!stop) {
      if (::mkdir(temporary.c_str(), 0755) != 0) continue;
      if (::setxattr(temporary.c_str(), "trusted.tierbox.placeholder", "1", 1, 0) != 0 ||
          ::rename(temporary.c_str(), placeholder.c_str()) != 0) {
        ::rmdir(temporary.c_str());
        continue;
      }
      ::rmdir(placeholder.c_str());
    }
  });
  const LinuxHostView view;
  int seen_marked = 0, taken_for_real = 0;
  for (int i = 0; i < 20000; ++i) {
    const auto state = view.inspect_beneath(dir.str(), {".tierbox"});
    if (state.placeholder) ++seen_marked;
    if (state.found == 1) ++taken_for_real;
  }
  stop = true;
  churn.join();
  BOOST_TEST_MESSAGE(seen_marked << " of 20000 inspections met the placeholder");
  BOOST_TEST(taken_for_real == 0);
}

BOOST_AUTO_TEST_CASE(writable_binds_are_protected_like_the_workspace) {
  TempDir data;
  data.write("repo/.git/HEAD", "x");
  TestView view;
  auto profile = tier_with(DataClass::secret);
  add_bind(profile, data.str(), "/data", true);
  profile.data_access.protected_paths = {protect(".tierbox/")};
  auto assessment = assess_data_access(profile, inventory_of(kInventory), std::nullopt, view);
  BOOST_TEST(actions_text(tree_at(assessment, "/data")) == "placeholder .tierbox/ ");
}

BOOST_AUTO_TEST_SUITE_END()
