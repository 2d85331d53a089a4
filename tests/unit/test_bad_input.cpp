// Bad input (issue 20): every document tierbox reads, every file it opens
// and every byte a caller may pass. Each case is the attempt that must fail
// (or be recorded faithfully), with its control where one makes sense.
#include <sys/stat.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <fstream>
#include <sstream>
#include <cstring>

#include "audit/audit_log.h"
#include "audit/records.h"
#include "audit/verify.h"
#include "common/errors.h"
#include "common/files.h"
#include "common/json_bytes.h"
#include "common/temp_dir.h"
#include "common/utf8.h"
#include "policy/approval_matrix.h"
#include "policy/data_classes.h"
#include "policy/host_facts.h"
#include "policy/json_reader.h"
#include "policy/profile_loader.h"
#include "policy/review/check.h"
#include "policy/runner_config.h"
#include "profile_text.h"

using namespace tierbox;
using namespace tierbox::policy;
using namespace tierbox::testing;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// The message of the tierbox::Error fn throws, "" when it throws none.
template <typename Fn>
std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const Error& error) {
    return error.what();
  }
  return "";
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

BOOST_AUTO_TEST_SUITE(utf8_bytes)

BOOST_AUTO_TEST_CASE(well_formed_utf8_is_told_from_every_kind_of_ill_formed) {
  BOOST_TEST(is_valid_utf8("plain ascii"));
  BOOST_TEST(is_valid_utf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));  // é, €, an emoji
  for (const char* bad : {"\xe9", "\xc3", "\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xff",
                          "\x80", "ok\xe2\x82"}) {
    BOOST_TEST(!is_valid_utf8(bad), "accepted " << json(std::vector<int>(bad, bad + std::strlen(bad))).dump());
    // What tierbox accepts, nlohmann's serializer accepts, and the reverse.
    BOOST_CHECK_THROW(json(std::string(bad)).dump(), json::type_error);
  }
  BOOST_TEST(first_invalid_utf8("ab\xe9" "cd").value() == 2u);
}

BOOST_AUTO_TEST_CASE(bytes_that_are_not_utf8_round_trip_through_json) {
  const std::string path = "/tmp/x\xe9y";
  const auto value = json_bytes(path);
  BOOST_TEST(value.is_array());
  BOOST_TEST(value.dump() == "[47,116,109,112,47,120,233,121]");
  BOOST_TEST(bytes_from_json(json::parse(value.dump())).value() == path);
  // Valid text stays a string, so nothing changes for it.
  BOOST_TEST(json_bytes("/tmp/plain") == json("/tmp/plain"));
  // A whole record: every string that is not UTF-8, nested or not, becomes
  // bytes; the result always dumps.
  const json record = {{"argv", {"echo", "\xff"}}, {"cwd", path}, {"user", {{"name", "root"}}}, {"bad\xe9key", 1}};
  const auto safe = utf8_safe(record);
  BOOST_TEST(safe["argv"][0] == "echo");
  BOOST_TEST(safe["argv"][1] == json::array({255}));
  BOOST_TEST(bytes_from_json(safe["cwd"]).value() == path);
  BOOST_TEST(safe.contains("bad\\xe9key"));
  BOOST_CHECK_NO_THROW(safe.dump());
}

BOOST_AUTO_TEST_CASE(messages_quote_bytes_that_are_not_utf8_as_escapes) {
  BOOST_TEST(quote("/tmp/x\xe9") == "\"/tmp/x\\xe9\"");
  BOOST_TEST(quote("caf\xc3\xa9") == "\"caf\xc3\xa9\"");
  BOOST_TEST(is_valid_utf8(quote("\xff\xfe")));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(json_documents)

BOOST_AUTO_TEST_CASE(a_duplicate_key_names_the_key_and_both_positions) {
  TempDir dir;
  // The instance from issue 20: the second "landlock" would turn Landlock off.
  const auto file = dir.write("t.json", "{\n  \"landlock\": \"required\",\n  \"landlock\": \"off\"\n}\n");
  const auto message = error_of([&] { read_json_file(file.string()); });
  BOOST_TEST(contains(message, file.string()), message);
  BOOST_TEST(contains(message, "/landlock"), message);
  BOOST_TEST(contains(message, "duplicate key \"landlock\" at 2:3 and 3:3"), message);
  // Nested, with escapes before the key: the position is still the key's.
  const auto nested = dir.write("n.json", R"({"rules": [{"id": "a\"b", "x": 1, "x": 2}]})");
  const auto nested_message = error_of([&] { read_json_file(nested.string()); });
  BOOST_TEST(contains(nested_message, "/rules/0/x: duplicate key \"x\" at 1:27 and 1:35"), nested_message);
  // Control: the same key in two different objects is no duplicate.
  const auto fine = dir.write("f.json", R"({"a": {"x": 1}, "b": {"x": 2}})");
  BOOST_CHECK_NO_THROW(read_json_file(fine.string()));
}

