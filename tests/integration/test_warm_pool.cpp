// The warm path (service/pooled_launcher.h): sandboxes prepared ahead of
// their requests, taken by launches through run_task() in this process, the
// way the daemon does. Real sandboxes; root only.
//
// The isolation properties themselves run on this path too: the
// integration.prepared_* ctest variants of the sandbox, limits, seccomp,
// Landlock and network suites (tests/CMakeLists.txt).
#include <fcntl.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include <fstream>
#include <sstream>

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

// The task's stdout goes to a file of the test (LaunchHooks::stdio, as the
// daemon passes a caller's fds), read back after each run.
class CapturingLauncher final : public service::Launcher {
 public:
  CapturingLauncher(service::Launcher& inner, const std::filesystem::path& file) : inner_(inner), file_(file) {}
  launch::Outcome launch(const policy::LaunchPlan& plan, const policy::RunnerConfig& config,
                         const launch::LaunchHooks& hooks) override {
    UniqueFd out(::open(file_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    UniqueFd null(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    BOOST_REQUIRE(out && null);
    auto with_stdio = hooks;
    with_stdio.stdio = {null.get(), out.get(), out.get()};
    return inner_.launch(plan, config, with_stdio);
  }

 private:
  service::Launcher& inner_;
  std::filesystem::path file_;
};

struct WarmFixture {
  TempDir dir{"tierbox-test-warm"};
  std::vector<std::filesystem::path> config_dirs;
  std::filesystem::path output;

  WarmFixture() {
    dir.write("config/approvals.json", R"({"tiers": ["*"], "rules": []})");
    dir.write("config/tierbox.json", R"({"state_dir": ")" + dir.str() + R"(/state", "warm_pool": {"size": 1}})");
    config_dirs = {dir.path() / "config", std::filesystem::path(TIERBOX_SOURCE_DIR) / "profiles"};
    output = dir.path() / "stdout";
  }

  [[nodiscard]] policy::RunnerConfig config() const { return policy::load_runner_config(config_dirs); }

  struct Run {
    service::TaskResult result;
    std::string out;
  };

  Run run(service::Launcher& pool, const std::string& tier, const std::string& script) {
    service::TaskInput input;
    input.tier = tier;
    input.argv = {"/bin/sh", "-c", script};
    input.make_request = [&] { return tierbox::testing::request_as_self(tier, input.argv); };
    service::RunSettings settings;
    settings.config_dirs = config_dirs;
    settings.audit_log = (dir.path() / "audit.jsonl").string();
    CapturingLauncher capturing(pool, output);
    Run run{service::run_task(input, settings, capturing), ""};
    std::ifstream in(output);
    std::stringstream text;
    text << in.rdbuf();
    run.out = text.str();
    BOOST_TEST_MESSAGE("run: " << script << "\n  exit " << run.result.exit_status() << " " << run.result.context.error
                               << "\n  out: " << run.out);
    return run;
  }
};

bool is_root() {
  if (::geteuid() == 0) return true;
  BOOST_TEST_MESSAGE("skipped: the warm path launches real sandboxes, which needs root");
  return false;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(warm_pool)

BOOST_AUTO_TEST_CASE(consecutive_runs_from_one_pool_see_nothing_of_each_other) {
  if (!is_root()) return;
  WarmFixture fixture;
  service::PooledLauncher pool(fixture.config());
  // The first launch of the tier is cold and sets what the pool prepares.
  auto first = fixture.run(pool, "untrusted", "true");
  BOOST_REQUIRE_EQUAL(first.result.exit_status(), 0);
  BOOST_REQUIRE(pool.wait_until_full(std::chrono::seconds(30)));
  BOOST_REQUIRE_EQUAL(pool.counts().ready, 1U);

  // Run A: a file in /tmp, 20 processes left behind, and (the control) its
  // own view of both.
  auto a = fixture.run(pool, "untrusted",
                       "echo from-a > /tmp/mark; for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do "
                       "sleep 300 & done; cat /tmp/mark; echo procs $(ls /proc | grep -c '^[0-9]')");
  BOOST_REQUIRE_EQUAL(a.result.exit_status(), 0);
  BOOST_TEST(a.out.find("from-a") != std::string::npos);
  BOOST_TEST(a.out.find("procs 2") != std::string::npos);  // 20-odd: init, sh, 20 sleeps, ls, grep
  BOOST_REQUIRE(a.result.outcome.usage.pids_peak);
  BOOST_TEST(*a.result.outcome.usage.pids_peak >= 21U);
  BOOST_REQUIRE(pool.wait_until_full(std::chrono::seconds(30)));

  // Run B, from the same pool: none of it.
  auto b = fixture.run(pool, "untrusted",
                       "ls -A /tmp; cat /tmp/mark 2>/dev/null || echo no-mark; echo procs $(ls /proc | grep -c '^[0-9]')");
  BOOST_REQUIRE_EQUAL(b.result.exit_status(), 0);
  BOOST_TEST(b.out.find("from-a") == std::string::npos);
  BOOST_TEST(b.out.find("no-mark") != std::string::npos);
  // init, sh and the command substitution's subshell, ls, grep: at most 5.
  const auto procs = b.out.find("procs ");
  BOOST_REQUIRE(procs != std::string::npos);
  BOOST_TEST(std::stoi(b.out.substr(procs + 6)) <= 5);
  BOOST_REQUIRE(b.result.outcome.usage.pids_peak);
  BOOST_TEST(*b.result.outcome.usage.pids_peak < 10U);  // A's 21+ are not counted in B's cgroup
  BOOST_TEST(a.result.outcome.pid != b.result.outcome.pid);

  const auto counts = pool.counts();
  BOOST_TEST(counts.cold == 1U);
  BOOST_TEST(counts.warm == 2U);  // A and B both took a prepared sandbox
}

BOOST_AUTO_TEST_CASE(a_tier_edited_on_disk_takes_effect_on_the_next_launch) {
  if (!is_root()) return;
  WarmFixture fixture;
  const auto write_tier = [&](const std::string& hostname) {
    fixture.dir.write("config/tiers/warmedit.json",
                      R"({"extends": "untrusted", "hostname": ")" + hostname + R"("})");
  };
  write_tier("before-edit");
  service::PooledLauncher pool(fixture.config());
  auto first = fixture.run(pool, "warmedit", "hostname");
  BOOST_REQUIRE_EQUAL(first.result.exit_status(), 0);
  BOOST_TEST(first.out == "before-edit\n");
  BOOST_REQUIRE(pool.wait_until_full(std::chrono::seconds(30)));
  BOOST_REQUIRE_EQUAL(pool.counts().ready, 1U);  // prepared with the old tier

  write_tier("after-edit");
  auto second = fixture.run(pool, "warmedit", "hostname");
  BOOST_REQUIRE_EQUAL(second.result.exit_status(), 0);
  BOOST_TEST(second.out == "after-edit\n");
  auto counts = pool.counts();
  BOOST_TEST(counts.warm == 0U);     // the stale sandbox was not used...
  BOOST_TEST(counts.dropped >= 1U);  // ...but dropped

  // The pool now prepares the edited tier, and serves it warm.
  BOOST_REQUIRE(pool.wait_until_full(std::chrono::seconds(30)));
  auto third = fixture.run(pool, "warmedit", "hostname");
  BOOST_TEST(third.out == "after-edit\n");
  BOOST_TEST(pool.counts().warm == 1U);
}

BOOST_AUTO_TEST_CASE(a_pool_of_size_zero_always_launches_cold) {
  if (!is_root()) return;
  WarmFixture fixture;
  fixture.dir.write("config/tierbox.json",
                    R"({"state_dir": ")" + fixture.dir.str() + R"(/state", "warm_pool": {"size": 1, "tiers": {"untrusted": 0}}})");
  service::PooledLauncher pool(fixture.config());
  for (int i = 0; i < 2; ++i) BOOST_REQUIRE_EQUAL(fixture.run(pool, "untrusted", "true").result.exit_status(), 0);
  BOOST_REQUIRE(pool.wait_until_full(std::chrono::seconds(5)));
  const auto counts = pool.counts();
  BOOST_TEST(counts.cold == 2U);
  BOOST_TEST(counts.prepared == 0U);
}

BOOST_AUTO_TEST_SUITE_END()
