// run_task() with a fake launcher: the whole sequence of policy, approval and
// audit, without root and without a sandbox. What is checked is what the
// entry points and `audit verify` rely on: the records, their order, the
// chain, and the exit status.
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <fstream>

#include "audit/run_trail.h"
#include "audit/verify.h"
#include "common/errors.h"
#include "common/request_as_self.h"
#include "common/temp_dir.h"
#include "service/run_task.h"

using namespace tierbox;
using nlohmann::json;

namespace {

// Stands in for the sandbox: writes the start record through the hooks like
// the real launcher, then ends as told.
class FakeLauncher final : public service::Launcher {
 public:
  int calls = 0;
  int exit_code = 0;
  std::optional<Error> failure;        // thrown after the start record (a setup failure)
  std::function<void()> while_running;  // between the start record and the end
  std::optional<audit::RunTrail> trail;  // what the hooks said to keep for gc

  launch::Outcome launch(const policy::LaunchPlan& plan, const policy::RunnerConfig&,
                         const launch::LaunchHooks& hooks) override {
    ++calls;
    trail = hooks.audit_trail;
    launch::Outcome outcome;
    outcome.run_id = plan.run_id;
    outcome.pid = 4242;
    hooks.before_start(outcome.pid, {});
    if (hooks.start_durable) hooks.start_durable();
    if (while_running) while_running();
    if (failure) throw *failure;
    outcome.exec_succeeded = true;
    outcome.exit_code = exit_code;
    hooks.after_end(outcome);
    return outcome;
  }
};

struct Fixture {
  testing::TempDir dir{"tierbox-test-run-task"};
  std::filesystem::path log = dir.path() / "audit.jsonl";
  service::TaskInput input;
  service::RunSettings settings;
  FakeLauncher launcher;

  explicit Fixture(const std::string& matrix_tiers = R"(["*"])") {
    dir.write("config/approvals.json", R"({"tiers": )" + matrix_tiers + R"(, "rules": []})");
    settings.config_dirs = {dir.path() / "config", TIERBOX_SHIPPED_PROFILES};
    settings.audit_log = log.string();
    input.tier = "untrusted";
    input.argv = {"/bin/true"};
    input.make_request = [this] { return tierbox::testing::request_as_self(input.tier, input.argv); };
  }

  [[nodiscard]] std::vector<std::string> events() const {
    std::vector<std::string> seen;
    std::ifstream in(log);
    for (std::string line; std::getline(in, line);) seen.push_back(json::parse(line).value("event", ""));
    return seen;
  }

  [[nodiscard]] bool chain_verifies() const {
    std::ifstream in(log);
    return audit::verify_log(in, [](const json&) { return std::string(); }).ok();
  }
};

const std::vector<std::string> kWholeRun = {"request", "decision", "start", "end"};

}  // namespace

BOOST_AUTO_TEST_SUITE(run_task)

BOOST_AUTO_TEST_CASE(a_task_that_ran_returns_its_own_code_and_its_trail_is_whole_and_chained) {
  Fixture fixture;
  fixture.launcher.exit_code = 3;
  const auto result = service::run_task(fixture.input, fixture.settings, fixture.launcher);
  BOOST_TEST(fixture.launcher.calls == 1);
  BOOST_TEST(result.exit_status() == 3);
  BOOST_TEST(!result.runner_error);
  BOOST_TEST(result.context.tier == "untrusted");
  BOOST_TEST(fixture.events() == kWholeRun);
  BOOST_TEST(fixture.chain_verifies());
  // gc closes the trail of a run whose runner died from what the launcher kept.
  BOOST_REQUIRE(fixture.launcher.trail.has_value());
  BOOST_TEST(fixture.launcher.trail->log == fixture.log);
  BOOST_TEST(fixture.launcher.trail->context.run_id == result.context.run_id);
  BOOST_TEST(fixture.launcher.trail->context.tier == "untrusted");
}

