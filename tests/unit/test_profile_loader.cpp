#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "common/errors.h"
#include "common/temp_dir.h"
#include "profile_text.h"
#include "policy/profile_loader.h"

using namespace tierbox;
using namespace tierbox::policy;
using namespace tierbox::testing;
using namespace std::chrono_literals;

namespace {

// What a tier without a base must state besides its settings.
constexpr const char* kStandalone =
    R"("owner": "o@example.com", "reviewed_by": "r@example.com", "reviewed_on": "2026-01-01", "review_by": "2099-01-01", "max_data_class": "internal")";

}  // namespace

BOOST_AUTO_TEST_SUITE(profile_loader)

BOOST_AUTO_TEST_CASE(shipped_tiers_load_with_their_base) {
  auto untrusted = load_tier("untrusted", {kShipped});
  BOOST_TEST(untrusted.name == "untrusted");
  BOOST_TEST(untrusted.chain.size() == 2u);
  BOOST_TEST(untrusted.chain.front().filename() == "base.json");
  BOOST_TEST(!untrusted.workspace.writable);
  BOOST_TEST((untrusted.limits.wall_time == 10min));
  BOOST_TEST(untrusted.mounts.size() >= 5u);
  BOOST_TEST(untrusted.sha256.size() == 64u);
  BOOST_TEST(load_tier("workspace-write", {kShipped}).workspace.writable);
  BOOST_TEST(!load_tier("readonly", {kShipped}).workspace.writable);
}

BOOST_AUTO_TEST_CASE(search_order_is_flag_env_system_shipped) {
  auto dirs = config_search_dirs(std::filesystem::path("/flag"), "/env", "/etc/tierbox", "/shipped");
  std::vector<std::filesystem::path> expected = {"/flag", "/env", "/etc/tierbox", "/shipped"};
  BOOST_TEST(dirs == expected, boost::test_tools::per_element());
  auto without = config_search_dirs(std::nullopt, "", "/etc/tierbox", "/shipped");
  BOOST_TEST(without.size() == 2u);
}

BOOST_AUTO_TEST_CASE(an_earlier_directory_shadows_a_later_one) {
  TempDir first, second;
  first.write("tiers/x.json", std::string(R"({"hostname": "first", )") + kStandalone + "}");
  second.write("tiers/x.json", std::string(R"({"hostname": "second", )") + kStandalone + "}");
  BOOST_TEST(load_tier("x", {first.path(), second.path()}).hostname == "first");
  BOOST_TEST(load_tier("x", {second.path(), first.path()}).hostname == "second");
}

BOOST_AUTO_TEST_CASE(extends_merges_objects_and_appends_mounts) {
  TempDir dir;
  auto profile = load_text(dir, R"({
    "extends": "base",
    "hostname": "child",
    "environment": {"set": {"EXTRA": "1"}},
    "mounts": [{"type": "tmpfs", "target": "/scratch", "size": "8M"}]
  })");
  BOOST_TEST(profile.hostname == "child");
  BOOST_TEST(profile.environment.set.at("EXTRA") == "1");
  BOOST_TEST(profile.environment.set.count("PATH") == 1u);  // merged from base
  BOOST_TEST(profile.mounts.back().target == "/scratch");
  BOOST_TEST(profile.mounts.front().target == "/usr");
}

BOOST_AUTO_TEST_CASE(digest_covers_the_base_file) {
  TempDir dir;
  dir.write("tiers/b.json", std::string(R"({"hostname": "one", )") + kStandalone + "}");
  auto first = load_text(dir, R"({"extends": "b"})");
  dir.write("tiers/b.json", std::string(R"({"hostname": "two", )") + kStandalone + "}");
  auto second = load_text(dir, R"({"extends": "b"})");
  BOOST_TEST(first.sha256 != second.sha256);
}

BOOST_AUTO_TEST_CASE(unknown_keys_are_errors_naming_file_and_path) {
  expect_error(R"({"frobnicate": 1})", {"tiers/t.json", "/frobnicate", "unknown key", "hostname"});
  expect_error(R"({"mounts": [{"type": "bind", "source": "/usr", "target": "/usr", "writeable": true}]})",
               {"/mounts/0/writeable", "unknown key", "writable"});
  expect_error(R"({"workspace": {"target": "/w", "rw": true}})", {"/workspace/rw", "unknown key"});
}

