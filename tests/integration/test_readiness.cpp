// `tierbox readiness` on fixture configurations: ready on a clean one (tier
// reviewed, matrix covering it, approvers and operators groups with members,
// a key with owner and rotation date, a verifying and checkpointed audit
// log, a passing redteam result, no unpinned command run); and each problem
// the issue lists makes it not ready, naming the item: an overdue tier, an
// unverifiable audit log, a missing operators group, an overdue key, an
// unpinned command in the audit log, a tier the host cannot enforce.
// `audit export` of the same log: OCSF Process Activity events with the
// class's required fields, CEF lines, --since.
#include <sys/stat.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include <fstream>
#include <sstream>

#include "audit/export.h"
#include "integration/harness.h"

using namespace tierbox::testing;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// A group of the test's own with root as its member, removed after.
struct TestGroup {
  std::string name = "tbxrt" + std::to_string(::getpid());
  TestGroup() {
    auto made = run_account_tool({"/usr/sbin/groupadd", "-U", "root", name});
    BOOST_TEST_REQUIRE(made.status == 0, made.err);
  }
  ~TestGroup() { run_account_tool({"/usr/sbin/groupdel", name}); }
};

const char* const kReviewed = R"("owner": "redteam@example.com", "reviewed_by": "redteam@example.com", "reviewed_on": "2026-12-01", "review_by": "2099-06-01")";

// The clean fixture: everything ready.
struct Fixture {
  TestGroup group;
  TempDir dir{"tierbox-readiness-test"};
  fs::path log = dir.path() / "audit.jsonl";
  fs::path key = dir.path() / "keys" / "rt-key.secret";
  std::vector<std::string> tiers{"ready"};

  Fixture() {
    config(group.name);
    fs::create_directories(dir.path() / "gov");
    ::chmod((dir.path() / "gov").c_str(), 0755);
    fs::create_directories(dir.path() / "keys");
    dir.write("tiers/ready.json", std::string("{\"extends\": \"base\", ") + kReviewed + "}");
    matrix();
    add_key("rt-key", key, "2099-01-01");
    const auto redteam = tierbox({"redteam", "ready"});
    BOOST_TEST_REQUIRE(redteam.status == 0, redteam.out << redteam.err);
    const auto checkpoint = tierbox({"audit", "checkpoint", "--key", key.string()});
    BOOST_TEST_REQUIRE(checkpoint.status == 0, checkpoint.err);
  }
  void config(const std::string& operators) const {
    json settings{{"state_dir", (dir.path() / "state").string()}, {"governance_dir", (dir.path() / "gov").string()},
                  {"rootfs_dir", (dir.path() / "store").string()}};
    if (!operators.empty()) settings["operators_group"] = operators;
    dir.write("tierbox.json", settings.dump());
  }
  void matrix() const {
    dir.write("approvals.json", json{{"owner", "t"}, {"tiers", tiers}, {"approvers", group.name},
                                     {"rules", json::array({{{"id", "all"}, {"require", "none"}}})}}
                                    .dump());
  }
  void add_key(const std::string& id, const fs::path& secret, const std::string& rotate_by) const {
    const auto generated = run_tierbox({"keys", "generate", "--id", id, "--out", secret.string()});
    BOOST_TEST_REQUIRE(generated.status == 0, generated.err);
    const auto pub = dir.write("keys/" + id + ".pub", generated.out);
    const auto added = run_tierbox({"keys", "add", pub.string(), "--owner", "root", "--rotate-by", rotate_by, "--config-dir", dir.str()});
    BOOST_TEST_REQUIRE(added.status == 0, added.err);
  }
  [[nodiscard]] ProcessResult tierbox(std::vector<std::string> args) const {
    std::size_t at = 1;
    if (args[0] == "audit") at = 2;
    args.insert(args.begin() + static_cast<long>(at), {"--config-dir", dir.str(), "--audit-log", log.string()});
    return run_tierbox(args, {.timeout = std::chrono::seconds(300)});
  }
  [[nodiscard]] json readiness(int expected_status) const {
    const auto result = tierbox({"readiness", "--json"});
    BOOST_TEST_INFO(result.out << result.err);
    BOOST_TEST_REQUIRE(result.status == expected_status);
    return json::parse(result.out);
  }
};