BOOST_AUTO_TEST_CASE(the_configured_default_tier_is_used_when_none_is_asked_for) {
  Fixture fixture;
  fixture.dir.write("config/tierbox.json", R"({"default_tier": "readonly"})");
  fixture.input.tier.clear();
  const auto result = service::run_task(fixture.input, fixture.settings, fixture.launcher);
  BOOST_TEST(result.exit_status() == 0, result.context.error);
  BOOST_TEST(result.context.tier == "readonly");
}

BOOST_AUTO_TEST_CASE(a_tier_the_matrix_does_not_know_is_refused_126_recorded_and_never_launched) {
  Fixture fixture(R"(["some-other-tier"])");
  const auto result = service::run_task(fixture.input, fixture.settings, fixture.launcher);
  BOOST_TEST(fixture.launcher.calls == 0);
  BOOST_TEST(result.exit_status() == exit_code::refused);
  BOOST_TEST(result.runner_error);
  BOOST_TEST(result.context.error.find("not in the approval matrix") != std::string::npos, result.context.error);
  BOOST_TEST(fixture.events() == std::vector<std::string>{"profile_refused"});
  BOOST_TEST(fixture.chain_verifies());
}

BOOST_AUTO_TEST_CASE(a_request_that_cannot_be_built_is_refused_125_and_recorded) {
  Fixture fixture;
  fixture.input.make_request = []() -> policy::TaskRequest {
    throw Error("--memory lots: expected a size such as 512M or 2G", exit_code::runner_failed);
  };
  const auto result = service::run_task(fixture.input, fixture.settings, fixture.launcher);
  BOOST_TEST(fixture.launcher.calls == 0);
  BOOST_TEST(result.exit_status() == exit_code::runner_failed);
  BOOST_TEST(fixture.events() == std::vector<std::string>{"profile_refused"});
}

BOOST_AUTO_TEST_CASE(a_launch_that_fails_after_the_start_is_125_and_its_end_says_why) {
  Fixture fixture;
  fixture.launcher.failure = Error("clone3(CLONE_NEWUSER): EPERM", exit_code::runner_failed);
  const auto result = service::run_task(fixture.input, fixture.settings, fixture.launcher);
  BOOST_TEST(result.exit_status() == exit_code::runner_failed);
  BOOST_TEST(result.runner_error);
  BOOST_TEST(fixture.events() == kWholeRun);
  BOOST_TEST(fixture.chain_verifies());
  std::ifstream in(fixture.log);
  std::string line;
  for (std::string next; std::getline(in, next);) line = next;
  BOOST_TEST(line.find("clone3(CLONE_NEWUSER): EPERM") != std::string::npos, line);
}

BOOST_AUTO_TEST_CASE(a_success_whose_end_cannot_be_recorded_exits_125_and_says_so) {
  Fixture fixture;
  const auto moved = fixture.dir.path() / "audit.moved";
  // The log becomes a directory while the task runs: the end record cannot
  // be appended (EISDIR), after the start record was.
  fixture.launcher.while_running = [&] {
    std::filesystem::rename(fixture.log, moved);
    std::filesystem::create_directory(fixture.log);
  };
  const auto result = service::run_task(fixture.input, fixture.settings, fixture.launcher);
  BOOST_TEST(result.exit_status() == exit_code::runner_failed);
  BOOST_TEST(!result.runner_error);  // the task ran
  BOOST_TEST(result.context.error.find("the end of the run could not be recorded") != std::string::npos,
             result.context.error);
  std::filesystem::remove(fixture.log);
  std::filesystem::rename(moved, fixture.log);
  BOOST_TEST(fixture.events() == (std::vector<std::string>{"request", "decision", "start"}));
  BOOST_TEST(fixture.chain_verifies());
}

BOOST_AUTO_TEST_CASE(control_the_same_run_with_a_writable_log_exits_0) {
  Fixture fixture;
  const auto result = service::run_task(fixture.input, fixture.settings, fixture.launcher);
  BOOST_TEST(result.exit_status() == 0, result.context.error);
  BOOST_TEST(result.context.error.empty(), result.context.error);
}