BOOST_AUTO_TEST_CASE(wrong_types_are_errors) {
  expect_error(R"({"hostname": 5})", {"/hostname", "expected a string, got 5"});
  expect_error(R"({"mounts": {}})", {"/mounts", "expected an array"});
  expect_error(R"({"workspace": {"writable": "yes"}})", {"/workspace/writable", "expected true or false"});
  expect_error(R"({"user": {"uid": -3}})", {"/user/uid", "non-negative integer"});
  expect_error(R"({"user": {"uid": 1e30}})", {"/user/uid"});
  expect_error(R"({"limits": {"wall_time": "soon"}})", {"/limits/wall_time", "duration"});
  expect_error(R"({"environment": {"pass": ["TERM", 3]}})", {"/environment/pass/1", "expected a string"});
  expect_error(R"([1, 2])", {"expected an object"});
  // Found by the fuzzer: a number overflowing a double is not a parse_error.
  expect_error(R"({"limits": {"wall_time": 1e999}})", {"tiers/t.json", "invalid JSON", "number overflow"});
}

BOOST_AUTO_TEST_CASE(a_placeholder_content_is_only_for_a_literal_file) {
  expect_error(R"({"protected_paths": [{"path": ".env*", "placeholder": "x"}]})",
               {"tiers/t.json", "/protected_paths/0/placeholder", "a pattern", "fix: remove"});
  expect_error(R"({"protected_paths": [{"path": "**/conf", "placeholder": "x"}]})", {"/protected_paths/0/placeholder", "a pattern"});
  expect_error(R"({"protected_paths": [{"path": "conf/", "placeholder": "x"}]})", {"/protected_paths/0/placeholder", "directory"});
  expect_error(R"({"protected_paths": [{"path": "a", "mode": "hidden", "placeholder": "x"}]})",
               {"/protected_paths/0/placeholder", "hidden"});
  expect_error(R"({"protected_paths": [{"path": "a", "placeholder": 5}]})", {"/protected_paths/0/placeholder", "expected a string"});
  expect_error(R"({"protected_paths": [{"path": "a", "placeholder": ")" + std::string(4097, 'x') + R"("}]})",
               {"/protected_paths/0/placeholder", "longer than 4096 bytes", "fix: shorten it"});
}

BOOST_AUTO_TEST_CASE(protected_paths_plus_adds_to_the_bases_list) {
  TempDir dir;
  auto base = load_text(dir, R"({"extends": "base"})", "plain");
  auto added = load_text(dir, R"({"extends": "base", "protected_paths+": [".husky/", {"path": ".env", "mode": "hidden"}]})");
  std::vector<std::string> before, after;
  for (const auto& entry : base.data_access.protected_paths) before.push_back(entry.pattern.text);
  for (const auto& entry : added.data_access.protected_paths) after.push_back(entry.pattern.text);
  // The base's entries stay, in order; .env is replaced in place, .husky/ added.
  auto expected = before;
  expected.push_back(".husky/");
  BOOST_TEST((after == expected));
  const auto env = std::find_if(added.data_access.protected_paths.begin(), added.data_access.protected_paths.end(),
                                [](const auto& entry) { return entry.pattern.text == ".env"; });
  BOOST_REQUIRE(env != added.data_access.protected_paths.end());
  BOOST_TEST((env->mode == policy::ProtectionMode::hidden));
  // A file that marks protected_paths final: an entry loosening one of its
  // own (hidden back to read-only) is refused like a replacement list.
  dir.write("tiers/strict.json",
            R"({"extends": "base", "final": ["protected_paths"], "protected_paths+": [{"path": ".env", "mode": "hidden"}]})");
  BOOST_CHECK_THROW(load_text(dir, R"({"extends": "strict", "protected_paths+": [".env"]})"), ConfigError);
  expect_error(R"({"protected_paths+": ["/abs"]})", {"/protected_paths+/0"});
}

