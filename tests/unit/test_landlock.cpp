// Landlock rules from a plan, per kernel ABI: what is handled, which path gets
// which rights, what is reported as not enforced, and when "required" refuses.
#include <boost/test/unit_test.hpp>

#include <algorithm>

#include "common/errors.h"
#include "common/temp_dir.h"
#include "policy/landlock_rules.h"
#include "policy/planner.h"
#include "policy/profile_loader.h"
#include "profile_text.h"

using namespace tierbox;
using namespace tierbox::policy;
using namespace tierbox::testing;
using namespace tierbox::policy::landlock;
using Use = LandlockPathInput::Use;

namespace {

const LandlockSetting kOff{LandlockMode::off, 0};
const LandlockSetting kBestEffort{LandlockMode::best_effort, 0};
const LandlockSetting kRequired{LandlockMode::required, kLandlockFullAbi};  // "required"

std::vector<LandlockPathInput> sample_paths() {
  return {{"/", Use::read}, {"/usr", Use::read_execute}, {"/tmp", Use::write}, {"/proc", Use::proc},
          {"/dev/null", Use::device}, {"/etc/localtime", Use::read_execute, true}};
}

const LandlockPathRule& rule_of(const LandlockPlan& plan, const std::string& path) {
  auto it = std::find_if(plan.paths.begin(), plan.paths.end(), [&](const auto& rule) { return rule.path == path; });
  BOOST_REQUIRE_MESSAGE(it != plan.paths.end(), "no rule for " << path);
  return *it;
}

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& error) {
    BOOST_TEST(error.exit_status() == 125);
    return error.what();
  }
  return "";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(landlock_rules)

BOOST_AUTO_TEST_CASE(filesystem_rights_grow_with_the_abi) {
  BOOST_TEST(filesystem_rights(0) == 0u);
  BOOST_TEST(filesystem_rights(1) == 0x1fffu);
  BOOST_TEST(filesystem_rights(2) == 0x3fffu);
  BOOST_TEST(filesystem_rights(3) == 0x7fffu);
  BOOST_TEST(filesystem_rights(4) == 0x7fffu);
  BOOST_TEST(filesystem_rights(5) == 0xffffu);
  BOOST_TEST(filesystem_rights(6) == 0xffffu);
}

BOOST_AUTO_TEST_CASE(a_full_abi_restricts_everything_and_reports_nothing_missing) {
  const auto plan = make_landlock_plan(kRequired, 6, sample_paths(), std::nullopt, "t");
  BOOST_TEST(plan.abi == 6);
  BOOST_TEST(plan.handled_fs == 0xffffu);
  BOOST_TEST(plan.handled_net == 0u);  // no port policy: network mode none
  BOOST_TEST(plan.scoped == (kScopeAbstractUnixSocket | kScopeSignal));
  BOOST_TEST(plan.not_enforced.empty());
  BOOST_TEST(rule_of(plan, "/").access == (kReadFile | kReadDir));
  BOOST_TEST(rule_of(plan, "/usr").access == (kReadFile | kReadDir | kExecute));
  BOOST_TEST(rule_of(plan, "/tmp").access == 0xffffu);
  BOOST_TEST(rule_of(plan, "/proc").access == (kReadFile | kReadDir | kWriteFile | kTruncate));
  BOOST_TEST(rule_of(plan, "/dev/null").access == (kReadFile | kWriteFile | kTruncate | kIoctlDev));
  BOOST_TEST(rule_of(plan, "/etc/localtime").optional);
  BOOST_TEST(!rule_of(plan, "/usr").optional);
  // Nothing but /tmp may be written.
  for (const auto& rule : plan.paths)
    if (rule.path != "/tmp") BOOST_TEST((rule.access & (kMakeReg | kMakeDir | kRemoveFile | kRemoveDir)) == 0u, rule.path);
}

