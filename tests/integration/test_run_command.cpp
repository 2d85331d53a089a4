// `tierbox run` and `tierbox profile check` as a caller sees them: exit codes,
// one-line errors that name what to fix, and config lookup.
#include <boost/test/unit_test.hpp>

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>

#include "integration/harness.h"

using namespace tierbox::testing;
using nlohmann::json;

BOOST_AUTO_TEST_SUITE(run_errors)

BOOST_AUTO_TEST_CASE(command_not_found_is_127) {
  auto result = run_tierbox({"run", "--", "no-such-command-xyz", "arg"});
  BOOST_TEST(result.status == 127);
  BOOST_TEST(result.err.find("command not found in the sandbox") != std::string::npos, result.err);
  BOOST_TEST(result.err.find("no-such-command-xyz") != std::string::npos);
  BOOST_TEST(line_count(without_landlock_warnings(result.err)) == 1, result.err);
}

BOOST_AUTO_TEST_CASE(command_not_executable_is_126) {
  Workspace workspace;
  workspace.write("script.sh", "#!/bin/sh\necho hi\n");  // mode 0644
  auto result = run_tierbox({"run", "--workspace", workspace.str(), "--", "./script.sh"});
  BOOST_TEST(result.status == 126);
  BOOST_TEST(result.err.find("EACCES") != std::string::npos, result.err);
}

BOOST_AUTO_TEST_CASE(invalid_profile_is_125_and_names_file_and_field) {
  TempDir dir;
  auto file = dir.write("bad.json", R"({"extends": "base", "mounts": [{"type": "bind", "source": "/usr", "target": "usr"}]})");
  auto result = run_tierbox({"run", "--profile", file.string(), "--", "/bin/true"});
  BOOST_TEST(result.status == 125);
  BOOST_TEST(result.err.find(file.string() + ": /mounts/0/target: expected a normalized absolute path") != std::string::npos,
             result.err);
  BOOST_TEST(line_count(without_landlock_warnings(result.err)) == 1);
  auto unknown = dir.write("unknown.json", R"({"extends": "base", "netwrk": {}})");
  result = run_tierbox({"run", "--profile", unknown.string(), "--", "/bin/true"});
  BOOST_TEST(result.status == 125);
  BOOST_TEST(result.err.find("/netwrk: unknown key") != std::string::npos, result.err);
}

BOOST_AUTO_TEST_CASE(requests_the_tier_forbids_are_refused_with_126_naming_the_field) {
  auto env = run_tierbox({"run", "--tier", "untrusted", "--env", "FOO=1", "--", "/bin/true"});
  BOOST_TEST(env.status == 126);
  BOOST_TEST(env.err.find("environment.allow") != std::string::npos, env.err);
  auto loader = run_tierbox({"run", "--tier", "readonly", "--env", "LD_PRELOAD=/x.so", "--", "/bin/true"});
  BOOST_TEST(loader.status == 126);
  auto timeout = run_tierbox({"run", "--tier", "untrusted", "--timeout", "2h", "--", "/bin/true"});
  BOOST_TEST(timeout.status == 126);
  BOOST_TEST(timeout.err.find("limits.wall_time") != std::string::npos, timeout.err);
  BOOST_TEST(line_count(without_landlock_warnings(timeout.err)) == 1);
}

BOOST_AUTO_TEST_CASE(a_kernel_filesystem_or_one_without_id_mapping_is_no_workspace) {
  // The host's /proc would show the task every process of the host and its
  // command line: refused by policy (126), in one line with the fix.
  auto proc = run_tierbox({"run", "--tier", "untrusted", "--workspace", "/proc", "--", "/bin/true"});
  BOOST_TEST(proc.status == 126);
  BOOST_TEST(proc.err.find("--workspace /proc: a directory of the kernel's proc filesystem") != std::string::npos, proc.err);
  BOOST_TEST(line_count(without_landlock_warnings(proc.err)) == 1);
  // devtmpfs shares tmpfs's magic number, so policy cannot tell it apart;
  // it cannot be mounted id-mapped, and the launch fails closed (125) saying so.
  auto dev = run_tierbox({"run", "--tier", "untrusted", "--workspace", "/dev", "--", "/bin/true"});
  BOOST_TEST(dev.status == 125);
  BOOST_TEST(dev.err.find("--workspace \"/dev\": its filesystem (tmpfs/devtmpfs) cannot be mounted id-mapped") !=
                 std::string::npos,
             dev.err);
  BOOST_TEST(line_count(without_landlock_warnings(dev.err)) == 1);
}

BOOST_AUTO_TEST_CASE(allowed_env_reaches_the_task) {
  auto result = run_tierbox({"run", "--tier", "readonly", "--env", "TIERBOX_GREETING=hi there", "--", "/bin/sh", "-c",
                             "echo \"$TIERBOX_GREETING\""});
  BOOST_TEST(result.status == 0);
  BOOST_TEST(result.out == "hi there\n");
}