BOOST_AUTO_TEST_CASE(paths_must_be_absolute_and_normalized) {
  for (const char* target : {"usr", "/usr/", "/usr/../etc", "/usr/./bin", "//usr", ""})
    expect_error(std::string(R"({"mounts": [{"type": "bind", "source": "/usr", "target": ")") + target + R"("}]})",
                 {"/mounts/0/target", "absolute path"});
  expect_error(R"({"mounts": [{"type": "bind", "source": "relative", "target": "/x"}]})", {"/mounts/0/source"});
  expect_error(R"({"workspace": {"target": "workspace"}})", {"/workspace/target", "absolute path"});
}

BOOST_AUTO_TEST_CASE(duplicate_mount_targets_name_both_entries) {
  expect_error(R"({"extends": "base", "mounts": [{"type": "tmpfs", "target": "/tmp", "size": "1M"}]})",
               {"duplicate mount target \"/tmp\"", "tiers/t.json:/mounts/0", "base.json:/mounts/"});
}

BOOST_AUTO_TEST_CASE(reserved_and_nested_targets_are_refused) {
  expect_error(R"({"mounts": [{"type": "tmpfs", "target": "/proc/x", "size": "1M"}]})", {"/mounts/0/target", "built by tierbox"});
  expect_error(R"({"mounts": [{"type": "bind", "source": "/", "target": "/"}]})", {"built by tierbox"});
  expect_error(R"({"mounts": [{"type": "symlink", "target": "/bin", "link": "usr/bin"},
                              {"type": "tmpfs", "target": "/bin/x", "size": "1M"}]})", {"below the symlink"});
  expect_error(R"({"mounts": [{"type": "bind", "source": "/usr", "target": "/usr"}], "workspace": {"target": "/usr/ws"}})",
               {"/workspace/target", "inside the bind mount"});
  expect_error(R"({"workspace": {"target": "/dev/ws"}})", {"/workspace/target"});
}

BOOST_AUTO_TEST_CASE(tmpfs_needs_a_size_and_bind_a_source) {
  expect_error(R"({"mounts": [{"type": "tmpfs", "target": "/t"}]})", {"/mounts/0/size", "size limit"});
  expect_error(R"({"mounts": [{"type": "bind", "target": "/t"}]})", {"/mounts/0/source", "missing"});
  expect_error(R"({"mounts": [{"type": "overlay", "target": "/t"}]})", {"/mounts/0/type"});
  expect_error(R"({"mounts": [{"type": "tmpfs", "target": "/t", "size": "1M", "mode": "999"}]})", {"/mounts/0/mode", "octal"});
}

BOOST_AUTO_TEST_CASE(task_user_may_not_be_root) {
  expect_error(R"({"user": {"uid": 0}})", {"/user/uid", "uid 0"});
  expect_error(R"({"user": {"gid": 0}})", {"/user/gid", "gid 0"});
  expect_error(R"({"user": {"uid": 65534}})", {"/user/uid", "at most 65533"});
  expect_error(R"({"user": {"name": "Bad Name"}})", {"/user/name"});
}

BOOST_AUTO_TEST_CASE(loader_variables_in_a_profile_are_errors) {
  expect_error(R"({"environment": {"set": {"LD_PRELOAD": "/x.so"}}})", {"/environment/set/LD_PRELOAD", "never passed"});
  expect_error(R"({"environment": {"pass": ["TERM", "PYTHONPATH"]}})", {"/environment/pass/1", "never passed"});
  expect_error(R"({"environment": {"allow": ["LD_*"]}})", {"/environment/allow/0", "never passed"});
  expect_error(R"({"environment": {"allow": ["bad name"]}})", {"/environment/allow/0", "variable name"});
}

BOOST_AUTO_TEST_CASE(bad_hostname_and_network_mode) {
  expect_error(R"({"hostname": "bad_name!"})", {"/hostname"});
  expect_error(R"({"hostname": ""})", {"/hostname"});
  expect_error(R"({"network": {"mode": "everything"}})", {"/network/mode"});
}

