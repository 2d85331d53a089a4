// Staged runs' limits (docs/staged-writes.md, "Disk limit"): limits.disk
// on the layer (ENOSPC, the host's free space untouched, refused where it
// cannot be enforced) and limits.output through the relay, also in a tier
// with a network of its own (test hosts in network namespaces of this test).
#include <sys/statvfs.h>

#include <boost/test/unit_test.hpp>

#include "integration/harness.h"
#include "integration/net_harness.h"
#include "integration/staged_fixture.h"

using namespace tierbox;
using namespace tierbox::testing;
using namespace tierbox::testing::staged_fixture;
using nlohmann::json;
namespace fs = std::filesystem;

BOOST_AUTO_TEST_SUITE(staged_limits)

BOOST_AUTO_TEST_CASE(writing_past_the_disk_limit_gets_enospc) {
  Staged staged;
  staged.populate({{"f", "f\n"}});
  struct statvfs before {};
  BOOST_REQUIRE(::statvfs(staged.workspace.str().c_str(), &before) == 0);
  // 512 MiB asked, 8 MiB allowed.
  const auto [run_id, result] = staged.run("dd if=/dev/zero of=big bs=1M count=512 2>&1; echo dd=$?", "staged-disk");
  struct statvfs after {};
  BOOST_REQUIRE(::statvfs(staged.workspace.str().c_str(), &after) == 0);
  BOOST_TEST(result.out.find("No space left on device") != std::string::npos, result.out);
  BOOST_TEST(result.out.find("dd=1") != std::string::npos);
  const auto changes = staged.changes_json(run_id);
  BOOST_TEST(changes["summary"]["bytes_written"].get<std::uint64_t>() <= (8ULL << 20));
  // The host's disk: the layer is memory, so the free space moves only by
  // what other processes of this machine did meanwhile (512 MiB would show).
  const auto free_before = static_cast<double>(before.f_bavail) * before.f_frsize;
  const auto free_after = static_cast<double>(after.f_bavail) * after.f_frsize;
  BOOST_TEST_MESSAGE("free space before " << free_before << ", after " << free_after);
  BOOST_TEST(free_before - free_after <= 64.0 * (1 << 20));
  BOOST_TEST(!fs::exists(staged.workspace.path() / "big"));
}

BOOST_AUTO_TEST_CASE(a_writable_bind_under_a_required_disk_limit_is_refused) {
  Staged staged;
  TempDir data("tierbox-test-staged-data");
  const auto run = [&](const std::string& flag) {
    return run_tierbox({"run", "--config-dir", staged.config, "--audit-log", staged.log, "--tier", "staged-bindrw",
                        "--workspace", staged.workspace.str(), flag, data.str() + ":/data", "--", "/bin/true"});
  };
  const auto refused = run("--bind-rw");
  BOOST_TEST(refused.status == 126, refused.err);
  BOOST_TEST(refused.err.find("limits.disk cannot be enforced on a writable bind") != std::string::npos, refused.err);
  BOOST_TEST(run("--bind").status == 0);  // control: a read-only bind is fine
}

