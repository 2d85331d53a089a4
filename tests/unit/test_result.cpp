// The result file of `tierbox run --result`: every kind of run produces an
// object that conforms to docs/result.schema.json, each field says what
// happened, and every field of the schema is documented in docs/result.md.
#include <signal.h>
#include <sys/resource.h>

#include <boost/test/unit_test.hpp>

#include <fstream>
#include <sstream>

#include "launch/result.h"
#include "policy/landlock_rules.h"
#include "unit/json_schema_check.h"

using namespace tierbox;
using namespace tierbox::launch;
using nlohmann::json;

namespace {

const std::string kDocs = std::string(TIERBOX_SOURCE_DIR) + "/docs/";

json schema() {
  std::ifstream in(kDocs + "result.schema.json");
  return json::parse(in);
}

void expect_conforms(const json& result) {
  const auto errors = testing::check_against_schema(result, schema());
  std::string all;
  for (const auto& error : errors) all += error + "; ";
  BOOST_TEST(errors.empty(), result.dump() << " -> " << all);
}

ResultContext context_of(int exit_status) {
  ResultContext context;
  context.run_id = "5ad47a37ca9309b8";
  context.tier = "untrusted";
  context.argv = {"python3", "skill.py"};
  context.rlimits = {{RLIMIT_NOFILE, 256, 256}, {RLIMIT_CORE, 0, 0}, {RLIMIT_STACK, ~0ULL, ~0ULL}};
  context.exit_status = exit_status;
  return context;
}

Outcome finished_outcome() {
  Outcome outcome;
  outcome.run_id = "5ad47a37ca9309b8";
  outcome.exec_succeeded = true;
  outcome.started_at = std::chrono::system_clock::time_point(std::chrono::milliseconds(1'795'000'000'123));
  outcome.ended_at = outcome.started_at + std::chrono::milliseconds(1500);
  outcome.wall = std::chrono::milliseconds(1500);
  outcome.usage.cpu_user_us = 742'900;
  outcome.usage.cpu_system_us = 12'000;
  outcome.usage.cpu_throttled_us = 0;
  outcome.usage.memory_peak_bytes = 48'234'496;
  outcome.usage.pids_peak = 7;
  outcome.cgroup.controllers = {{"memory", stages::CgroupVersion::v1}, {"pids", stages::CgroupVersion::v1},
                                {"cpu", stages::CgroupVersion::v1}, {"freezer", stages::CgroupVersion::v1}};
  outcome.cgroup.enforced = {{"memory", 512ULL << 20}, {"memory_swap", 0}, {"pids", 128}, {"cpu", 500}};
  outcome.cgroup.kill = "freezer";
  outcome.cgroup.mode = "v1";
  outcome.cgroup.paths = {"/sys/fs/cgroup/pids/tierbox-5ad47a37ca9309b8"};
  return outcome;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(run_result)

BOOST_AUTO_TEST_CASE(a_task_that_exited_reports_code_usage_and_limits) {
  auto outcome = finished_outcome();
  outcome.exit_code = 3;
  const auto result = make_result(context_of(3), outcome);
  expect_conforms(result);
  BOOST_TEST(result["result_version"] == 1);
  BOOST_TEST(result["run_id"] == "5ad47a37ca9309b8");
  BOOST_TEST(result["tier"] == "untrusted");
  BOOST_TEST(result["argv"] == json({"python3", "skill.py"}));
  BOOST_TEST(result["exit_code"] == 3);
  BOOST_TEST(result["signal"].is_null());
  BOOST_TEST(result["timed_out"] == false);
  BOOST_TEST(result["oom_killed"] == false);
  BOOST_TEST(result["wall_ms"] == 1500);
  BOOST_TEST(result["cpu_user_ms"] == 742);
  BOOST_TEST(result["cpu_system_ms"] == 12);
  BOOST_TEST(result["mem_peak_bytes"] == 48234496);
  BOOST_TEST(result["pids_peak"] == 7);
  BOOST_TEST(result["started_at"] == "2026-11-18T11:06:40.123Z");
  BOOST_TEST(result["ended_at"] == "2026-11-18T11:06:41.623Z");
  BOOST_TEST(result["exit_status"] == 3);
  BOOST_TEST(result["error"].is_null());
  BOOST_TEST(result["cgroup"]["mode"] == "v1");
  BOOST_TEST(result["cgroup"]["controllers"]["memory"] == "v1");
  BOOST_TEST(result["cgroup"]["enforced"]["cpu"] == 0.5);  // cores, as the tier writes it
  BOOST_TEST(result["cgroup"]["enforced"]["memory"] == 536870912);
  BOOST_TEST(result["cgroup"]["kill"] == "freezer");
  BOOST_TEST(result["rlimits"]["nofile"] == json({{"soft", 256}, {"hard", 256}}));
  BOOST_TEST(result["rlimits"]["stack"]["hard"] == "unlimited");
  BOOST_TEST(result["workspace_warnings"] == json::array());
  BOOST_TEST(result["landlock"].is_null());  // this outcome never had a plan
}

BOOST_AUTO_TEST_CASE(what_landlock_could_not_enforce_is_in_the_result) {
  auto outcome = finished_outcome();
  outcome.exit_code = 0;
  // Debian 12's 6.1 (ABI 2) under the default tier's {"minimum_abi": 1}.
  outcome.landlock = policy::landlock_report(
      policy::make_landlock_plan({policy::LandlockMode::required, 1}, 2, {{"/", policy::LandlockPathInput::Use::read}},
                                 std::nullopt, "untrusted"));
  const auto result = make_result(context_of(0), outcome);
  expect_conforms(result);
  BOOST_TEST(result["landlock"]["mode"] == "required");
  BOOST_TEST(result["landlock"]["minimum_abi"] == 1);
  BOOST_TEST(result["landlock"]["abi"] == 2);
  BOOST_TEST(result["landlock"]["not_enforced"].size() == 3u);
}

BOOST_AUTO_TEST_CASE(a_repository_registered_as_a_submodule_is_in_the_result) {
  auto outcome = finished_outcome();
  outcome.exit_code = 0;
  const std::string text = "vendor/x: a git repository of its own (vendor/x/.git), registered as a submodule";
  outcome.workspace_warnings = {{launch::WorkspaceWarning::Kind::nested_repository, text}};
  const auto result = make_result(context_of(0), outcome);
  expect_conforms(result);
  BOOST_TEST(result["workspace_warnings"] == json({text}));
}

BOOST_AUTO_TEST_CASE(a_task_killed_by_the_oom_killer_has_no_exit_code) {
  auto outcome = finished_outcome();
  outcome.signal = SIGKILL;
  outcome.usage.oom_killed = true;
  const auto result = make_result(context_of(137), outcome);
  expect_conforms(result);
  BOOST_TEST(result["exit_code"].is_null());
  BOOST_TEST(result["signal"] == 9);
  BOOST_TEST(result["oom_killed"] == true);
  BOOST_TEST(result["exit_status"] == 137);
}

BOOST_AUTO_TEST_CASE(a_timeout_says_so_with_the_error_tierbox_printed) {
  auto outcome = finished_outcome();
  outcome.signal = SIGKILL;
  outcome.timed_out = true;
  outcome.usage.pids_limit_hit = true;
  auto context = context_of(124);
  context.error = "the task exceeded its wall-clock limit of 1s and was killed";
  const auto result = make_result(context, outcome);
  expect_conforms(result);
  BOOST_TEST(result["timed_out"] == true);
  BOOST_TEST(result["pids_limit_hit"] == true);
  BOOST_TEST(result["exit_status"] == 124);
  BOOST_TEST(result["error"] == context.error);
}

BOOST_AUTO_TEST_CASE(a_launch_refused_before_the_sandbox_started_still_has_a_result) {
  ResultContext context;
  context.run_id = "5ad47a37ca9309b8";
  context.argv = {"make"};
  context.exit_status = 126;
  context.error = "cgroup: refused: tier 'untrusted' limits.memory: this host cannot enforce it (...)";
  const auto result = make_result(context, Outcome{});
  expect_conforms(result);
  BOOST_TEST(result["tier"].is_null());
  BOOST_TEST(result["exit_code"].is_null());
  BOOST_TEST(result["started_at"].is_null());
  BOOST_TEST(result["wall_ms"] == 0);
  BOOST_TEST(result["cpu_user_ms"].is_null());
  BOOST_TEST(result["mem_peak_bytes"].is_null());
  BOOST_TEST(result["cgroup"]["mode"] == "none");
  BOOST_TEST(result["exit_status"] == 126);
}

BOOST_AUTO_TEST_CASE(the_checker_rejects_what_the_schema_forbids) {
  // Control: the schema check is able to fail.
  auto result = make_result(context_of(0), finished_outcome());
  result["exit_code"] = "zero";
  BOOST_TEST(!testing::check_against_schema(result, schema()).empty());
  result = make_result(context_of(0), finished_outcome());
  result["surprise"] = 1;
  BOOST_TEST(!testing::check_against_schema(result, schema()).empty());
  result = make_result(context_of(0), finished_outcome());
  result.erase("wall_ms");
  BOOST_TEST(!testing::check_against_schema(result, schema()).empty());
  result = make_result(context_of(0), finished_outcome());
  result["cgroup"]["mode"] = "v3";
  BOOST_TEST(!testing::check_against_schema(result, schema()).empty());
  result = make_result(context_of(0), finished_outcome());
  result["started_at"] = "yesterday";
  BOOST_TEST(!testing::check_against_schema(result, schema()).empty());
}

BOOST_AUTO_TEST_CASE(every_field_of_the_schema_is_documented) {
  std::ifstream in(kDocs + "result.md");
  std::stringstream text;
  text << in.rdbuf();
  const auto doc = text.str();
  const auto s = schema();
  for (const auto& [name, unused] : s["properties"].items())
    BOOST_TEST(doc.find("`" + name + "`") != std::string::npos, name << " is not documented in docs/result.md");
  for (const auto& [name, unused] : s["properties"]["cgroup"]["properties"].items())
    BOOST_TEST(doc.find("`cgroup." + name + "`") != std::string::npos, "cgroup." << name << " is not documented");
  for (const auto& [name, unused] : s["properties"]["landlock"]["properties"].items())
    BOOST_TEST(doc.find("`landlock." + name + "`") != std::string::npos, "landlock." << name << " is not documented");
}

BOOST_AUTO_TEST_SUITE_END()
