// Staged workspaces, the pure parts and the change scan on a hand-made upper
// layer (docs/staged-writes.md). The real overlay is in
// tests/integration/test_staged.cpp.
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "common/temp_dir.h"
#include "policy/approval_matrix.h"
#include "policy/planner.h"
#include "policy/review/review.h"
#include "profile_text.h"
#include "service/output_relay.h"
#include "staged/access.h"
#include "staged/apply.h"
#include "staged/changes.h"
#include "staged/renames.h"
#include "stages/staged_overlay.h"

using namespace tierbox;
using namespace tierbox::staged;
using namespace tierbox::testing;
using nlohmann::json;

namespace {

const Change* find_change(const ChangeSet& set, const std::string& path) {
  for (const auto& change : set.changes)
    if (change.path == path) return &change;
  return nullptr;
}

StagedRun sample_run() {
  StagedRun run;
  run.run_id = "0123456789abcdef";
  run.tier = "workspace-staged";
  run.workspace = "/w";
  run.started_at = "2026-12-07T00:00:00.000Z";
  run.baseline_ns = 1000;
  run.requester_uid = 1001;
  return run;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(staged_pure)

BOOST_AUTO_TEST_CASE(symlinks_that_leave_the_workspace_are_told_apart) {
  BOOST_TEST(link_stays_inside("a", "b"));
  BOOST_TEST(link_stays_inside("d/a", "../b"));
  BOOST_TEST(link_stays_inside("d/e/a", "../../x/./y"));
  BOOST_TEST(!link_stays_inside("a", "/etc/shadow"));
  BOOST_TEST(!link_stays_inside("a", "../b"));
  BOOST_TEST(!link_stays_inside("d/a", "../../b"));
  BOOST_TEST(!link_stays_inside("d/a", "x/../../../b"));
  BOOST_TEST(!link_stays_inside("a", ""));
}

BOOST_AUTO_TEST_CASE(renames_are_read_from_identical_deleted_and_added_subtrees) {
  const auto file = [](const std::string& sha) {
    EntryState state;
    state.type = EntryType::file;
    state.mode = 0644;
    state.sha256 = sha;
    return state;
  };
  EntryState dir;
  dir.type = EntryType::directory;
  dir.mode = 0755;
  const auto deleted = [](const std::string& path, EntryState state) {
    return Change{path, ChangeKind::deleted, std::move(state), {}, "", false};
  };
  const auto added = [](const std::string& path, EntryState state) {
    return Change{path, ChangeKind::added, {}, std::move(state), "", false};
  };
  // Sorted by path, as collect_changes returns them.
  const std::vector<Change> changes = {added("b.txt", file("same")),  added("c.txt", file("twin")),
                                       added("d.txt", file("twin")),  deleted("lib", dir),
                                       deleted("lib/a", file("A")),   deleted("old.txt", file("same")),
                                       deleted("t.txt", file("twin")), added("src", dir),
                                       added("src/a", file("A"))};
  const auto renames = find_renames(changes);
  BOOST_REQUIRE(renames.size() == 2u);
  BOOST_TEST(renames[0].from == "old.txt");
  BOOST_TEST(renames[0].to == "b.txt");
  BOOST_TEST(renames[1].from == "lib");
  BOOST_TEST(renames[1].to == "src");
  BOOST_TEST(renames[1].entries.size() == 4u);
  BOOST_TEST(rename_line(renames[1]) == "R  lib/ -> src/ (1 entries below, unchanged)");
  // t.txt has two twins: ambiguous, no rename. A changed file below: none.
  auto changed = changes;
  changed.back().after.sha256 = "B";
  BOOST_TEST(find_renames(changed).size() == 1u);
}

BOOST_AUTO_TEST_CASE(path_filters_select_a_path_and_what_is_below) {
  BOOST_TEST(path_selected("a/b", {}));
  BOOST_TEST(path_selected("a/b", {"a"}));
  BOOST_TEST(path_selected("a/b", {"a/"}));
  BOOST_TEST(path_selected("a", {"a"}));
  BOOST_TEST(!path_selected("ab", {"a"}));
  BOOST_TEST(!path_selected("b/a", {"a"}));
}

BOOST_AUTO_TEST_CASE(the_digest_binds_every_field_that_lands) {
  Change change;
  change.path = "a";
  change.kind = ChangeKind::modified;
  change.before = {EntryType::file, 0644, 1, "aa", "", 5, ""};
  change.after = {EntryType::file, 0644, 1, "bb", "", 0, ""};
  const auto digest = change_set_digest({change});
  BOOST_TEST(digest.size() == 64u);
  BOOST_TEST(change_set_digest({change}) == digest);
  auto other = change;
  other.after.sha256 = "cc";
  BOOST_TEST(change_set_digest({other}) != digest);
  other = change;
  other.after.mode = 0755;
  BOOST_TEST(change_set_digest({other}) != digest);
  other = change;
  other.path = "b";
  BOOST_TEST(change_set_digest({other}) != digest);
  // The ctime (when the real file last changed) is not what lands.
  other = change;
  other.before.ctime_ns = 99;
  BOOST_TEST(change_set_digest({other}) == digest);
  BOOST_TEST(change_set_digest({}) != digest);
}

BOOST_AUTO_TEST_CASE(a_real_file_changed_since_the_start_is_a_conflict) {
  const auto run = sample_run();
  ChangeSet set;
  Change old_file{"old", ChangeKind::modified, {EntryType::file, 0644, 1, "a", "", 999, ""}, {}, "", false};
  Change touched{"touched", ChangeKind::deleted, {EntryType::file, 0644, 1, "a", "", 1000, ""}, {}, "", false};
  Change added{"new", ChangeKind::added, {}, {EntryType::file, 0644, 1, "a", "", 0, ""}, "", false};
  set.changes = {added, old_file, touched};
  const auto conflicts = find_conflicts(set, run);
  BOOST_REQUIRE(conflicts.size() == 1u);
  BOOST_TEST(conflicts[0].find("touched: changed in the workspace since the run started") == 0u);
}

BOOST_AUTO_TEST_CASE(setuid_setgid_and_sticky_on_files_never_land) {
  BOOST_TEST(landed_mode({EntryType::file, 04755}) == 0755u);
  BOOST_TEST(landed_mode({EntryType::file, 02755}) == 0755u);
  BOOST_TEST(landed_mode({EntryType::file, 01644}) == 0644u);
  BOOST_TEST(landed_mode({EntryType::directory, 03777}) == 01777u);
}

BOOST_AUTO_TEST_CASE(who_may_see_and_apply) {
  const auto run = [] {
    auto r = sample_run();
    r.sudo_uid = 1002;
    return r;
  }();
  BOOST_TEST(decide_staged_access({0, false}, StagedAction::apply, run, "approvers").allowed);
  BOOST_TEST(decide_staged_access({1001, false}, StagedAction::see, run, "approvers").reason == "requester");
  BOOST_TEST(decide_staged_access({1002, false}, StagedAction::discard, run, "approvers").allowed);
  BOOST_TEST(decide_staged_access({1003, true}, StagedAction::apply, run, "approvers").reason == "approver");
  const auto denied = decide_staged_access({1003, false}, StagedAction::see, run, "approvers");
  BOOST_TEST(!denied.allowed);
  BOOST_TEST(denied.reason.find("uid 1003 may not see the changes of run 0123456789abcdef") == 0u);
  BOOST_TEST(denied.reason.find("group 'approvers'") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(overlay_options_refuse_paths_the_parser_splits) {
  const auto parameters = stages::overlay_parameters({"/s/l", "/s/u", "/s/w"});
  BOOST_TEST(parameters.size() == 6u);
  BOOST_TEST(parameters[3].first == "redirect_dir");
  BOOST_TEST(parameters[3].second == "off");
  BOOST_TEST(parameters[4].first == "metacopy");
  BOOST_CHECK_THROW(stages::overlay_parameters({"/s,x/l", "/s/u", "/s/w"}), Error);
  BOOST_CHECK_THROW(stages::overlay_parameters({"/s/l", "/s:x/u", "/s/w"}), Error);
}

BOOST_AUTO_TEST_CASE(output_limit_passes_exactly_the_limit) {
  BOOST_TEST(service::bytes_to_pass(0, 10, 100) == 10u);
  BOOST_TEST(service::bytes_to_pass(95, 10, 100) == 5u);
  BOOST_TEST(service::bytes_to_pass(100, 10, 100) == 0u);
  BOOST_TEST(service::cut_note(1024).find("tierbox: output cut") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(staged_matrix)

policy::ApprovalMatrix matrix_with(const json& rules) {
  return policy::parse_approval_matrix(
      json{{"tiers", {"*"}}, {"approvers", "ops"}, {"rules", rules}}, "approvals.json");
}

BOOST_AUTO_TEST_CASE(apply_rules_match_applies_only) {
  const auto matrix = matrix_with(json::array(
      {{{"id", "all"}, {"require", "none"}},
       {{"id", "deletes"}, {"when", {{"apply", {{"deletes", true}}}}}, {"require", "approver"}},
       {{"id", "big"}, {"when", {{"apply", {{"files_above", 2u}}}}}, {"require", "confirm"}},
       {{"id", "ci"}, {"when", {{"tiers", {"ws-*"}}, {"apply", {{"paths", {".github/*"}}}}}}, {"require", "two_person"}}}));
  policy::ApplyFacts facts;
  facts.tier = "ws-a";
  facts.files = 1;
  facts.paths = {"src/a.c"};
  BOOST_TEST((policy::evaluate_apply_matrix(matrix, facts).require == policy::Requirement::none));
  facts.deleted = {"old.c"};
  auto decision = policy::evaluate_apply_matrix(matrix, facts);
  BOOST_TEST((decision.require == policy::Requirement::approver));
  BOOST_TEST(decision.describe().find("rule 'deletes'") == 0u);
  BOOST_TEST(decision.describe().find("old.c") != std::string::npos);
  facts.deleted.clear();
  facts.files = 3;
  BOOST_TEST((policy::evaluate_apply_matrix(matrix, facts).require == policy::Requirement::confirm));
  facts.paths = {".github/workflows/ci.yml"};
  BOOST_TEST((policy::evaluate_apply_matrix(matrix, facts).require == policy::Requirement::two_person));
  facts.tier = "other";
  BOOST_TEST((policy::evaluate_apply_matrix(matrix, facts).require == policy::Requirement::confirm));
}

BOOST_AUTO_TEST_CASE(launch_conditions_beside_apply_are_an_error) {
  try {
    matrix_with(json::array({{{"id", "x"}, {"when", {{"memory_above", "1G"}, {"apply", {{"deletes", true}}}}}, {"require", "none"}}}));
    BOOST_ERROR("no error");
  } catch (const ConfigError& error) {
    BOOST_TEST(std::string(error.what()).find("approvals.json: /rules/0/when/apply: an apply rule takes only") == 0u);
  }
}

BOOST_AUTO_TEST_CASE(shipped_matrix_requires_an_approver_for_deleting_applies) {
  const auto matrix = policy::load_approval_matrix({kShipped});
  policy::ApplyFacts facts;
  facts.tier = "workspace-staged";
  facts.files = 1;
  facts.paths = {"a"};
  BOOST_TEST((policy::evaluate_apply_matrix(matrix, facts).require == policy::Requirement::none));
  facts.deleted = {"a"};
  const auto decision = policy::evaluate_apply_matrix(matrix, facts);
  BOOST_TEST((decision.require == policy::Requirement::approver));
  BOOST_TEST(decision.deciding->rule->id == "staged-apply-deletes");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(staged_profile)

BOOST_AUTO_TEST_CASE(staged_needs_writable) {
  expect_error(R"({"extends": "base", "workspace": {"staged": true}})",
               {"/workspace/staged: true needs \"writable\": true", "fix: add \"writable\": true"});
}

BOOST_AUTO_TEST_CASE(a_disk_limit_the_host_cannot_enforce_is_refused_unless_optional) {
  expect_error(R"({"extends": "base", "workspace": {"writable": true}, "limits": {"disk": "1G"}})",
               {"/limits/disk: cannot be enforced on the read-write workspace", "\"required\": false"});
  TempDir dir;
  const auto optional = load_text(dir, R"({"extends": "base", "workspace": {"writable": true}, "limits": {"disk": {"value": "1G", "required": false}}})");
  BOOST_TEST(!optional.limits.disk.required);
  const auto staged = load_text(dir, R"({"extends": "base", "workspace": {"writable": true, "staged": true}, "limits": {"disk": "1G", "output": "64K"}})");
  BOOST_TEST(staged.workspace.staged);
  BOOST_TEST(*staged.limits.disk.value == (1ULL << 30));
  BOOST_TEST(*staged.limits.output_bytes == (64ULL << 10));
  expect_error(R"({"extends": "base", "limits": {"disk": "10K"}})", {"/limits/disk", "at least 1M"});
}

BOOST_AUTO_TEST_CASE(unstaging_widens_and_staging_narrows_in_a_diff) {
  const auto staged = policy::load_tier("workspace-staged", {kShipped});
  const auto direct = policy::load_tier("workspace-write", {kShipped});
  const auto text = [](const policy::Changes& changes, const std::string& field) {
    std::string out;
    for (const auto& change : changes)
      if (change.field == field) out += std::string(policy::to_string(change.effect)) + ":" + change.text + ";";
    return out;
  };
  BOOST_TEST(text(policy::compare_profiles(staged, direct), "workspace.staged") ==
             "widens:staged for review -> writes land in the workspace;");
  BOOST_TEST(text(policy::compare_profiles(direct, staged), "workspace.staged") ==
             "narrows:writes land in the workspace -> staged for review;");
  BOOST_TEST(text(policy::compare_profiles(direct, staged), "limits.disk").find("narrows:") == 0u);
  // A tier that makes workspace final may stage it, not unstage it.
  TempDir dir;
  dir.write("tiers/parent.json", R"({"extends": "workspace-staged", "final": ["workspace"]})");
  try {
    load_text(dir, R"({"extends": "parent", "workspace": {"staged": false}, "limits": {"disk": null}})", "child");
    BOOST_ERROR("unstaging a final workspace loaded");
  } catch (const ConfigError& error) {
    BOOST_TEST(std::string(error.what()).find("workspace.staged") != std::string::npos, error.what());
  }
  BOOST_TEST(load_text(dir, R"({"extends": "parent", "workspace": {"writable": false, "staged": false}})", "narrower")
                 .workspace.writable == false);
}

BOOST_AUTO_TEST_CASE(the_record_keeps_the_layers_placeholders) {
  StagedRun run;
  run.run_id = "0123456789abcdef";
  run.placeholders = {{".env", false, "# protected\n"}, {".git/hooks", true, ""}};
  const auto back = staged_run_from_json(to_json(run), "run.json");
  BOOST_REQUIRE(back.placeholders.size() == 2u);
  BOOST_TEST(back.placeholders[0].path == ".env");
  BOOST_TEST(!back.placeholders[0].directory);
  BOOST_TEST(back.placeholders[0].content == "# protected\n");
  BOOST_TEST(back.placeholders[1].directory);
  BOOST_TEST(back.state == "running");  // the one state a launch writes
  // Records without the field (older versions) read as none.
  auto old = to_json(run);
  old.erase("placeholders");
  BOOST_TEST(staged_run_from_json(old, "run.json").placeholders.empty());
}

BOOST_AUTO_TEST_CASE(shipped_staged_tier_plans_a_staged_workspace) {
  const auto profile = policy::load_tier("workspace-staged", {kShipped});
  BOOST_TEST(profile.workspace.staged);
  BOOST_TEST(profile.workspace.writable);
  BOOST_TEST(*profile.limits.disk.value == (2ULL << 30));
}

BOOST_AUTO_TEST_SUITE_END()

// The scan, on an upper layer made by hand as overlayfs would leave it:
// whiteouts (character devices 0/0) and an opaque directory need root
// (mknod, trusted.* xattrs); without it the case is skipped, saying so.
BOOST_AUTO_TEST_SUITE(staged_scan)

BOOST_AUTO_TEST_CASE(upper_layer_read_against_the_workspace) {
  TempDir lower("tierbox-test-staged-lower");
  TempDir upper("tierbox-test-staged-upper");
  lower.write("same.txt", "same\n");
  lower.write("edit.txt", "one\n");
  lower.write("gone.txt", "bye\n");
  lower.write("mode.sh", "echo\n");
  lower.write("tree/a", "a\n");
  lower.write("tree/b/c", "c\n");
  lower.write("opaque/old", "o\n");
  upper.write("same.txt", "same\n");  // copied up, unchanged: not a change
  upper.write("edit.txt", "two\n");
  upper.write("mode.sh", "echo\n");
  ::chmod((upper.path() / "mode.sh").c_str(), 04755);
  upper.write("new/file.bin", std::string("\0\1\2", 3));
  upper.write("opaque/fresh", "f\n");
  if (::mknod((upper.path() / "gone.txt").c_str(), S_IFCHR | 0, makedev(0, 0)) != 0 ||
      ::mknod((upper.path() / "tree").c_str(), S_IFCHR | 0, makedev(0, 0)) != 0 ||
      ::setxattr((upper.path() / "opaque").c_str(), "trusted.overlay.opaque", "y", 1, 0) != 0) {
    BOOST_TEST_MESSAGE("skipped: cannot make whiteouts or opaque directories here (needs root): " << std::strerror(errno));
    return;
  }
  ::mkfifo((upper.path() / "pipe").c_str(), 0644);
  ::symlink("/etc/shadow", (upper.path() / "escape").c_str());
  ::symlink("same.txt", (upper.path() / "inside").c_str());

  const auto set = collect_changes(upper.str(), lower.str());
  std::vector<std::string> lines;
  for (const auto& change : set.changes) lines.push_back(change_line(change));
  const std::vector<std::string> expected = {
      "M  edit.txt",
      "!  escape (a symlink pointing outside the workspace never lands)",
      "D  gone.txt",
      "A  inside -> same.txt",
      "m  mode.sh (mode 0644 -> 4755) (setuid/setgid: lands without the bits)",
      "A  new/",
      "A  new/file.bin (3 bytes, sha256 ae4b3280e56e2faf...)",
      "A  opaque/fresh",
      "D  opaque/old",
      "!  pipe (a FIFO never lands in the workspace)",
      "D  tree/",
      "D  tree/a",
      "D  tree/b/",
      "D  tree/b/c",
  };
  BOOST_TEST(lines == expected, boost::test_tools::per_element());
  BOOST_TEST(!find_change(set, "same.txt"));
  BOOST_TEST(set.count(ChangeKind::deleted) == 6u);
  BOOST_TEST(set.count(ChangeKind::refused) == 2u);
  const auto as_json = to_json(set);
  BOOST_TEST(as_json["digest"] == set.digest);
  BOOST_TEST(as_json["summary"]["added"] == 4);
  BOOST_TEST(as_json["changes"][0]["before"]["sha256"] == find_change(set, "edit.txt")->before.sha256);
  // Filters: only what is at or below the paths given.
  const auto only_tree = collect_changes(upper.str(), lower.str(), {"tree"});
  BOOST_TEST(only_tree.changes.size() == 4u);
  BOOST_TEST(only_tree.digest != set.digest);
}

BOOST_AUTO_TEST_SUITE_END()