json item(const json& report, const std::string& section, const std::string& name) {
  for (const auto& entry : report["items"])
    if (entry["section"] == section && entry["item"] == name) return entry;
  BOOST_FAIL("no item " << section << "/" << name << " in " << report.dump(2));
  return {};
}

void require_not_ready(const json& report, const std::string& section, const std::string& name, const std::string& reason) {
  const auto entry = item(report, section, name);
  BOOST_TEST(entry["ready"] == false, entry.dump());
  BOOST_TEST(entry["reason"].get<std::string>().find(reason) != std::string::npos, entry.dump());
  BOOST_TEST(!entry["fix"].is_null(), entry.dump());
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(readiness_fixtures)

BOOST_AUTO_TEST_CASE(a_clean_fixture_is_ready) {
  const Fixture fixture;
  const auto report = fixture.readiness(0);
  BOOST_TEST(report["ready"] == true);
  BOOST_TEST(item(report, "redteam", "tier ready")["ready"] == true);
  BOOST_TEST(item(report, "keys", "key rt-key")["reason"].get<std::string>().find("owner root, rotate by 2099-01-01") != std::string::npos);
  BOOST_TEST(item(report, "people", "operators")["detail"].dump().find("root") != std::string::npos);
  BOOST_TEST(item(report, "audit", "checkpoint")["reason"].get<std::string>().find("last signed checkpoint at") != std::string::npos);
  // keys list shows owner and rotation date.
  const auto listed = run_tierbox({"keys", "list", "--config-dir", fixture.dir.str()});
  BOOST_TEST(listed.out.find("rt-key  owner root  rotate by 2099-01-01") != std::string::npos, listed.out);
}

BOOST_AUTO_TEST_CASE(an_overdue_tier_is_named) {
  Fixture fixture;
  fixture.dir.write("tiers/stale.json", R"({"extends": "base", "owner": "o@example.com", "reviewed_by": "o@example.com", "reviewed_on": "2025-01-01", "review_by": "2026-01-01"})");
  fixture.tiers.push_back("stale");
  fixture.matrix();
  const auto report = fixture.readiness(1);
  require_not_ready(report, "tiers", "tier stale", "review by 2026-01-01 (overdue)");
  BOOST_TEST(item(report, "tiers", "tier ready")["ready"] == true);  // control
}

BOOST_AUTO_TEST_CASE(an_audit_log_that_does_not_verify_is_named) {
  const Fixture fixture;
  std::ifstream in(fixture.log);
  std::stringstream text;
  text << in.rdbuf();
  in.close();
  auto content = text.str();
  const auto at = content.find("\"simulation\":\"redteam\"");
  BOOST_TEST_REQUIRE(at != std::string::npos);
  content.replace(at, 22, "\"simulation\":\"innocen\"");
  std::ofstream(fixture.log, std::ios::trunc) << content;
  const auto report = fixture.readiness(1);
  require_not_ready(report, "audit", "log " + fixture.log.string(), "does not verify: line 1");
}

BOOST_AUTO_TEST_CASE(a_missing_operators_group_is_named) {
  const Fixture fixture;
  fixture.config("");
  require_not_ready(fixture.readiness(1), "people", "operators", "no group is configured");
  fixture.config("tbxrt-no-such-group");
  require_not_ready(fixture.readiness(1), "people", "operators", "does not exist");
}

BOOST_AUTO_TEST_CASE(an_overdue_key_is_named) {
  const Fixture fixture;
  fixture.add_key("rt-old", fixture.dir.path() / "keys" / "rt-old.secret", "2026-01-01");
  const auto report = fixture.readiness(1);
  require_not_ready(report, "keys", "key rt-old", "rotation overdue since 2026-01-01");
  BOOST_TEST(item(report, "keys", "key rt-key")["ready"] == true);  // control
}

BOOST_AUTO_TEST_CASE(an_unpinned_command_seen_in_the_audit_log_is_named) {
  const Fixture fixture;
  const TempDir workspace{"tierbox-readiness-ws"};
  const auto ran = fixture.tierbox({"run", "--tier", "ready", "--workspace", workspace.str(), "--", "/usr/bin/true"});
  BOOST_TEST_REQUIRE(ran.status == 0, ran.err);
  const auto report = fixture.readiness(1);
  require_not_ready(report, "tools", "tier ready: /usr/bin/true", "no tier pins it in allowed_commands");
  BOOST_TEST(item(report, "tools", "tier ready: /usr/bin/true")["detail"]["runs"] == 1);
}

BOOST_AUTO_TEST_CASE(a_tier_the_host_cannot_enforce_is_named) {
  Fixture fixture;
  std::ifstream sealed(fs::path(kSourceDir) / "profiles" / "tiers" / "sealed.json");
  auto tier = json::parse(sealed);
  tier["rootfs"] = "image:redteam-absent";
  fixture.dir.write("tiers/needs-image.json", tier.dump());
  fixture.tiers.push_back("needs-image");
  fixture.matrix();
  const auto report = fixture.readiness(1);
  require_not_ready(report, "host", "tier needs-image", "no image named \"redteam-absent\"");
  BOOST_TEST(item(report, "host", "tier ready")["ready"] == true);  // control
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(audit_export_formats)

BOOST_AUTO_TEST_CASE(ocsf_events_have_the_process_activity_required_fields) {
  const Fixture fixture;
  const TempDir workspace{"tierbox-export-ws"};
  BOOST_TEST_REQUIRE(fixture.tierbox({"run", "--tier", "ready", "--workspace", workspace.str(), "--", "/usr/bin/true"}).status == 0);
  const auto exported = fixture.tierbox({"audit", "export", "--format", "ocsf"});
  BOOST_TEST_REQUIRE(exported.status == 0, exported.err);
  const auto lines = lines_of(exported.out);
  std::ifstream log(fixture.log);
  int records = 0;
  for (std::string line; std::getline(log, line);) ++records;
  BOOST_TEST(static_cast<int>(lines.size()) == records);
  int launches = 0, terminations = 0;
  for (const auto& line : lines) {
    const auto event = json::parse(line);
    BOOST_TEST(tierbox::audit::missing_ocsf_required(event) == "", line);
    BOOST_TEST(event["metadata"]["version"] == "1.1.0");
    BOOST_TEST(event["metadata"]["product"]["vendor_name"] == "tierbox");
    BOOST_TEST(event["device"]["hostname"].is_string());
    BOOST_TEST(event["time"].get<long long>() > 1700000000000LL);
    if (event["activity_id"] == 1 && event["metadata"]["event_code"] == "start") {
      ++launches;
      BOOST_TEST(event["type_uid"] == 100701);
      BOOST_TEST(event["actor"]["user"]["name"] == "root");  // the requester
      BOOST_TEST(event["actor"]["authorizations"][0]["decision"] == "allowed");  // the approval decision
      BOOST_TEST(event["actor"]["authorizations"][0]["policy"]["name"].get<std::string>().find("all") == 0);
      BOOST_TEST(event["process"]["pid"].is_number());
      BOOST_TEST(!event["process"]["cmd_line"].get<std::string>().empty());
    }
    if (event["activity_id"] == 2) ++terminations;
  }
  BOOST_TEST(launches == 2);  // the redteam run and the plain one
  BOOST_TEST(terminations == 2);
  // The simulation is labelled; the plain run is not.
  BOOST_TEST(exported.out.find("simulation:redteam") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(cef_lines_and_since) {
  const Fixture fixture;
  const auto exported = fixture.tierbox({"audit", "export", "--format", "cef"});
  BOOST_TEST_REQUIRE(exported.status == 0, exported.err);
  const auto lines = lines_of(exported.out);
  BOOST_TEST_REQUIRE(!lines.empty());
  for (const auto& line : lines) {
    BOOST_TEST(line.rfind("CEF:0|tierbox|tierbox|", 0) == 0, line);
    BOOST_TEST(line.find(" cs2Label=run_id ") != std::string::npos, line);
  }
  BOOST_TEST(exported.out.find("|start|tierbox start started|") != std::string::npos);
  BOOST_TEST(exported.out.find("cs4=redteam") != std::string::npos);
  const auto none = fixture.tierbox({"audit", "export", "--format", "cef", "--since", "2099-01-01"});
  BOOST_TEST(none.status == 0);
  BOOST_TEST(none.out.empty());
  const auto bad = fixture.tierbox({"audit", "export", "--format", "xml"});
  BOOST_TEST(bad.status == 125);
  BOOST_TEST(bad.err.find("--format xml: expected ocsf or cef") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