BOOST_AUTO_TEST_CASE(a_newer_kernel_gets_the_rules_tierbox_knows) {
  const auto plan = make_landlock_plan(kRequired, 9, sample_paths(), std::nullopt, "t");
  BOOST_TEST(plan.abi == 9);
  BOOST_TEST(plan.handled_fs == filesystem_rights(6));
  BOOST_TEST(plan.not_enforced.empty());
}

BOOST_AUTO_TEST_CASE(best_effort_on_an_older_kernel_applies_what_it_can_and_names_the_rest) {
  const auto plan = make_landlock_plan(kBestEffort, 3, sample_paths(), std::nullopt, "t");
  BOOST_TEST(plan.abi == 3);
  BOOST_TEST(plan.handled_fs == 0x7fffu);
  BOOST_TEST(plan.scoped == 0u);
  BOOST_TEST(rule_of(plan, "/dev/null").access == (kReadFile | kWriteFile | kTruncate));  // no IOCTL_DEV on ABI 3
  BOOST_REQUIRE_EQUAL(plan.not_enforced.size(), 2u);
  BOOST_TEST(plan.not_enforced[0].find("ioctl") != std::string::npos);
  BOOST_TEST(plan.not_enforced[1].find("scoping") != std::string::npos);
  const auto oldest = make_landlock_plan(kBestEffort, 1, sample_paths(), std::nullopt, "t");
  BOOST_TEST(oldest.handled_fs == 0x1fffu);
  BOOST_TEST(oldest.not_enforced.front().find("truncate") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(best_effort_without_landlock_runs_unconfined_with_a_warning) {
  const auto plan = make_landlock_plan(kBestEffort, 0, sample_paths(), std::nullopt, "t");
  BOOST_TEST(plan.abi == 0);
  BOOST_TEST(plan.paths.empty());
  BOOST_REQUIRE_EQUAL(plan.not_enforced.size(), 1u);
  BOOST_TEST(plan.not_enforced[0].find("Landlock itself") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(required_refuses_a_kernel_that_lacks_a_restriction) {
  auto none = error_of([] { make_landlock_plan(kRequired, 0, sample_paths(), std::nullopt, "untrusted"); });
  BOOST_TEST(none.find("tier 'untrusted' requires Landlock") != std::string::npos, none);
  BOOST_TEST(none.find("has no Landlock") != std::string::npos, none);
  BOOST_TEST(none.find("\"landlock\": \"best_effort\"") != std::string::npos, none);
  auto old = error_of([] { make_landlock_plan(kRequired, 5, sample_paths(), std::nullopt, "untrusted"); });
  BOOST_TEST(old.find("ABI 5") != std::string::npos, old);
  BOOST_TEST(old.find("scoping") != std::string::npos, old);
}

BOOST_AUTO_TEST_CASE(off_applies_nothing_and_warns_about_nothing) {
  const auto plan = make_landlock_plan(kOff, 7, sample_paths(), std::nullopt, "t");
  BOOST_TEST(plan.abi == 0);
  BOOST_TEST(plan.paths.empty());
  BOOST_TEST(plan.not_enforced.empty());
}

BOOST_AUTO_TEST_CASE(tcp_ports_need_abi_4) {
  const LandlockTcpPorts ports{{8080}, {443, 8080}};
  const auto plan = make_landlock_plan(kBestEffort, 4, sample_paths(), ports, "t");
  BOOST_TEST(plan.handled_net == (kBindTcp | kConnectTcp));
  BOOST_REQUIRE_EQUAL(plan.ports.size(), 2u);
  BOOST_TEST(plan.ports[0].port == 8080);
  BOOST_TEST(plan.ports[0].access == (kBindTcp | kConnectTcp));
  BOOST_TEST(plan.ports[1].port == 443);
  BOOST_TEST(plan.ports[1].access == kConnectTcp);
  const auto old = make_landlock_plan(kBestEffort, 3, sample_paths(), ports, "t");
  BOOST_TEST(old.handled_net == 0u);
  BOOST_TEST(old.ports.empty());
  BOOST_TEST(std::any_of(old.not_enforced.begin(), old.not_enforced.end(),
                         [](const auto& item) { return item.find("TCP") != std::string::npos; }));
}

BOOST_AUTO_TEST_CASE(the_plan_gives_each_mount_its_rights) {
  HostFacts facts;
  facts.landlock_abi = 7;
  facts.workspace = WorkspaceFacts{"/home/dev/repo", true, 1234, 1234};
  TaskRequest request;
  request.argv = {"x"};
  const auto untrusted = make_plan(load_tier("untrusted", {kShipped}), request, facts, "r").landlock;
  // Debian 12's 6.1 has ABI 2, Ubuntu 22.04's 5.15 ABI 1: the default tier runs there (docs/threat-model.md).
  BOOST_TEST((untrusted.setting == LandlockSetting{LandlockMode::required, 1}));
  BOOST_TEST(rule_of(untrusted, "/workspace").access == (kReadFile | kReadDir | kExecute));
  BOOST_TEST(rule_of(untrusted, "/tmp").access == filesystem_rights(6));
  BOOST_TEST(rule_of(untrusted, "/usr").access == (kReadFile | kReadDir | kExecute));
  BOOST_TEST(rule_of(untrusted, "/etc/ld.so.cache").optional);
  BOOST_TEST(rule_of(untrusted, "/dev").access == (kReadFile | kReadDir | kWriteFile | kTruncate | kIoctlDev));
  BOOST_TEST(rule_of(untrusted, "/dev/shm").access == filesystem_rights(6));
  for (const auto& rule : untrusted.paths) BOOST_TEST(rule.path != "/bin", "a symlink got a rule");
  const auto writable = make_plan(load_tier("workspace-write", {kShipped}), request, facts, "r").landlock;
  BOOST_TEST((writable.setting.mode == LandlockMode::best_effort));
  BOOST_TEST(rule_of(writable, "/workspace").access == filesystem_rights(6));
}

BOOST_AUTO_TEST_CASE(the_setting_is_checked_when_the_profile_is_loaded) {
  tierbox::testing::TempDir dir;
  auto file = dir.write("tiers/t.json", R"({"extends": "base", "landlock": "strict"})");
  try {
    load_profile_file(file, {dir.path(), kShipped});
    BOOST_ERROR("no error");
  } catch (const ConfigError& error) {
    BOOST_TEST(std::string(error.what()).find("t.json: /landlock: expected \"required\", \"best_effort\", \"off\" or") !=
                   std::string::npos,
               error.what());
  }
  auto off = dir.write("tiers/o.json", R"({"extends": "untrusted", "landlock": "off"})");
  BOOST_TEST((load_profile_file(off, {dir.path(), kShipped}).landlock.mode == LandlockMode::off));
  auto required = dir.write("tiers/r.json", R"({"extends": "untrusted", "landlock": "required"})");
  BOOST_TEST((load_profile_file(required, {dir.path(), kShipped}).landlock == kRequired));
}

BOOST_AUTO_TEST_CASE(the_object_form_names_a_minimum_abi) {
  tierbox::testing::TempDir dir;
  auto two = dir.write("tiers/two.json", R"({"extends": "base", "landlock": {"minimum_abi": 2}})");
  const auto setting = load_profile_file(two, {dir.path(), kShipped}).landlock;
  BOOST_TEST((setting == LandlockSetting{LandlockMode::required, 2}));
  BOOST_TEST(to_string(setting) == "{\"minimum_abi\": 2}");
  BOOST_TEST(to_string(kRequired) == "required");
  // Each bad object is one line naming the file, the field and the fix.
  const std::pair<const char*, const char*> bad[] = {
      {R"({"minimum_abi": 0})", "/landlock/minimum_abi: expected the lowest Landlock ABI the tier accepts, 1 to 6"},
      {R"({"minimum_abi": 7})", "/landlock/minimum_abi: expected at most 6"},
      {R"({"minimum_abi": "2"})", "/landlock/minimum_abi: expected a non-negative integer"},
      {R"({})", "/landlock/minimum_abi: expected the lowest Landlock ABI"},
      {R"({"minimum_abi": 2, "maximum_abi": 6})", "/landlock/maximum_abi: unknown key"},
      {R"(2)", "/landlock: expected \"required\""},
  };
  for (const auto& [value, expected] : bad) {
    auto file = dir.write("tiers/bad.json", std::string(R"({"extends": "base", "landlock": )") + value + "}");
    try {
      load_profile_file(file, {dir.path(), kShipped});
      BOOST_ERROR("no error for " << value);
    } catch (const ConfigError& error) {
      BOOST_TEST(std::string(error.what()).find(expected) != std::string::npos, error.what());
      BOOST_TEST(std::string(error.what()).find('\n') == std::string::npos, error.what());
    }
  }
}

BOOST_AUTO_TEST_CASE(a_minimum_abi_refuses_below_it_and_runs_above_it_naming_what_is_missing) {
  const LandlockSetting minimum_two{LandlockMode::required, 2};
  // Debian 12's 6.1 (ABI 2): runs, with every ABI 2 right, and names the rest.
  const auto debian12 = make_landlock_plan(minimum_two, 2, sample_paths(), std::nullopt, "t");
  BOOST_TEST(debian12.abi == 2);
  BOOST_TEST(debian12.handled_fs == filesystem_rights(2));
  BOOST_TEST(debian12.scoped == 0u);
  BOOST_REQUIRE_EQUAL(debian12.not_enforced.size(), 3u);
  BOOST_TEST(debian12.not_enforced[0].find("truncate") != std::string::npos);
  // A newer kernel gets everything: the minimum is a floor, not a ceiling.
  const auto newest = make_landlock_plan(minimum_two, 6, sample_paths(), std::nullopt, "t");
  BOOST_TEST(newest.handled_fs == filesystem_rights(6));
  BOOST_TEST(newest.scoped == (kScopeAbstractUnixSocket | kScopeSignal));
  BOOST_TEST(newest.not_enforced.empty());
  // Below the floor: refused with one line that names the setting, the kernel and the fix.
  auto old = error_of([&] { make_landlock_plan(minimum_two, 1, sample_paths(), std::nullopt, "custom"); });
  BOOST_TEST(old.find("tier 'custom' requires Landlock ABI 2 (\"landlock\": {\"minimum_abi\": 2})") != std::string::npos, old);
  BOOST_TEST(old.find("has Landlock ABI 1") != std::string::npos, old);
  BOOST_TEST(old.find("set \"landlock\": {\"minimum_abi\": 1} or \"landlock\": \"best_effort\" in the tier") !=
                 std::string::npos,
             old);
  BOOST_TEST(old.find('\n') == std::string::npos, old);
  auto none = error_of([&] { make_landlock_plan(minimum_two, 0, sample_paths(), std::nullopt, "custom"); });
  BOOST_TEST(none.find("has no Landlock") != std::string::npos, none);
}

BOOST_AUTO_TEST_CASE(the_report_says_what_was_applied_and_what_was_not) {
  const auto report = landlock_report(make_landlock_plan({LandlockMode::required, 1}, 2, sample_paths(), std::nullopt, "t"));
  BOOST_TEST(report["mode"] == "required");
  BOOST_TEST(report["minimum_abi"] == 1);
  BOOST_TEST(report["abi"] == 2);
  BOOST_TEST(report["not_enforced"].size() == 3u);
  const auto off = landlock_report(make_landlock_plan(kOff, 6, sample_paths(), std::nullopt, "t"));
  BOOST_TEST(off["abi"] == 0);
  BOOST_TEST(off["not_enforced"].empty());
}

BOOST_AUTO_TEST_SUITE_END()