BOOST_AUTO_TEST_CASE(extends_errors) {
  expect_error(R"({"extends": "does-not-exist"})", {"/extends", "not found"});
  expect_error(R"({"extends": "../etc/passwd"})", {"/extends", "tier name"});
  expect_error(R"({"extends": 3})", {"/extends"});
  TempDir dir;
  dir.write("tiers/a.json", R"({"extends": "b"})");
  dir.write("tiers/b.json", R"({"extends": "a"})");
  BOOST_CHECK_THROW(load_tier("a", {dir.path()}), ConfigError);
}

BOOST_AUTO_TEST_CASE(invalid_json_names_line_and_column) {
  expect_error("{\n  \"hostname\": \"x\",\n  oops\n}", {"tiers/t.json:3:", "invalid JSON"});
  expect_error("", {"invalid JSON"});
}

BOOST_AUTO_TEST_CASE(hostile_inputs_fail_cleanly) {
  expect_error(std::string(100000, '['), {"nested deeper"});
  expect_error("{\"description\": \"" + std::string(2 << 20, 'a') + "\"}", {"larger than"});
  expect_error(std::string("{\"hostname\": \"a\0b\"}", 20), {"tiers/t.json"});
  // A key twice is refused before any field is read (issue 20).
  expect_error(R"({"hostname": "x", "hostname": "y", "extends": {"a": 1}})",
               {"/hostname", "duplicate key \"hostname\" at 1:2 and 1:19"});
  expect_error("\xff\xfe{}", {"invalid JSON"});
  expect_error(R"({"mounts": [null]})", {"/mounts/0", "expected an object"});
}

BOOST_AUTO_TEST_CASE(missing_tier_lists_the_searched_directories) {
  TempDir dir;
  try {
    load_tier("nope", {dir.path(), kShipped});
    BOOST_ERROR("no error");
  } catch (const ConfigError& error) {
    std::string message = error.what();
    BOOST_TEST(message.find("tier \"nope\" not found") != std::string::npos);
    BOOST_TEST(message.find(dir.str()) != std::string::npos);
  }
  BOOST_CHECK_THROW(load_tier("../base", {kShipped}), ConfigError);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(profile_limits)

BOOST_AUTO_TEST_CASE(shipped_tiers_carry_small_limits_for_untrusted_code) {
  const auto untrusted = load_tier("untrusted", {kShipped}).limits;
  BOOST_TEST(untrusted.cgroup.memory.value.value() == 512ULL << 20);
  BOOST_TEST(untrusted.cgroup.memory.required);
  BOOST_TEST(untrusted.cgroup.pids.value.value() == 128u);
  BOOST_TEST(untrusted.cgroup.cpu_millicores.value.value() == 1000u);
  BOOST_TEST(untrusted.rlimits.nofile.value().hard == 256u);
  BOOST_TEST(untrusted.rlimits.fsize.value().soft == 1ULL << 30);
  BOOST_TEST(untrusted.rlimits.core.value().hard == 0u);
  const auto build = load_tier("workspace-write", {kShipped}).limits;
  BOOST_TEST(build.cgroup.memory.value.value() > untrusted.cgroup.memory.value.value());
  BOOST_TEST(build.cgroup.pids.value.value() > untrusted.cgroup.pids.value.value());
}

BOOST_AUTO_TEST_CASE(a_limit_is_a_value_or_an_object_and_null_removes_it) {
  TempDir dir;
  auto limits = load_text(dir, R"({"extends": "untrusted", "limits": {
      "memory": {"value": "64M", "required": false}, "cpu": 0.5, "pids": null,
      "memory_swap": "32M", "io_weight": {"value": 50}}})").limits.cgroup;
  BOOST_TEST(limits.memory.value.value() == 64ULL << 20);
  BOOST_TEST(!limits.memory.required);
  BOOST_TEST(limits.cpu_millicores.value.value() == 500u);
  BOOST_TEST(limits.cpu_millicores.required);
  BOOST_TEST(!limits.pids.value.has_value());  // the base's 128 removed
  BOOST_TEST(limits.memory_swap.value.value() == 32ULL << 20);
  BOOST_TEST(limits.io_weight.value.value() == 50u);
  BOOST_TEST(limits.io_weight.required);
  // A later layer's plain value is required again.
  auto relaxed = load_text(dir, R"({"extends": "base", "limits": {"memory": {"value": "1G", "required": false}}})", "relaxed");
  BOOST_TEST(!relaxed.limits.cgroup.memory.required);
  dir.write("tiers/relaxed.json", R"({"extends": "base", "limits": {"memory": {"value": "1G", "required": false}}})");
  auto strict = load_text(dir, R"({"extends": "relaxed", "limits": {"memory": "1G"}})", "strict");
  BOOST_TEST(strict.limits.cgroup.memory.required);
}