BOOST_AUTO_TEST_CASE(output_past_the_limit_is_cut_and_reported) {
  Staged staged;
  const auto result_file = staged.dir.str() + "/result.json";
  const std::string script = "head -c 5000 /dev/zero | tr '\\0' a; echo; echo to-stderr >&2";
  // -v: the runner's own messages (and Landlock's warnings on older
  // kernels) go to the caller's stderr, never through the task's count.
  const auto cut = run_tierbox({"run", "-v", "--config-dir", staged.config, "--audit-log", staged.log, "--tier",
                                "staged-output", "--result", result_file, "--", "/bin/sh", "-c", script});
  BOOST_TEST(cut.status == 0, cut.err);
  BOOST_TEST(cut.out.size() == 1024u);
  BOOST_TEST(cut.out.find_first_not_of('a') == std::string::npos);
  BOOST_TEST(cut.err.find("tierbox: output cut: the task wrote more than limits.output (1K)") != std::string::npos, cut.err);
  BOOST_TEST(cut.err.find("tierbox: debug:") != std::string::npos);  // control: the runner did write to stderr
  BOOST_TEST(cut.err.find("to-stderr") == std::string::npos);        // the task's stderr past the limit: cut
  const auto result = json::parse(read_regular_file(result_file, "result", 1 << 20));
  BOOST_TEST(result["output"]["cut"] == true);
  BOOST_TEST(result["output"]["bytes"].get<std::uint64_t>() == 5011u);  // 5000 + "\n" + "to-stderr\n", nothing of the runner's
  // Control: the same task without an output limit is not cut.
  const auto whole = run_tierbox({"run", "--config-dir", staged.config, "--audit-log", staged.log, "--tier", "untrusted",
                                  "--", "/bin/sh", "-c", script});
  BOOST_TEST(whole.out.size() == 5001u);
  BOOST_TEST(whole.err.find("output cut") == std::string::npos);
}

// limits.output where the sandbox has a network of its own (allowlist: a
// veth pair, the network helper, nft rules, a resolver): the relay still
// cuts at exactly the limit and the run still ends, and the task's
// connection to the listed test host (in a network namespace of this test)
// still works. Control: the same tier, the task writing less than the limit.
BOOST_AUTO_TEST_CASE(output_is_cut_in_an_allowlist_tier_too) {
  constexpr std::uint16_t kPort = 8080;
  TestHost host({"198.51.100"}, {kPort}, {});
  Staged staged;
  staged.dir.write("config/tiers/staged-output-allowlist.json",
                   json{{"extends", "untrusted"},
                        {"limits", {{"output", "1K"}}},
                        {"network", {{"mode", "allowlist"}, {"allow", {host.address() + ":8080/tcp"}}}}}
                       .dump());
  Workspace workspace;
  const auto result_file = staged.dir.str() + "/result.json";
  const auto run = [&](const std::string& script) {
    return run_tierbox({"run", "--config-dir", staged.config, "--audit-log", staged.log, "--tier",
                        "staged-output-allowlist", "--workspace", workspace.str(), "--result", result_file, "--",
                        "/bin/sh", "-c", script});
  };
  const std::string exchange = "./probe exchange tcp " + host.address() + " 8080";
  const auto cut = run(exchange + " && head -c 5000 /dev/zero | tr '\\0' a; echo to-stderr >&2");
  BOOST_TEST(cut.status == 0, cut.err);
  BOOST_TEST(cut.out.size() == 1024u);
  BOOST_TEST(cut.out.find("\"exchanged\":true") != std::string::npos, cut.out.substr(0, 200));
  BOOST_TEST(cut.err.find("tierbox: output cut: the task wrote more than limits.output (1K)") != std::string::npos, cut.err);
  BOOST_TEST(cut.err.find("to-stderr") == std::string::npos);
  BOOST_TEST(host.received_bytes(kPort) > 0);
  auto result = json::parse(read_regular_file(result_file, "result", 1 << 20));
  BOOST_TEST(result["output"]["cut"] == true, result.dump());
  BOOST_TEST(result["output"]["bytes"].get<std::uint64_t>() > 5000u);

  const auto whole = run(exchange);
  BOOST_TEST(whole.status == 0, whole.err);
  BOOST_TEST(whole.out.find("\"exchanged\":true") != std::string::npos, whole.out);
  BOOST_TEST(whole.err.find("output cut") == std::string::npos, whole.err);
  result = json::parse(read_regular_file(result_file, "result", 1 << 20));
  BOOST_TEST(result["output"]["cut"] == false, result.dump());
  BOOST_TEST(result["output"]["bytes"].get<std::uint64_t>() == whole.out.size());
}

BOOST_AUTO_TEST_SUITE_END()
