// The audit log's append: the hash chain, sequence numbers, and concurrent
// writers that must not lose or interleave records.
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include <fstream>
#include <nlohmann/json.hpp>

#include "audit/audit_log.h"
#include "common/errors.h"
#include "common/temp_dir.h"

using namespace tierbox;
using tierbox::testing::TempDir;
using nlohmann::json;

namespace {

std::vector<json> read_records(const std::filesystem::path& file) {
  std::vector<json> records;
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) records.push_back(json::parse(line));
  return records;
}

void check_chain(const std::vector<json>& records) {
  std::string prev = audit::kGenesisHash;
  for (std::size_t i = 0; i < records.size(); ++i) {
    BOOST_TEST(records[i]["seq"].get<std::uint64_t>() == i + 1);
    BOOST_TEST(records[i]["prev"] == prev);
    BOOST_TEST(records[i]["hash"] == audit::record_hash(records[i]));
    prev = records[i]["hash"];
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(audit_log)

BOOST_AUTO_TEST_CASE(records_form_a_hash_chain) {
  TempDir dir;
  audit::AuditLog log(dir.path() / "sub" / "audit.jsonl");
  for (int i = 0; i < 3; ++i) log.append({{"event", "test"}, {"n", i}});
  auto records = read_records(dir.path() / "sub" / "audit.jsonl");
  BOOST_REQUIRE(records.size() == 3u);
  check_chain(records);
  BOOST_TEST(records[0]["prev"] == audit::kGenesisHash);
  BOOST_TEST(records[2]["n"] == 2);
  BOOST_TEST(records[1]["ts"].get<std::string>().back() == 'Z');
  // Any change to a field changes the hash.
  auto changed = records[1];
  changed["n"] = 7;
  BOOST_TEST(audit::record_hash(changed) != records[1]["hash"].get<std::string>());
}

BOOST_AUTO_TEST_CASE(long_records_and_a_long_log_keep_the_tail_right) {
  TempDir dir;
  audit::AuditLog log(dir.path() / "audit.jsonl");
  for (int i = 0; i < 40; ++i) log.append({{"event", "test"}, {"payload", std::string(static_cast<std::size_t>(i * 700), 'x')}});
  auto records = read_records(dir.path() / "audit.jsonl");
  BOOST_REQUIRE(records.size() == 40u);
  check_chain(records);
}

BOOST_AUTO_TEST_CASE(concurrent_writers_lose_and_interleave_nothing) {
  TempDir dir;
  const auto file = dir.path() / "audit.jsonl";
  std::vector<pid_t> writers;
  for (int writer = 0; writer < 8; ++writer) {
    pid_t pid = ::fork();
    if (pid == 0) {
      audit::AuditLog log(file);
      for (int i = 0; i < 200; ++i) log.append({{"event", "test"}, {"writer", writer}, {"i", i}});
      ::_exit(0);
    }
    writers.push_back(pid);
  }
  for (pid_t pid : writers) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    BOOST_TEST((WIFEXITED(status) && WEXITSTATUS(status) == 0));
  }
  auto records = read_records(file);
  BOOST_REQUIRE(records.size() == 1600u);
  check_chain(records);
  // Nothing lost, nothing duplicated, each writer's records in its order.
  std::vector<int> next(8, 0);
  for (const auto& record : records) {
    const auto writer = record["writer"].get<int>();
    BOOST_TEST(record["i"].get<int>() == next[static_cast<std::size_t>(writer)]);
    ++next[static_cast<std::size_t>(writer)];
  }
  for (int count : next) BOOST_TEST(count == 200);
}

BOOST_AUTO_TEST_CASE(a_broken_tail_refuses_to_append) {
  TempDir dir;
  const auto file = dir.path() / "audit.jsonl";
  audit::AuditLog log(file);
  log.append({{"event", "test"}});
  std::ofstream(file, std::ios::app) << "{not json\n";
  BOOST_CHECK_THROW(log.append({{"event", "test"}}), Error);
}

BOOST_AUTO_TEST_CASE(the_path_comes_from_flag_environment_config_default) {
  ::unsetenv("TIERBOX_AUDIT_LOG");
  BOOST_TEST(audit::audit_log_path("", "") == audit::kDefaultAuditLog);
  BOOST_TEST(audit::audit_log_path("", "/c.jsonl") == "/c.jsonl");
  ::setenv("TIERBOX_AUDIT_LOG", "/e.jsonl", 1);
  BOOST_TEST(audit::audit_log_path("", "/c.jsonl") == "/e.jsonl");
  BOOST_TEST(audit::audit_log_path("/f.jsonl", "/c.jsonl") == "/f.jsonl");
  ::unsetenv("TIERBOX_AUDIT_LOG");
}

BOOST_AUTO_TEST_SUITE_END()