BOOST_AUTO_TEST_CASE(usage_errors_are_125) {
  TempDir dir;
  BOOST_TEST(run_tierbox({"run", "--tier", "no-such-tier", "--", "/bin/true"}).status == 125);
  BOOST_TEST(run_tierbox({"run", "--tier", "untrusted", "--profile", "x.json", "--", "/bin/true"}).status == 125);
  BOOST_TEST(run_tierbox({"run", "--workspace", dir.str() + "/missing", "--", "/bin/true"}).status == 125);
  BOOST_TEST(run_tierbox({"run", "--timeout", "soon", "--", "/bin/true"}).status == 125);
  BOOST_TEST(run_tierbox({"run"}).status == 126);
}

BOOST_AUTO_TEST_CASE(child_setup_failure_names_step_call_and_errno) {
  TempDir dir;
  // A tmpfs inside the read-only /usr bind, on a path /usr lacks: the child
  // cannot create the mount point.
  auto file = dir.write("t.json", R"({"extends": "base", "mounts": [{"type": "tmpfs", "target": "/usr/tierbox-no-such-dir", "size": "1M"}]})");
  auto result = run_tierbox({"run", "--profile", file.string(), "--", "/bin/true"});
  BOOST_TEST(result.status == 125);
  BOOST_TEST(result.err.find("sandbox setup failed at step 'build the new root': mkdir(\"usr/tierbox-no-such-dir\"): EROFS") !=
                 std::string::npos,
             result.err);
  BOOST_TEST(line_count(without_landlock_warnings(result.err)) == 1);
}

BOOST_AUTO_TEST_CASE(parent_setup_failure_names_the_call_and_path) {
  TempDir dir;
  auto file = dir.write("t.json", R"({"extends": "base", "mounts": [{"type": "bind", "source": "/nonexistent/tierbox", "target": "/x"}]})");
  auto result = run_tierbox({"run", "--profile", file.string(), "--", "/bin/true"});
  BOOST_TEST(result.status == 125);
  BOOST_TEST(result.err.find("prepare mounts: open_tree(\"/nonexistent/tierbox\"") != std::string::npos, result.err);
  BOOST_TEST(result.err.find("ENOENT") != std::string::npos);
  // The same bind marked optional is skipped.
  auto optional = dir.write("o.json", R"({"extends": "base", "mounts": [{"type": "bind", "source": "/nonexistent/tierbox", "target": "/x", "optional": true}]})");
  BOOST_TEST(run_tierbox({"run", "--profile", optional.string(), "--", "/bin/true"}).status == 0);
}

