// What the governance and audit integration suites share: local users made
// for a test, and a config of the test's own (tiers, approval matrix,
// approvals and governance directories, audit log).
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include "integration/harness.h"

namespace tierbox::testing {

using nlohmann::json;

// Runs an account tool, failing the test when it does not succeed.
inline void must(const std::vector<std::string>& argv) {
  const auto result = run_account_tool(argv);
  BOOST_REQUIRE_MESSAGE(result.status == 0, argv[0] + " failed: " + result.err);
}

// Every record of an audit log, in order.
inline std::vector<json> read_audit_records(const std::string& log) {
  std::vector<json> out;
  std::ifstream in(log);
  std::string line;
  while (std::getline(in, line)) out.push_back(json::parse(line));
  return out;
}

// A group and three users made for this test (names carry the pid, so
// concurrent runs never collide) and removed after it.
struct LocalUsers {
  std::string group = "tbx8g" + std::to_string(::getpid());
  std::string alice = "tbx8a" + std::to_string(::getpid());  // the requester (through sudo)
  std::string bob = "tbx8b" + std::to_string(::getpid());    // an approver
  std::string carol = "tbx8c" + std::to_string(::getpid());  // an approver
  std::string dave = "tbx8d" + std::to_string(::getpid());   // not an approver
  LocalUsers() {
    must({"/usr/sbin/groupadd", group});
    for (const auto& user : {alice, bob, carol})
      must({"/usr/sbin/useradd", "-M", "-N", "-g", "users", "-G", group, "-s", "/usr/sbin/nologin", user});
    must({"/usr/sbin/useradd", "-M", "-N", "-g", "users", "-s", "/usr/sbin/nologin", dave});
  }
  ~LocalUsers() {
    for (const auto& user : {alice, bob, carol, dave}) run_account_tool({"/usr/sbin/userdel", user});
    run_account_tool({"/usr/sbin/groupdel", group});
  }
};

// Its own config dir (tiers, approval matrix, tierbox.json), approvals
// directory, governance state and audit log, readable where approvers need it.
struct Governance {
  TempDir dir{"tierbox-test-gov"};
  std::string config = (dir.path() / "config").string();
  std::string log = (dir.path() / "audit.jsonl").string();
  explicit Governance(const std::string& approver_group) {
    ::chmod(dir.str().c_str(), 0755);
    write_settings({});
    for (const char* tier : {"gov-approver", "gov-two", "gov-timeout", "gov-grant", "gov-open", "gov-confirm", "gov-confirm-quick"})
      dir.write(std::string("config/tiers/") + tier + ".json", R"({"extends": "base"})");
    dir.write("config/approvals.json", json{
        {"tiers", {"gov-*"}},
        {"approvers", approver_group},
        {"approval_timeout", "60s"},
        {"rules", {{{"id", "open"}, {"require", "none"}},
                   {{"id", "one-approver"}, {"when", {{"tiers", {"gov-approver", "gov-grant"}}}}, {"require", "approver"}},
                   {{"id", "two-approvers"}, {"when", {{"tiers", {"gov-two"}}}}, {"require", "two_person"}},
                   {{"id", "quick"}, {"when", {{"tiers", {"gov-timeout"}}}}, {"require", "approver"}, {"timeout", "2s"}},
                   {{"id", "ask-me"}, {"when", {{"tiers", {"gov-confirm"}}}}, {"require", "confirm"}},
                   {{"id", "ask-me-quickly"}, {"when", {{"tiers", {"gov-confirm-quick"}}}}, {"require", "confirm"}, {"timeout", "1s"}}}}}
        .dump());
    ::chmod(config.c_str(), 0755);
    ::chmod((dir.path() / "config/tiers").c_str(), 0755);
    for (const char* file : {"tierbox.json", "approvals.json"}) ::chmod((dir.path() / "config" / file).c_str(), 0644);
  }
  void write_settings(json extra) const {
    extra["approvals_dir"] = dir.str() + "/approvals";
    extra["governance_dir"] = dir.str() + "/state";
    dir.write("config/tierbox.json", extra.dump());
  }
  // Runs get a registry (state directory) of their own, dir/run, for a test
  // that kills a runner and then runs gc: no gc of another test cleans the
  // dead run first. Returns the registry's runs/ directory.
  std::filesystem::path use_own_registry() const {
    write_settings({{"state_dir", dir.str() + "/run"}});
    return dir.path() / "run" / "runs";
  }
  std::vector<std::string> run(const std::string& tier, const std::vector<std::string>& command) const {
    std::vector<std::string> args = {"run", "--config-dir", config, "--audit-log", log, "--tier", tier, "--"};
    args.insert(args.end(), command.begin(), command.end());
    return args;
  }
  // tierbox run by root through sudo, as user: SUDO_USER says who.
  [[nodiscard]] std::vector<std::string> sudo_prefix(const std::string& user) const {
    return {"/usr/bin/env", "SUDO_USER=" + user};
  }
  // tierbox run as another (unprivileged) user.
  ProcessResult as(const std::string& user, std::vector<std::string> args) const {
    std::vector<std::string> argv = {"/usr/bin/setpriv", "--reuid", user, "--regid", "users", "--init-groups", kTierbox};
    args.push_back("--config-dir");
    args.push_back(config);
    argv.insert(argv.end(), args.begin(), args.end());
    return run_process(argv);
  }
  std::vector<json> records() const { return read_audit_records(log); }
  std::vector<json> records_of(const std::string& run_id, const std::string& event) const {
    std::vector<json> out;
    for (auto& record : records())
      if (record.value("run_id", "") == run_id && record.value("event", "") == event) out.push_back(record);
    return out;
  }
  ProcessResult verify() const { return run_tierbox({"audit", "verify", "--config-dir", config, "--audit-log", log}); }
};

// "tierbox: waiting for approval of request ID: ..." -> ID
inline std::string request_id(const std::string& line) {
  std::smatch match;
  if (!std::regex_search(line, match, std::regex("approval of request ([0-9a-f]+)"))) return "";
  return match[1];
}

}  // namespace tierbox::testing