BOOST_AUTO_TEST_CASE(a_dry_run_returns_the_plan_and_records_nothing) {
  Fixture fixture;
  fixture.settings.dry_run = true;
  const auto result = service::run_task(fixture.input, fixture.settings, fixture.launcher);
  BOOST_TEST(fixture.launcher.calls == 0);
  BOOST_REQUIRE(result.dry_run.has_value());
  BOOST_TEST(result.dry_run->plan.tier == "untrusted");
  BOOST_TEST(!std::filesystem::exists(fixture.log));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(run_trail)

BOOST_AUTO_TEST_CASE(the_trail_kept_for_gc_reads_back_as_written) {
  audit::RunTrail trail{"/var/log/tierbox/audit.jsonl", "local0", {}};
  trail.context = {"abc123", {1000, "alice", "bob"}, "host1", "untrusted", {"/bin/true", "x"}, "/home/alice"};
  const auto read = audit::run_trail_from_json(audit::to_json(trail), {"abc123", {}, "other", "other", {}, ""});
  BOOST_TEST(read.log == trail.log);
  BOOST_TEST(read.syslog == "local0");
  BOOST_TEST(read.context.user.uid == 1000u);
  BOOST_TEST(read.context.user.name == "alice");
  BOOST_TEST(read.context.user.sudo_user == "bob");
  BOOST_TEST(read.context.host == "host1");
  BOOST_TEST(read.context.tier == "untrusted");
  BOOST_TEST(read.context.argv == trail.context.argv);
  BOOST_TEST(read.context.cwd == "/home/alice");
}

BOOST_AUTO_TEST_CASE(fields_a_kept_trail_lacks_come_from_the_registry_record_and_the_run_id_always_does) {
  const json saved = {{"log", "/l"}, {"context", {{"run_id", "forged"}}}};
  const auto read = audit::run_trail_from_json(saved, {"abc123", {}, "host2", "readonly", {"/bin/ls"}, ""});
  BOOST_TEST(read.log == "/l");
  BOOST_TEST(read.syslog.empty());
  BOOST_TEST(read.context.run_id == "abc123");
  BOOST_TEST(read.context.host == "host2");
  BOOST_TEST(read.context.tier == "readonly");
  BOOST_TEST(read.context.argv == std::vector<std::string>{"/bin/ls"});
}

BOOST_AUTO_TEST_CASE(the_daemon_s_requester_names_every_record_and_its_stop_reason_the_end) {
  Fixture fixture;
  fixture.input.requester = service::TaskInput::Requester{audit::Identity{61234, "someone", ""}, "/home/someone"};
  pid_t started = -1;
  fixture.input.on_start = [&](pid_t pid) { started = pid; };
  fixture.input.stop_reason = [] { return std::string("stopped: the client disconnected"); };
  fixture.input.relay_signals = false;
  const auto result = service::run_task(fixture.input, fixture.settings, fixture.launcher);
  BOOST_TEST(started == 4242);
  BOOST_TEST(result.context.error.find("stopped: the client disconnected") == 0U, result.context.error);
  std::ifstream in(fixture.log);
  int records = 0;
  for (std::string line; std::getline(in, line); ++records) {
    const auto record = json::parse(line);
    BOOST_TEST(record["user"]["uid"].get<uid_t>() == 61234U);
    BOOST_TEST(record["cwd"].get<std::string>() == "/home/someone");
    if (record["event"] == "end") BOOST_TEST(record["error"].get<std::string>().find("stopped: the client disconnected") == 0U);
  }
  BOOST_TEST(records >= 4);
  BOOST_TEST(fixture.chain_verifies());
}

BOOST_AUTO_TEST_CASE(an_entry_point_that_stops_the_launch_at_the_start_gets_125_and_an_end_record) {
  Fixture fixture;
  fixture.input.on_start = [](pid_t) { throw Error("stopped: the client disconnected", exit_code::runner_failed); };
  const auto result = service::run_task(fixture.input, fixture.settings, fixture.launcher);
  BOOST_TEST(result.runner_error);
  BOOST_TEST(result.exit_status() == exit_code::runner_failed);
  BOOST_TEST(fixture.events().back() == "end");
  BOOST_TEST(fixture.chain_verifies());
}

BOOST_AUTO_TEST_SUITE_END()
