// The planner's decisions on secrets and passed fds, and the secrets section.
#include <sys/mount.h>

#include <boost/test/unit_test.hpp>

#include <algorithm>

#include "common/errors.h"
#include "common/temp_dir.h"
#include "profile_text.h"
#include "policy/planner.h"
#include "policy/profile_loader.h"

using namespace tierbox;
using namespace tierbox::policy;
using namespace tierbox::testing;

namespace {

HostFacts facts() {
  HostFacts host;
  host.landlock_abi = 7;
  return host;
}

TaskRequest request() {
  TaskRequest request;
  request.argv = {"x"};
  return request;
}

template <typename Fn>
std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const Error& error) {
    return std::to_string(error.exit_status()) + " " + error.what();
  }
  return "";
}

constexpr const char* kSecretsTier =
    R"({"extends": "untrusted", "secrets": {"names": ["token", "ca.pem"], "required": ["token"]}})";

}  // namespace

BOOST_AUTO_TEST_SUITE(secrets_plan)

BOOST_AUTO_TEST_CASE(given_secrets_become_files_in_a_tmpfs_of_their_own) {
  TempDir dir;
  auto request_with = request();
  request_with.secrets = {{"token", "abc"}, {"ca.pem", std::string(5000, 'x')}};
  const auto plan = make_plan(load_text(dir, kSecretsTier), request_with, facts(), "r");
  BOOST_REQUIRE(plan.secrets.has_value());
  BOOST_TEST(plan.secrets->target == "/run/secrets");
  BOOST_REQUIRE_EQUAL(plan.secrets->files.size(), 2u);
  BOOST_TEST(plan.secrets->files[0].name == "token");
  BOOST_TEST(plan.secrets->files[0].value == "abc");
  auto tmpfs = std::find_if(plan.mount_ops.begin(), plan.mount_ops.end(),
                            [](const auto& op) { return op.target == "run/secrets"; });
  BOOST_REQUIRE(tmpfs != plan.mount_ops.end());
  BOOST_TEST((tmpfs->kind == MountOp::Kind::tmpfs));
  BOOST_TEST(tmpfs->flags == static_cast<unsigned long>(MS_NOSUID | MS_NODEV | MS_NOEXEC));
  BOOST_TEST(tmpfs->data.find("mode=700") != std::string::npos, tmpfs->data);
  // No secret value in the environment or anywhere else of the plan.
  for (const auto& entry : plan.env) BOOST_TEST(entry.find("abc") == std::string::npos);
  for (const auto& op : plan.mount_ops) BOOST_TEST(op.data.find("abc") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_tier_without_secrets_gets_no_directory_and_takes_none) {
  const auto untrusted = load_tier("untrusted", {kShipped});
  BOOST_TEST(!make_plan(untrusted, request(), facts(), "r").secrets.has_value());
  auto with_secret = request();
  with_secret.secrets = {{"token", "abc"}};
  auto message = error_of([&] { make_plan(untrusted, with_secret, facts(), "r"); });
  BOOST_TEST(message.find("126 refused: --secret token: tier 'untrusted' does not take it (secrets.names)") == 0u, message);
}

BOOST_AUTO_TEST_CASE(required_missing_duplicate_and_oversized_secrets_are_refused) {
  TempDir dir;
  const auto profile = load_text(dir, kSecretsTier);
  BOOST_TEST(error_of([&] { make_plan(profile, request(), facts(), "r"); }).find("requires the secret 'token'") != std::string::npos);
  auto twice = request();
  twice.secrets = {{"token", "a"}, {"token", "b"}};
  BOOST_TEST(error_of([&] { make_plan(profile, twice, facts(), "r"); }).find("given twice") != std::string::npos);
  auto big = request();
  big.secrets = {{"token", std::string(kMaxSecretBytes + 1, 'x')}};
  BOOST_TEST(error_of([&] { make_plan(profile, big, facts(), "r"); }).find("more than") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(the_section_is_checked_when_the_profile_is_loaded) {
  const auto expect = [](const std::string& text, const std::string& part) {
    TempDir dir;
    auto message = error_of([&] { load_text(dir, text); });
    BOOST_TEST(message.find(part) != std::string::npos, "'" << part << "' not in: " << message);
  };
  expect(R"({"secrets": {"names": ["../etc/passwd"]}})", "/secrets/names/0: expected a secret name");
  expect(R"({"secrets": {"names": ["a"], "required": ["b"]}})", "/secrets/required/0: \"b\" is not in secrets.names");
  expect(R"({"secrets": {"target": "run/secrets"}})", "/secrets/target");
  expect(R"({"extends": "base", "secrets": {"target": "/usr/secrets", "names": ["a"]}})", "collides with the bind mount \"/usr\"");
  expect(R"({"extends": "base", "secrets": {"target": "/proc/secrets", "names": ["a"]}})", "built by tierbox");
  expect(R"({"extends": "base", "secrets": {"target": "/workspace/s", "names": ["a"]}})", "overlaps the workspace");
  expect(R"({"secrets": {"value": "x"}})", "/secrets/value: unknown key");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(passed_fds_plan)

BOOST_AUTO_TEST_CASE(passed_fds_are_planned_sorted_within_the_tiers_limit) {
  TempDir dir;
  const auto profile = load_text(dir, R"({"extends": "untrusted", "pass_fds": 2})");
  auto host = facts();
  host.passed_fds = {{9, true, false}, {7, true, false}};
  BOOST_TEST(make_plan(profile, request(), host, "r").pass_fds == (std::vector<int>{7, 9}), boost::test_tools::per_element());
  host.passed_fds.push_back({8, true, false});
  BOOST_TEST(error_of([&] { make_plan(profile, request(), host, "r"); }).find("allows passing 2 file descriptors (pass_fds), 3 given") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(stdio_closed_and_directory_fds_are_refused) {
  TempDir dir;
  const auto profile = load_text(dir, R"({"extends": "untrusted", "pass_fds": 4})");
  const auto refused = [&](PassedFdFacts passed) {
    auto host = facts();
    host.passed_fds = {passed};
    return error_of([&] { make_plan(profile, request(), host, "r"); });
  };
  BOOST_TEST(refused({2, true, false}).find("126 refused: --pass-fd 2: stdin, stdout and stderr") == 0u);
  BOOST_TEST(refused({7, false, false}).find("125 --pass-fd 7: not an open file descriptor") == 0u);
  BOOST_TEST(refused({7, true, true}).find("126 refused: --pass-fd 7: a directory") == 0u);
  BOOST_TEST(make_plan(load_tier("untrusted", {kShipped}), request(), facts(), "r").pass_fds.empty());
}

BOOST_AUTO_TEST_SUITE_END()
