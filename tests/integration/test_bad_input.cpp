// Bad input as a hostile caller gives it to the real binary (issue 20): it
// never hangs, never falls back silently, never loses a record, and says in
// one line what is wrong. Each case has its control where one makes sense.
#include <sys/stat.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>

#include "integration/harness.h"

using namespace tierbox::testing;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {


bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

std::vector<json> audit_records(const fs::path& log) {
  std::vector<json> records;
  std::ifstream in(log);
  std::string line;
  while (std::getline(in, line)) records.push_back(json::parse(line));
  return records;
}

// A run that must end quickly: a hang is the defect these tests look for.
SpawnOptions quick() {
  SpawnOptions options;
  options.timeout = std::chrono::seconds(20);
  return options;
}

std::string shell_quote(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(bad_input_bytes)

BOOST_AUTO_TEST_CASE(a_current_directory_and_arguments_that_are_not_utf8_run_and_are_recorded_faithfully) {
  TempDir dir;
  const auto cwd = dir.path() / "x\xe9";
  fs::create_directories(cwd);
  const auto log = dir.path() / "audit.jsonl";
  const auto result_file = dir.path() / "result.json";
  auto result = run_process({"/bin/sh", "-c",
                             "cd " + shell_quote(cwd.string()) + " && exec " + kTierbox + " run --audit-log " +
                                 log.string() + " --result " + result_file.string() + " -- /bin/echo \"$(printf 'a\\377b')\""},
                            quick());
  BOOST_TEST(result.status == 0, result.err);
  BOOST_TEST(result.out == "a\xff" "b\n");
  const auto records = audit_records(log);
  bool start_seen = false;
  for (const auto& record : records) {
    if (record.value("event", "") != "start") continue;
    start_seen = true;
    // Bytes that are not UTF-8 are an array of byte values (docs/governance.md).
    BOOST_TEST(record["cwd"].is_array(), record["cwd"].dump());
    std::string bytes;
    for (const auto& value : record["cwd"]) bytes += static_cast<char>(value.get<int>());
    BOOST_TEST(bytes == cwd.string());
    BOOST_TEST(record["argv"][1] == json::array({97, 255, 98}));
  }
  BOOST_TEST(start_seen);
  std::ifstream result_in(result_file);
  const auto run_result = json::parse(result_in);
  BOOST_TEST(run_result["exit_status"] == 0);
  auto verify = run_tierbox({"audit", "verify", "--audit-log", log.string()}, quick());
  BOOST_TEST(verify.status == 0, verify.out << verify.err);
}

BOOST_AUTO_TEST_CASE(a_profile_that_is_not_utf8_is_refused_naming_file_and_field_and_the_refusal_is_recorded) {
  TempDir dir;
  const auto profile = dir.write("bad.json", "{\"extends\": \"base\", \"hostname\": \"h\xe9\"}");
  const auto log = dir.path() / "audit.jsonl";
  auto result = run_tierbox({"run", "--profile", profile.string(), "--audit-log", log.string(), "--", "/bin/true"}, quick());
  BOOST_TEST(result.status == 125);
  BOOST_TEST(contains(result.err, profile.string() + ":1:"), result.err);
  BOOST_TEST(contains(result.err, "/hostname"), result.err);
  BOOST_TEST(!contains(result.err, "internal error"), result.err);
  BOOST_TEST(line_count(result.err) == 1, result.err);
  const auto records = audit_records(log);
  BOOST_REQUIRE(!records.empty());
  BOOST_TEST(records.back()["event"] == "profile_refused");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(bad_input_files)

BOOST_AUTO_TEST_CASE(fifos_and_devices_are_refused_at_once_wherever_a_file_is_read) {
  TempDir dir;
  const auto fifo = dir.path() / "p.json";
  BOOST_REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  const std::vector<std::vector<std::string>> commands = {
      {"run", "--profile", fifo.string(), "--", "/bin/true"},
      {"profile", "check", fifo.string()},
      {"profile", "diff", fifo.string(), "untrusted"},
      {"audit", "verify", "--audit-log", fifo.string()},
      {"audit", "verify", "--audit-log", "/dev/zero"},
      {"audit", "verify", "--audit-log", dir.str()},
      {"run", "--result", fifo.string(), "--", "/bin/true"},
  };
  for (const auto& command : commands) {
    auto result = run_tierbox(command, quick());
    BOOST_TEST(!result.timed_out, command[0] << " " << command[1] << " " << command[2] << ": hung");
    // profile check reports an invalid file with 1 (docs/cli.md); the rest fail with 125.
    const int expected = command[1] == "check" ? 1 : 125;
    BOOST_TEST(result.status == expected, command[2] << ": " << result.status << " " << result.err);
    BOOST_TEST(line_count(result.err) == 1, result.err);
  }
  auto directory = run_tierbox({"audit", "verify", "--audit-log", dir.str()}, quick());
  BOOST_TEST(contains(directory.err, "is a directory"), directory.err);
  BOOST_TEST(!contains(directory.out, "ok"), directory.out);
  auto result = run_tierbox({"run", "--result", fifo.string(), "--", "/bin/true"}, quick());
  BOOST_TEST(contains(result.err, "ENXIO"), result.err);
}

BOOST_AUTO_TEST_CASE(a_result_that_cannot_be_written_is_never_a_success) {
  auto full = run_tierbox({"run", "--result", "/dev/full", "--", "/bin/true"}, quick());
  BOOST_TEST(full.status == 125, full.err);
  BOOST_TEST(contains(full.err, "ENOSPC"), full.err);
  // Control: /dev/null takes it, and the run succeeds.
  BOOST_TEST(run_tierbox({"run", "--result", "/dev/null", "--", "/bin/true"}, quick()).status == 0);
}

BOOST_AUTO_TEST_CASE(an_end_record_that_cannot_be_written_makes_the_exit_status_and_the_result_agree) {
  // The log may grow by the records up to `start` but not by the `end`:
  // RLIMIT_FSIZE (with SIGXFSZ ignored, so write fails with EFBIG as it
  // would with ENOSPC on a full disk). A control run of the same command
  // measures where the start record ends.
  TempDir dir;
  const auto control_log = dir.path() / "control.jsonl";
  BOOST_REQUIRE(run_tierbox({"run", "--audit-log", control_log.string(), "--", "/bin/true"}, quick()).status == 0);
  const auto records = audit_records(control_log);
  BOOST_REQUIRE(records.size() >= 2u && records.back()["event"] == "end");
  const auto end_bytes = records.back().dump().size() + 1;
  const auto before_end = fs::file_size(control_log) - end_bytes;
  const auto log = dir.path() / "audit.jsonl";
  const auto result_file = dir.path() / "result.json";
  auto result = run_process({"/bin/sh", "-c",
                             "trap '' XFSZ; exec prlimit --fsize=" + std::to_string(before_end + 100) + " " + kTierbox +
                                 " run --audit-log " + log.string() + " --result " + result_file.string() +
                                 " -- /bin/true"},
                            quick());
  BOOST_TEST(result.status == 125, result.err);
  BOOST_TEST(contains(result.err, "the end of the run could not be recorded"), result.err);
  std::ifstream in(result_file);
  const auto run_result = json::parse(in);
  BOOST_TEST(run_result["exit_status"] == 125, run_result.dump());
  BOOST_TEST(contains(run_result.value("error", ""), "EFBIG"), run_result.dump());
  // The log holds whole records only, and says the run ended unknown.
  auto verify = run_tierbox({"audit", "verify", "--audit-log", log.string()}, quick());
  BOOST_TEST(verify.status == 0, verify.out << verify.err);
  BOOST_TEST(contains(verify.out, "ended unknown"), verify.out);
}

BOOST_AUTO_TEST_CASE(an_audit_log_that_cannot_be_written_is_named_first_in_one_line) {
  // The first append (request to start, some 2 KB at once) fails: EFBIG
  // under a 1400-byte RLIMIT_FSIZE (the run registry's file, under 1 KB, still
  // fits), as a full or broken disk would fail it. The line says
  // what failed first, then that the end is missing too (it used to print
  // "the end of the run could not be recorded" first, as a warning of its own).
  TempDir dir;
  const auto log = dir.path() / "audit.jsonl";
  auto result = run_process({"/bin/sh", "-c",
                             "trap '' XFSZ; exec prlimit --fsize=1400 " + std::string(kTierbox) + " run --audit-log " +
                                 log.string() + " -- /bin/true"},
                            quick());
  BOOST_TEST(result.status == 125, result.err);
  BOOST_TEST(line_count(result.err) == 1, result.err);
  BOOST_TEST(result.err.rfind("tierbox: audit: audit log: write", 0) == 0, result.err);
  BOOST_TEST(contains(result.err, "EFBIG"), result.err);
  // Nothing half-written is left behind.
  BOOST_TEST(fs::file_size(log) == 0u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(bad_input_config)

BOOST_AUTO_TEST_CASE(a_duplicate_key_in_a_tier_is_an_error_not_the_last_one_winning) {
  TempDir dir;
  const auto profile = dir.write("dup.json", R"({"extends": "base", "landlock": "required", "landlock": "off"})");
  auto result = run_tierbox({"run", "--profile", profile.string(), "--", "/bin/true"}, quick());
  BOOST_TEST(result.status == 125);
  BOOST_TEST(contains(result.err, "duplicate key \"landlock\" at 1:21 and 1:45"), result.err);
}

BOOST_AUTO_TEST_CASE(a_config_entry_that_is_not_a_file_is_never_replaced_by_the_shipped_one) {
  TempDir config;
  fs::create_symlink("/nonexistent/approvals.json", config.path() / "approvals.json");
  auto dangling = run_tierbox({"run", "--config-dir", config.str(), "--", "/bin/true"}, quick());
  BOOST_TEST(dangling.status == 125);
  BOOST_TEST(contains(dangling.err, (config.path() / "approvals.json").string()), dangling.err);
  fs::remove(config.path() / "approvals.json");
  fs::create_directories(config.path() / "tiers" / "untrusted.json");
  auto directory = run_tierbox({"run", "--config-dir", config.str(), "--tier", "untrusted", "--", "/bin/true"}, quick());
  BOOST_TEST(directory.status == 125);
  BOOST_TEST(contains(directory.err, "tiers/untrusted.json: is a directory"), directory.err);
}

BOOST_AUTO_TEST_CASE(a_config_directory_that_does_not_exist_is_an_error) {
  auto flag = run_tierbox({"run", "--config-dir", "/nonexistent/tierbox", "--", "/bin/true"}, quick());
  BOOST_TEST(flag.status == 125);
  BOOST_TEST(contains(flag.err, "--config-dir \"/nonexistent/tierbox\""), flag.err);
  SpawnOptions options = quick();
  options.env = {"PATH=/usr/bin:/bin", "TIERBOX_CONFIG_DIR=/etc/passwd"};
  auto env = run_tierbox({"run", "--", "/bin/true"}, options);
  BOOST_TEST(env.status == 125);
  BOOST_TEST(contains(env.err, "TIERBOX_CONFIG_DIR \"/etc/passwd\": is a regular file, not a directory"), env.err);
}

BOOST_AUTO_TEST_CASE(a_tier_that_binds_a_kernel_filesystem_is_refused_at_check_and_at_launch) {
  TempDir dir;
  const auto profile = dir.write("proc.json", R"({"extends": "base", "mounts": [
    {"type": "bind", "source": "/proc", "target": "/hostproc"}]})");
  auto check = run_tierbox({"profile", "check", profile.string()}, quick());
  BOOST_TEST(check.status == 1);
  BOOST_TEST(contains(check.err, "proc filesystem"), check.err);
  auto run = run_tierbox({"run", "--profile", profile.string(), "--", "/bin/true"}, quick());
  BOOST_TEST(run.status == 125);
  BOOST_TEST(contains(run.err, "/proc: a directory of the kernel's proc filesystem"), run.err);
}

BOOST_AUTO_TEST_CASE(rlimits_below_what_a_launch_needs_fail_profile_check) {
  TempDir dir;
  for (const char* rlimits : {R"("nofile": 8)", R"("stack": 1)", R"("as": 1)"}) {
    const auto profile =
        dir.write("r.json", std::string(R"({"extends": "base", "limits": {"rlimits": {)") + rlimits + "}}}");
    auto check = run_tierbox({"profile", "check", profile.string()}, quick());
    BOOST_TEST(check.status == 1, rlimits);
    BOOST_TEST(contains(check.err, "below the minimum of"), check.err);
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(bad_input_options)

BOOST_AUTO_TEST_CASE(an_empty_value_is_a_usage_error_for_every_option) {
  TempDir dir;
  const auto log = dir.path() / "audit.jsonl";
  for (const auto& option : {"--tier", "--workspace", "--timeout", "--audit-log", "--profile", "--result", "--memory",
                             "--pids", "--config-dir", "--env", "--grant"}) {
    auto result = run_tierbox({"run", option, "", "--", "/bin/true"}, quick());
    BOOST_TEST(result.status == 125, option << ": " << result.err);
    BOOST_TEST(contains(result.err, "tierbox: "), result.err);
    BOOST_TEST(contains(result.err, "empty value"), option << ": " << result.err);
  }
  auto audit = run_tierbox({"audit", "verify", "--audit-log", ""}, quick());
  BOOST_TEST(audit.status == 125);
  BOOST_TEST(contains(audit.err, "empty value"), audit.err);
}

BOOST_AUTO_TEST_CASE(a_misspelled_option_is_a_usage_error_before_anything_is_launched_or_recorded) {
  TempDir dir;
  const auto log = dir.path() / "audit.jsonl";
  auto result = run_tierbox({"run", "--audit-log", log.string(), "--timout", "5", "--", "/bin/true"}, quick());
  BOOST_TEST(result.status == 125);
  BOOST_TEST(contains(result.err, "unknown option \"--timout\""), result.err);
  BOOST_TEST(line_count(result.err) == 1, result.err);
  BOOST_TEST(!fs::exists(log));
  // Control: the same run spelled right runs, and a command word that is not
  // an option still needs no "--".
  BOOST_TEST(run_tierbox({"run", "--audit-log", log.string(), "--timeout", "5", "--", "/bin/true"}, quick()).status == 0);
  BOOST_TEST(run_tierbox({"run", "--audit-log", log.string(), "/bin/true"}, quick()).status == 0);
}

BOOST_AUTO_TEST_CASE(parser_errors_are_one_line_with_the_tierbox_prefix) {
  auto result = run_tierbox({"audit", "verify", "--no-such-option"}, quick());
  BOOST_TEST(result.status == 125);
  BOOST_TEST(result.err.rfind("tierbox: ", 0) == 0, result.err);
  BOOST_TEST(line_count(result.err) == 1, result.err);
  auto missing = run_tierbox({"kill"}, quick());
  BOOST_TEST(missing.err.rfind("tierbox: ", 0) == 0, missing.err);
  BOOST_TEST(line_count(missing.err) == 1, missing.err);
  // Control: --help still prints the help and exits 0.
  BOOST_TEST(run_tierbox({"run", "--help"}, quick()).status == 0);
}

BOOST_AUTO_TEST_CASE(a_negative_pids_does_not_wrap) {
  auto result = run_tierbox({"run", "--pids", "-1", "--", "/bin/true"}, quick());
  BOOST_TEST(result.status == 125);
  BOOST_TEST(contains(result.err, "--pids \"-1\": expected a positive number"), result.err);
  BOOST_TEST(!contains(result.err, "18446744073709551615"), result.err);
}

BOOST_AUTO_TEST_CASE(a_nul_in_an_environment_value_of_a_tier_is_refused) {
  TempDir dir;
  const auto profile =
      dir.write("nul.json", R"({"extends": "base", "environment": {"set": {"GREETING": "hi\u0000there"}}})");
  auto result = run_tierbox({"run", "--profile", profile.string(), "--", "/bin/true"}, quick());
  BOOST_TEST(result.status == 125);
  BOOST_TEST(contains(result.err, "/environment/set/GREETING: contains a NUL"), result.err);
}

BOOST_AUTO_TEST_CASE(ps_shows_no_blank_row_for_a_run_with_only_a_lock_file) {
  TempDir config;
  const auto runs = use_own_registry(config);
  fs::create_directories(runs);
  const std::string id = "0123456789abcdef0123456789abcdef";
  config.write("state/runs/" + id + ".lock", "");
  // Older than the grace a starting runner has (run_registry.h, kLockGrace).
  fs::last_write_time(runs / (id + ".lock"), fs::file_time_type::clock::now() - std::chrono::minutes(5));
  auto ps = run_tierbox({"ps", "--config-dir", config.str()}, quick());
  BOOST_TEST(ps.status == 0, ps.err);
  BOOST_TEST(!contains(ps.out, id), ps.out);
  BOOST_TEST(line_count(ps.out) == 1, ps.out);  // the header only
}

BOOST_AUTO_TEST_SUITE_END()