BOOST_AUTO_TEST_CASE(rlimits_take_numbers_sizes_unlimited_soft_and_hard) {
  TempDir dir;
  auto rlimits = load_text(dir, std::string("{") + kStandalone + R"(, "limits": {"rlimits": {
      "nofile": {"soft": 64, "hard": 128}, "fsize": "1M", "stack": "unlimited", "as": 1073741824,
      "nproc": 50, "core": null}}})").limits.rlimits;
  BOOST_TEST(rlimits.nofile.value().soft == 64u);
  BOOST_TEST(rlimits.nofile.value().hard == 128u);
  BOOST_TEST(rlimits.fsize.value().hard == 1ULL << 20);
  BOOST_TEST(rlimits.stack.value().hard == kRlimitUnlimited);
  BOOST_TEST(rlimits.as.value().soft == 1ULL << 30);
  BOOST_TEST(rlimits.nproc.value().hard == 50u);
  BOOST_TEST(!rlimits.core.has_value());  // null: inherit the caller's
  // Not mentioned: no core dumps.
  BOOST_TEST(load_text(dir, std::string("{") + kStandalone + "}", "plain").limits.rlimits.core.value().hard == 0u);
}

BOOST_AUTO_TEST_CASE(bad_limits_name_the_field_and_the_fix) {
  expect_error(R"({"limits": {"memory": "10K"}})", {"/limits/memory", "at least 1M"});
  expect_error(R"({"limits": {"memory": "lots"}})", {"/limits/memory", "expected a size"});
  expect_error(R"({"limits": {"memory": {"required": false}}})", {"/limits/memory/value", "missing"});
  expect_error(R"({"limits": {"memory": {"value": "1G", "requird": false}}})", {"/limits/memory/requird", "unknown key"});
  expect_error(R"({"limits": {"memory": {"value": "1G", "required": "no"}}})", {"/limits/memory/required", "true or false"});
  expect_error(R"({"limits": {"cpu": 0}})", {"/limits/cpu", "between 0.01 and 1024"});
  expect_error(R"({"limits": {"cpu": "half"}})", {"/limits/cpu", "number of cores"});
  expect_error(R"({"limits": {"pids": 0}})", {"/limits/pids", "at least 1"});
  expect_error(R"({"limits": {"pids": -5}})", {"/limits/pids", "non-negative integer"});
  expect_error(R"({"limits": {"io_weight": 20000}})", {"/limits/io_weight", "at most 10000"});
  expect_error(R"({"limits": {"memory_swap": "1G"}})", {"/limits/memory_swap", "needs limits.memory"});
  expect_error(R"({"limits": {"rlimits": {"nofiles": 10}}})", {"/limits/rlimits/nofiles", "unknown key", "nofile"});
  expect_error(R"({"limits": {"rlimits": {"nofile": {"soft": 10, "hard": 5}}}})", {"/limits/rlimits/nofile/soft", "must not exceed hard"});
  expect_error(R"({"limits": {"rlimits": {"nofile": {"soft": 10}}}})", {"/limits/rlimits/nofile/hard", "missing"});
  expect_error(R"({"limits": {"rlimits": {"fsize": "big"}}})", {"/limits/rlimits/fsize", "\"unlimited\""});
  expect_error(R"({"limits": {"memroy": "1G"}})", {"/limits/memroy", "unknown key", "memory"});
}

BOOST_AUTO_TEST_SUITE_END()