BOOST_AUTO_TEST_CASE(verbose_prints_steps_with_timings) {
  auto result = run_tierbox({"run", "-v", "--", "/bin/true"});
  BOOST_TEST(result.status == 0);
  for (const char* step : {"profile loaded", "clone3", "sync #1 sent", "sync #3 received", "child: pivot root done",
                           "exec succeeded", "exit status 0"})
    BOOST_TEST(result.err.find(step) != std::string::npos, step);
  BOOST_TEST(result.err.find(" ms] ") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(config_lookup)

BOOST_AUTO_TEST_CASE(config_dir_flag_then_environment_then_shipped) {
  TempDir flag_dir, env_dir;
  flag_dir.write("tiers/custom.json", R"({"extends": "base", "hostname": "from-flag"})");
  env_dir.write("tiers/custom.json", R"({"extends": "base", "hostname": "from-env"})");
  env_dir.write("approvals.json", R"({"tiers": ["*"], "rules": []})");
  SpawnOptions options;
  options.env = {"PATH=/usr/bin:/bin", "TIERBOX_CONFIG_DIR=" + env_dir.str()};
  auto by_flag = run_tierbox({"run", "--config-dir", flag_dir.str(), "--tier", "custom", "--", "/bin/hostname"}, options);
  BOOST_TEST(by_flag.out == "from-flag\n", by_flag.err);
  auto by_env = run_tierbox({"run", "--tier", "custom", "--", "/bin/hostname"}, options);
  BOOST_TEST(by_env.out == "from-env\n", by_env.err);
  // A shipped tier is still found behind both.
  BOOST_TEST(run_tierbox({"run", "--tier", "untrusted", "--", "/bin/true"}, options).status == 0);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(profile_check)

BOOST_AUTO_TEST_CASE(shipped_profiles_are_valid) {
  std::vector<std::string> args = {"profile", "check"};
  // The image tiers too: an image the store lacks is a warning, not an error.
  for (const char* tier : {"base", "untrusted", "readonly", "workspace-write", "sealed", "sealed-debian"})
    args.push_back(std::string(kSourceDir) + "/profiles/tiers/" + tier + ".json");
  auto result = run_tierbox(args);
  BOOST_TEST(result.status == 0, result.err);
  BOOST_TEST(line_count(result.out) == 6);
}

BOOST_AUTO_TEST_CASE(an_invalid_profile_fails_the_check) {
  TempDir dir;
  auto good = dir.write("good.json", R"({"extends": "base"})");
  auto bad = dir.write("bad.json", R"({"extends": "base", "user": {"uid": 0}})");
  auto result = run_tierbox({"profile", "check", good.string(), bad.string()});
  BOOST_TEST(result.status == 1);
  BOOST_TEST(result.err.find("/user/uid") != std::string::npos, result.err);
  BOOST_TEST(result.out.find("good.json: ok") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(run_registry)

namespace {

std::string run_id_from(BackgroundRun& run) {
  auto line = run.wait_for_line("registered");
  auto at = line.find("run ");
  if (at == std::string::npos) return "";
  auto id = line.substr(at + 4);
  return id.substr(0, id.find(' '));
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_live_run_is_registered_and_gc_leaves_it_alone) {
  BackgroundRun run({"run", "-v", "--", "/bin/sh", "-c", "echo task-started >&2; sleep 30"});
  auto id = run_id_from(run);
  BOOST_REQUIRE(!id.empty());
  BOOST_REQUIRE(!run.wait_for_line("task-started").empty());
  const auto record_file = std::filesystem::path("/run/tierbox/runs") / (id + ".json");
  BOOST_REQUIRE(std::filesystem::exists(record_file));
  std::ifstream in(record_file);
  auto record = json::parse(in);
  BOOST_TEST(record["state"] == "running");
  BOOST_TEST(record["argv"][0] == "/bin/sh");
  BOOST_TEST(record["sandbox_pid"].get<int>() > 0);
  BOOST_TEST(record["runner_pid"].get<int>() == run.pid());
  auto gc = run_tierbox({"gc", "--json"});
  BOOST_TEST(gc.status == 0);
  BOOST_TEST(gc.out.find(id) == std::string::npos, "gc touched a live run: " << gc.out);
  BOOST_TEST(std::filesystem::exists(record_file));
  run.signal(SIGTERM);
  BOOST_TEST(run.wait() == 143);
  BOOST_TEST(!std::filesystem::exists(record_file), "a finished run left its record");
}

BOOST_AUTO_TEST_CASE(gc_removes_the_entry_of_a_killed_runner) {
  // "task-started", not "ready": `run -v` prints "network ready" before the
  // sandbox has closed its inherited fds (the run's lock among them), and gc
  // rightly sees a run whose sandbox still holds its lock as alive.
  TempDir config;
  const auto runs = use_own_registry(config);
  BackgroundRun run({"run", "-v", "--config-dir", config.str(), "--", "/bin/sh", "-c", "echo task-started >&2; sleep 30"});
  auto id = run_id_from(run);
  BOOST_REQUIRE(!id.empty());
  BOOST_REQUIRE(!run.wait_for_line("task-started").empty());
  run.signal(SIGKILL);
  BOOST_TEST(run.wait() == 137);
  const auto record_file = runs / (id + ".json");
  BOOST_TEST(std::filesystem::exists(record_file));  // left behind by the crash
  auto gc = run_tierbox({"gc", "--json", "--config-dir", config.str()});
  BOOST_TEST(gc.status == 0, gc.err);
  auto report = json::parse(gc.out);
  bool cleaned = false;
  for (const auto& item : report) cleaned = cleaned || (item["run_id"] == id && item["result"] == "cleaned");
  BOOST_TEST(cleaned, gc.out);
  BOOST_TEST(!std::filesystem::exists(record_file));
  BOOST_TEST(!std::filesystem::exists(runs / (id + ".lock")));
}

// A runner killed between writing its record's temporary and renaming it
// (write_file_atomically: ID.json.tmp.HEX, ID.control.json.tmp.HEX) leaves
// the temporary: gc removes one older than the lock grace, and leaves a
// fresh one (a live runner's write, the control) and a name that is no run
// id's.
BOOST_AUTO_TEST_CASE(gc_removes_a_record_temporary_a_killed_runner_left) {
  TempDir config;
  const auto runs = use_own_registry(config);
  std::filesystem::create_directories(runs);
  const auto old_record = runs / "0123456789abcdef.json.tmp.a1b2c3";
  const auto old_control = runs / "0123456789abcdef.control.json.tmp.d4e5f6";
  const auto fresh = runs / "fedcba9876543210.json.tmp.0a0b0c";
  const auto not_a_run = runs / "notarunid.json.tmp.0d0e0f";
  for (const auto& file : {old_record, old_control, fresh, not_a_run}) std::ofstream(file) << "{}";
  const auto a_minute_ago = std::filesystem::file_time_type::clock::now() - std::chrono::minutes(1);
  for (const auto& file : {old_record, old_control, not_a_run}) std::filesystem::last_write_time(file, a_minute_ago);
  const auto gc = run_tierbox({"gc", "--config-dir", config.str()});
  BOOST_TEST(gc.status == 0, gc.err);
  BOOST_TEST(!std::filesystem::exists(old_record), gc.out);
  BOOST_TEST(!std::filesystem::exists(old_control), gc.out);
  BOOST_TEST(gc.out.find("removed stray " + old_record.string()) != std::string::npos, gc.out);
  BOOST_TEST(std::filesystem::exists(fresh));
  BOOST_TEST(std::filesystem::exists(not_a_run));
}

BOOST_AUTO_TEST_SUITE_END()
