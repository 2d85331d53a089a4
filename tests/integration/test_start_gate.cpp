// The task starts only once its start record is on disk (sync #2b,
// docs/governance.md "When a record is durable"): the start record's fsync
// runs while the sandbox does its last steps, and the child waits at #2b
// before its seccomp filters and the task's execve. Here the launch hooks'
// start_durable (the audit trail's wait for that fsync) is held or made to
// fail, on the cold path and on a prepared sandbox: held, the task has not
// run; failed, it never runs and the run ends 125 with an end record; the
// control, released, runs it. Real sandboxes, in this process; root only.
#include <fcntl.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include <fstream>
#include <sstream>

#include "audit/audit_log.h"
#include "common/errors.h"
#include "common/request_as_self.h"
#include "common/temp_dir.h"
#include "common/unique_fd.h"
#include "policy/runner_config.h"
#include "service/pooled_launcher.h"
#include "service/run_task.h"

using tierbox::UniqueFd;
using tierbox::testing::TempDir;
namespace service = tierbox::service;
namespace policy = tierbox::policy;
namespace launch = tierbox::launch;

namespace {

std::string read_text(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The task's stdout goes to a file of the test; at_gate runs after the
// start record is on disk (the real start_durable) and before #2b.
class GateLauncher final : public service::Launcher {
 public:
  GateLauncher(service::Launcher& inner, std::filesystem::path out, std::function<void()> at_gate)
      : inner_(inner), out_(std::move(out)), at_gate_(std::move(at_gate)) {}
  launch::Outcome launch(const policy::LaunchPlan& plan, const policy::RunnerConfig& config,
                         const launch::LaunchHooks& hooks) override {
    UniqueFd out(::open(out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    UniqueFd null(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    BOOST_REQUIRE(out && null);
    auto gated = hooks;
    gated.stdio = {null.get(), out.get(), out.get()};
    gated.start_durable = [&] {
      if (hooks.start_durable) hooks.start_durable();
      at_gate_();
    };
    return inner_.launch(plan, config, gated);
  }

 private:
  service::Launcher& inner_;
  std::filesystem::path out_;
  std::function<void()> at_gate_;
};

struct GateFixture {
  TempDir dir{"tierbox-test-start-gate"};
  std::vector<std::filesystem::path> config_dirs;
  std::filesystem::path out;
  std::filesystem::path log;

  GateFixture() {
    dir.write("config/approvals.json", R"({"tiers": ["*"], "rules": []})");
    dir.write("config/tierbox.json", R"({"state_dir": ")" + dir.str() + R"(/state"})");
    config_dirs = {dir.path() / "config", std::filesystem::path(TIERBOX_SOURCE_DIR) / "profiles"};
    out = dir.path() / "stdout";
    log = dir.path() / "audit.jsonl";
  }

  service::TaskResult run(service::Launcher& launcher, const std::function<void()>& at_gate) {
    service::TaskInput input;
    input.tier = "untrusted";
    input.argv = {"/bin/sh", "-c", "echo ran"};
    input.make_request = [&] { return tierbox::testing::request_as_self(input.tier, input.argv); };
    service::RunSettings settings;
    settings.config_dirs = config_dirs;
    settings.audit_log = log.string();
    GateLauncher gated(launcher, out, at_gate);
    return service::run_task(input, settings, gated);
  }

  std::vector<std::string> events() const {
    std::vector<std::string> names;
    std::ifstream in(log);
    for (std::string line; std::getline(in, line);) names.push_back(nlohmann::json::parse(line)["event"].get<std::string>());
    return names;
  }
};

bool is_root() {
  if (::geteuid() == 0) return true;
  BOOST_TEST_MESSAGE("skipped: real sandboxes need root");
  return false;
}

// Held for 300 ms at the gate: nothing of the task has run by then (were
// the task not waiting for #2b, `echo` would have written long before);
// the control: released, it runs.
void held_gate_delays_the_task(service::Launcher& launcher) {
  GateFixture fixture;
  std::string at_gate = "(not reached)";
  auto result = fixture.run(launcher, [&] {
    ::usleep(300 * 1000);
    at_gate = read_text(fixture.out);
  });
  BOOST_TEST(result.exit_status() == 0, result.context.error);
  BOOST_TEST(at_gate == "", "the task ran before the start record was on disk");
  BOOST_TEST(read_text(fixture.out) == "ran\n");  // control: the released task ran
}

// The start record's fsync fails (a stand-in: start_durable throws as it
// would): the task never runs, the run fails 125, and its end record says why.
void failed_gate_never_starts_the_task(service::Launcher& launcher) {
  GateFixture fixture;
  auto result = fixture.run(launcher, [] {
    throw tierbox::Error("audit log: fsync(\"test\"): Input/output error (stand-in)", tierbox::exit_code::runner_failed);
  });
  BOOST_TEST(result.exit_status() == 125);
  BOOST_TEST(result.runner_error);
  BOOST_TEST(result.context.error.find("Input/output error (stand-in)") != std::string::npos, result.context.error);
  ::usleep(100 * 1000);  // a task that had started anyway would have written by now
  BOOST_TEST(read_text(fixture.out) == "", "the task ran although its start record never became durable");
  const auto events = fixture.events();
  BOOST_TEST(events == (std::vector<std::string>{"request", "decision", "start", "end"}), boost::test_tools::per_element());
}

}  // namespace

BOOST_AUTO_TEST_SUITE(start_gate)

BOOST_AUTO_TEST_CASE(cold_a_held_start_record_delays_the_task) {
  if (!is_root()) return;
  service::SandboxLauncher launcher;
  held_gate_delays_the_task(launcher);
}

BOOST_AUTO_TEST_CASE(cold_a_start_record_that_never_becomes_durable_never_starts_the_task) {
  if (!is_root()) return;
  service::SandboxLauncher launcher;
  failed_gate_never_starts_the_task(launcher);
}

BOOST_AUTO_TEST_CASE(prepared_a_held_start_record_delays_the_task) {
  if (!is_root()) return;
  service::PreparedLaunchPath launcher;
  held_gate_delays_the_task(launcher);
}

BOOST_AUTO_TEST_CASE(prepared_a_start_record_that_never_becomes_durable_never_starts_the_task) {
  if (!is_root()) return;
  service::PreparedLaunchPath launcher;
  failed_gate_never_starts_the_task(launcher);
}

BOOST_AUTO_TEST_SUITE_END()