BOOST_AUTO_TEST_CASE(duplicate_keys_are_refused_in_approvals_and_data_classes) {
  TempDir dir;
  dir.write("approvals.json", R"({"tiers": ["*"], "rules": [], "rules": []})");
  const auto approvals = error_of([&] { load_approval_matrix({dir.path()}); });
  BOOST_TEST(contains(approvals, "approvals.json"), approvals);
  BOOST_TEST(contains(approvals, "duplicate key \"rules\""), approvals);
  dir.write("data-classes.json", R"({"default_class": "internal", "paths": [], "paths": []})");
  const auto inventory = error_of([&] { load_data_classes({dir.path()}); });
  BOOST_TEST(contains(inventory, "duplicate key \"paths\""), inventory);
}

BOOST_AUTO_TEST_CASE(text_that_is_not_utf8_names_the_file_the_field_and_the_byte) {
  TempDir dir;
  const auto file = dir.write("t.json", "{\"environment\": {\"set\": {\"A\": \"x\xe9y\"}}}");
  const auto message = error_of([&] { read_json_file(file.string()); });
  BOOST_TEST(contains(message, file.string() + ":1:"), message);
  BOOST_TEST(contains(message, "/environment/set/A"), message);
  BOOST_TEST(contains(message, "0xE9 is not UTF-8"), message);
  // The message itself is text: a refusal record can hold it.
  BOOST_TEST(is_valid_utf8(message), message);
  const auto in_key = dir.write("k.json", "{\"a\": {\"k\xe9\": 1}}");
  const auto key_message = error_of([&] { read_json_file(in_key.string()); });
  BOOST_TEST(contains(key_message, "a key of /a"), key_message);
  BOOST_TEST(is_valid_utf8(key_message), key_message);
}

BOOST_AUTO_TEST_CASE(a_nul_in_a_string_is_refused_not_cut) {
  TempDir dir;
  const auto value = dir.write("v.json", R"({"environment": {"set": {"A": "before\u0000after"}}})");
  const auto message = error_of([&] { read_json_file(value.string()); });
  BOOST_TEST(contains(message, "/environment/set/A: contains a NUL"), message);
  const auto link = dir.write("l.json", R"({"mounts": [{"type": "symlink", "target": "/x", "link": "/a\u0000b"}]})");
  BOOST_TEST(contains(error_of([&] { read_json_file(link.string()); }), "/mounts/0/link: contains a NUL"));
  // Control: an escaped character that is not NUL is fine.
  const auto fine = dir.write("f.json", R"({"a": "tab\there"})");
  BOOST_CHECK_NO_THROW(read_json_file(fine.string()));
}

BOOST_AUTO_TEST_CASE(deep_nesting_is_still_refused) {
  TempDir dir;
  const auto file = dir.write("d.json", std::string(40, '[') + std::string(40, ']'));
  BOOST_TEST(contains(error_of([&] { read_json_file(file.string()); }), "nested deeper than"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(files_that_are_not_files)

BOOST_AUTO_TEST_CASE(a_fifo_a_directory_and_a_device_are_refused_without_blocking) {
  TempDir dir;
  const auto fifo = dir.path() / "p.json";
  BOOST_REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  // Without O_NONBLOCK this open waits for a writer for ever; the test
  // binary's own timeout would be the only end.
  const auto started = std::chrono::steady_clock::now();
  const auto message = error_of([&] { read_json_file(fifo.string()); });
  BOOST_TEST(contains(message, "is a FIFO, not a regular file"), message);
  BOOST_TEST((std::chrono::steady_clock::now() - started < std::chrono::seconds(5)));
  BOOST_TEST(contains(error_of([&] { read_json_file(dir.str()); }), "is a directory"));
  BOOST_TEST(contains(error_of([&] { read_json_file("/dev/zero"); }), "is a character device"));
  BOOST_TEST(contains(error_of([&] { (void)load_profile_file(fifo, {kShipped}); }), "FIFO"));
  // Control: a regular file reads.
  BOOST_CHECK_NO_THROW(read_json_file(dir.write("ok.json", "{}").string()));
}

BOOST_AUTO_TEST_CASE(the_audit_log_must_be_a_regular_file) {
  TempDir dir;
  const auto fifo = dir.path() / "log";
  BOOST_REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  const audit::AuditLog log(fifo);
  BOOST_TEST(contains(error_of([&] { log.create_if_missing(); }), "is a FIFO"));
  BOOST_TEST(contains(error_of([&] { audit::AuditLog("/dev/null").create_if_missing(); }), "character device"));
  BOOST_TEST(contains(error_of([&] { audit::scan_backwards(dir.path(), [](const json&) { return true; }); }),
                      "directory"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(config_directories)

BOOST_AUTO_TEST_CASE(an_entry_that_is_not_a_file_is_an_error_not_skipped) {
  // The first directory is the security team's; the second holds a valid
  // file that must never replace theirs silently.
  TempDir team, fallback;
  fallback.write("approvals.json", "{}");
  fallback.write("data-classes.json", "{}");
  fallback.write("tierbox.json", "{}");
  fallback.write("tiers/x.json", "{}");
  const std::vector<fs::path> dirs = {team.path(), fallback.path()};
  // Control: nothing there, the next directory is used.
  BOOST_TEST(find_config_file(dirs, "approvals.json").value() == fallback.path() / "approvals.json");
  fs::create_symlink("/nonexistent/approvals.json", team.path() / "approvals.json");
  const auto dangling = error_of([&] { (void)find_config_file(dirs, "approvals.json"); });
  BOOST_TEST(contains(dangling, (team.path() / "approvals.json").string()), dangling);
  BOOST_TEST(contains(dangling, "symbolic link"), dangling);
  fs::create_directories(team.path() / "data-classes.json");
  BOOST_TEST(contains(error_of([&] { (void)load_data_classes(dirs); }), "is a directory"));
  BOOST_REQUIRE(::mkfifo((team.path() / "tierbox.json").c_str(), 0600) == 0);
  BOOST_TEST(contains(error_of([&] { (void)load_runner_config(dirs); }), "is a FIFO"));
  fs::create_directories(team.path() / "tiers");
  fs::create_symlink("missing.json", team.path() / "tiers" / "x.json");
  BOOST_TEST(contains(error_of([&] { (void)find_tier_file("x", dirs); }), "tiers/x.json"));
}

BOOST_AUTO_TEST_CASE(a_named_config_directory_must_exist_and_be_one) {
  TempDir dir;
  BOOST_TEST(contains(error_of([&] { check_named_config_dir("/nonexistent/tierbox", "--config-dir"); }),
                      "--config-dir \"/nonexistent/tierbox\": ENOENT"));
  const auto file = dir.write("file", "x");
  BOOST_TEST(contains(error_of([&] { check_named_config_dir(file, "TIERBOX_CONFIG_DIR"); }), "not a directory"));
  BOOST_CHECK_NO_THROW(check_named_config_dir(dir.path(), "--config-dir"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(profile_values)

BOOST_AUTO_TEST_CASE(rlimits_the_runner_cannot_work_with_are_refused_naming_the_minimum) {
  expect_error(R"({"extends": "base", "limits": {"rlimits": {"nofile": 8}}})",
               {"/limits/rlimits/nofile", "minimum of " + std::to_string(kMinNofile)});
  expect_error(R"({"extends": "base", "limits": {"rlimits": {"nofile": {"soft": 0, "hard": 4096}}}})",
               {"/limits/rlimits/nofile", "below the minimum"});
  expect_error(R"({"extends": "base", "limits": {"rlimits": {"stack": 1}}})",
               {"/limits/rlimits/stack", "minimum of " + std::to_string(kMinStackBytes)});
  expect_error(R"({"extends": "base", "limits": {"rlimits": {"as": 1}}})",
               {"/limits/rlimits/as", "minimum of " + std::to_string(kMinAddressSpaceBytes)});
  // Control: the minimums themselves load.
  TempDir dir;
  BOOST_CHECK_NO_THROW(load_text(dir, R"({"extends": "base", "limits": {"rlimits": {"nofile": )" +
                                          std::to_string(kMinNofile) + R"(, "stack": )" +
                                          std::to_string(kMinStackBytes) + R"(, "as": )" +
                                          std::to_string(kMinAddressSpaceBytes) + "}}}"));
}

BOOST_AUTO_TEST_CASE(profile_check_refuses_a_bind_of_a_kernel_filesystem) {
  TempDir dir;
  const auto file = dir.write("tiers/t.json", R"({"extends": "base", "mounts": [
    {"type": "bind", "source": "/proc", "target": "/hostproc"}]})");
  const LinuxHostView view;
  const auto report = check_profile(file, {dir.path(), kShipped}, nullptr, view, today_utc());
  bool named = false;
  for (const auto& error : report.errors) named = named || (contains(error, "/proc") && contains(error, "proc filesystem"));
  BOOST_TEST(named);
  // Control: a bind of an ordinary directory raises no such error.
  const auto ordinary = dir.write("tiers/o.json", R"({"extends": "base", "mounts": [
    {"type": "bind", "source": "/usr", "target": "/hostusr"}]})");
  for (const auto& error : check_profile(ordinary, {dir.path(), kShipped}, nullptr, view, today_utc()).errors)
    BOOST_TEST(!contains(error, "kernel"), error);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(audit_bytes)

BOOST_AUTO_TEST_CASE(a_record_with_bytes_that_are_not_utf8_is_written_faithfully_and_verifies) {
  TempDir dir;
  const auto file = dir.path() / "audit.jsonl";
  const audit::AuditLog log(file);
  const std::string cwd = "/tmp/x\xe9";
  log.append({{"event", "start"}, {"argv", {"echo", "\xff\xfe"}}, {"cwd", cwd}, {"run_id", "r1"}});
  log.append({{"event", "end"}, {"run_id", "r1"}});
  std::ifstream in(file);
  std::string line;
  std::getline(in, line);
  const auto record = json::parse(line);
  BOOST_TEST(bytes_from_json(record["cwd"]).value() == cwd);
  BOOST_TEST(bytes_from_json(record["argv"][1]).value() == "\xff\xfe");
  std::ifstream again(file);
  const auto report = audit::verify_log(again, [](const json&) { return std::string(); });
  BOOST_TEST(report.ok());
  BOOST_TEST(report.records == 2u);
}

BOOST_AUTO_TEST_CASE(a_refusal_naming_bytes_that_are_not_utf8_stays_text_and_its_fields_stay_faithful) {
  TempDir dir;
  const audit::AuditLog log(dir.path() / "audit.jsonl");
  const audit::RunContext context{"r2", {}, "host", "untrusted", {"/bin/true", "\xe9"}, "/tmp/x\xe9"};
  const auto written = log.append(audit::profile_refused_record(context, "--workspace /tmp/x\xe9: not found", 125));
  BOOST_TEST(written["reason"] == "--workspace /tmp/x\\xe9: not found");
  BOOST_TEST(bytes_from_json(written["cwd"]).value() == "/tmp/x\xe9");
  BOOST_TEST(written["argv"][1] == json::array({0xe9}));
}

BOOST_AUTO_TEST_CASE(a_line_longer_than_any_record_is_bounded) {
  std::string huge(audit::kMaxRecordLineBytes + 10, 'x');
  std::istringstream in(huge + "\nnext\nlast");
  std::string line;
  BOOST_TEST((audit::read_bounded_line(in, line) == audit::LineRead::too_long));
  BOOST_TEST(line.empty());
  BOOST_TEST((audit::read_bounded_line(in, line) == audit::LineRead::complete));
  BOOST_TEST(line == "next");
  BOOST_TEST((audit::read_bounded_line(in, line) == audit::LineRead::no_newline));
  BOOST_TEST(line == "last");
  BOOST_TEST((audit::read_bounded_line(in, line) == audit::LineRead::end));
  std::istringstream log(huge + "\n");
  const auto report = audit::verify_log(log, [](const json&) { return std::string(); });
  BOOST_REQUIRE(report.first_bad.has_value());
  BOOST_TEST(contains(report.first_bad->reason, "longer than"));
}

BOOST_AUTO_TEST_SUITE_END()
