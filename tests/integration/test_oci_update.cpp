// `tierbox oci update` (runc update) on a running container of the
// untrusted tier (memory 512M, pids 128, cpu 1): the limit written into its
// live cgroups (read back from the files), enforced (a task above a lowered
// memory limit is OOM-killed, a fork beyond a lowered pids limit fails; the
// same task before the update, or below the limit, is the control), the
// tier's value kept above the tier, the JSON form containerd's shim pipes to
// stdin, a control audit record with the limits before and after, and
// one-line refusals.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <filesystem>
#include <sstream>
#include <string>

#include "host_cgroups.h"
#include "oci_fixture.h"
#include "oci_pod_fixture.h"

using namespace tierbox::testing;
using namespace tierbox::testing::oci_fixture;
using namespace tierbox::testing::oci_pod_fixture;

namespace {

// The container's cgroup file of a controller: the v1 name where the
// controller is on v1 (this host), else the v2 name (pure v2 hosts).
std::string limit_file(const Bundle& b, const std::string& id, const std::string& v1_name, const std::string& v2_name) {
  const pid_t init = b.runtime_state(id).at("sandbox_pid").get<int>();
  for (const auto& dir : cgroup_directories_of(init, "tierbox-")) {
    if (fs::exists(dir + "/" + v1_name)) return dir + "/" + v1_name;
    if (fs::exists(dir + "/" + v2_name)) return dir + "/" + v2_name;
  }
  return "";
}

std::string first_line(const std::string& path) {
  auto text = Bundle::read_text(path);
  return text.substr(0, text.find('\n'));
}

// The number after key in a flat keyed cgroup file ("oom_kill 1").
long keyed(const std::string& path, const std::string& key) {
  std::istringstream in(Bundle::read_text(path));
  std::string name;
  long value = 0;
  while (in >> name >> value)
    if (name == key) return value;
  return -1;
}

// A running container of the untrusted tier whose root has dd too.
struct Running {
  Bundle b{bundle_config({"sleep", "600"})};
  std::string id;
  DeleteAtEnd remove;
  explicit Running(std::string name) : id(std::move(name)), remove{b, id} {
    fs::create_symlink("busybox", b.bundle / "rootfs" / "bin" / "dd");
    (void)start_sandbox(b, id, b.bundle);
  }
  [[nodiscard]] ProcessResult update(std::vector<std::string> args, const std::string& stdin_data = "") const {
    std::vector<std::string> all = {"oci", "--root", b.root.string(), "--config-dir", b.config.string(), "--log",
                                    (b.dir.path() / "runtime.log").string(), "update"};
    all.insert(all.end(), args.begin(), args.end());
    SpawnOptions options;
    options.stdin_data = stdin_data;
    options.env = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "TIERBOX_AUDIT_LOG=" + b.audit_log.string()};
    return run_tierbox(all, options);
  }
  [[nodiscard]] std::string log() const { return Bundle::read_text(b.dir.path() / "runtime.log"); }
  [[nodiscard]] ProcessResult allocate(const std::string& megabytes) const {
    return b.oci({"exec", id, "dd", "if=/dev/zero", "of=/dev/null", "bs=" + megabytes + "M", "count=1"});
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(oci_update)

BOOST_AUTO_TEST_CASE(a_lowered_memory_limit_is_written_and_enforced) {
  REQUIRE_BUSYBOX();
  Running c("u1");
  const auto memory = limit_file(c.b, c.id, "memory.limit_in_bytes", "memory.max");
  BOOST_REQUIRE_MESSAGE(!memory.empty(), "no memory cgroup file for the container");
  BOOST_TEST(first_line(memory) == "536870912");  // the tier's 512M, from the create
  const bool v1 = memory.ends_with("memory.limit_in_bytes");
  const auto oom_file = memory.substr(0, memory.rfind('/')) + (v1 ? "/memory.oom_control" : "/memory.events");
  // Control: 48M is allocated under the tier's limit.
  const auto before = c.allocate("48");
  BOOST_TEST(before.status == 0, before.err);
  const long ooms_before = keyed(oom_file, "oom_kill");

  const auto updated = c.update({"--memory", "32m", c.id});
  BOOST_REQUIRE_MESSAGE(updated.status == 0, updated.err);
  BOOST_TEST(first_line(memory) == "33554432");
  // The negative: 48M above the new 32M is killed by the OOM killer.
  const auto above = c.allocate("48");
  BOOST_TEST(above.status != 0, above.err);
  BOOST_TEST(keyed(oom_file, "oom_kill") > ooms_before, Bundle::read_text(oom_file));
  // Below it still works.
  const auto below = c.allocate("8");
  BOOST_TEST(below.status == 0, below.err);

  // Audited as a control record with the limits before and after.
  bool audited = false;
  for (const auto& record : c.b.audit_records()) {
    if (record.at("event") != "control" || record.value("action", "") != "update") continue;
    audited = true;
    BOOST_TEST(record.at("container").at("id") == c.id);
    BOOST_TEST(record.at("result") == "ok");
    BOOST_TEST(record.at("limits").at("before").at("memory") == 536870912);
    BOOST_TEST(record.at("limits").at("after").at("memory") == 33554432);
    BOOST_TEST(record.at("limits").at("after").at("pids") == 128);
  }
  BOOST_TEST(audited);
}

BOOST_AUTO_TEST_CASE(above_the_tier_the_tiers_value_stays) {
  REQUIRE_BUSYBOX();
  Running c("u2");
  const auto memory = limit_file(c.b, c.id, "memory.limit_in_bytes", "memory.max");
  const auto pids = limit_file(c.b, c.id, "pids.max", "pids.max");
  BOOST_REQUIRE(!memory.empty() && !pids.empty());
  const auto lowered = c.update({"--memory", "64m", "--pids-limit", "32", c.id});
  BOOST_REQUIRE_MESSAGE(lowered.status == 0, lowered.err);
  BOOST_TEST(first_line(memory) == "67108864");
  BOOST_TEST(first_line(pids) == "32");
  // Raised far above the tier: back up to the tier's 512M and 128, no more.
  const auto raised = c.update({"--memory", "4g", "--pids-limit", "100000", c.id});
  BOOST_REQUIRE_MESSAGE(raised.status == 0, raised.err);
  BOOST_TEST(first_line(memory) == "536870912");
  BOOST_TEST(first_line(pids) == "128");
  BOOST_TEST(contains(c.log(), "--memory 4G: above tier 'untrusted' limits.memory; the tier's 512M applies"), c.log());
  BOOST_TEST(contains(raised.err, "--pids-limit 100000: above tier 'untrusted' limits.pids; the tier's 128 applies"));
  // -1 ("no limit") is the tier's too.
  BOOST_TEST(c.update({"--pids-limit", "16", c.id}).status == 0);
  BOOST_TEST(c.update({"--pids-limit", "-1", c.id}).status == 0);
  BOOST_TEST(first_line(pids) == "128");
}

BOOST_AUTO_TEST_CASE(a_lowered_pids_limit_makes_a_fork_beyond_it_fail) {
  REQUIRE_BUSYBOX();
  Running c("u3");
  const auto pids = limit_file(c.b, c.id, "pids.max", "pids.max");
  BOOST_REQUIRE(!pids.empty());
  const auto events = pids.substr(0, pids.rfind('/')) + "/pids.events";
  const std::vector<std::string> forks = {"exec", c.id, "sh", "-c", "for i in 1 2 3 4 5 6 7 8; do sleep 1 & done; wait; echo forked"};
  // Control: eight children under the tier's 128.
  const auto before = c.b.oci(forks);
  BOOST_TEST(before.status == 0, before.err);
  BOOST_TEST(contains(before.out, "forked"));
  const long hits_before = keyed(events, "max");

  BOOST_REQUIRE(c.update({"--pids-limit", "4", c.id}).status == 0);
  BOOST_TEST(first_line(pids) == "4");
  const auto after = c.b.oci(forks);
  BOOST_TEST(contains(after.err, "can't fork"), after.out + after.err);
  BOOST_TEST(keyed(events, "max") > hits_before, Bundle::read_text(events));
}

BOOST_AUTO_TEST_CASE(linux_resources_json_on_stdin_as_containerds_shim_sends_it) {
  REQUIRE_BUSYBOX();
  Running c("u4");
  const auto resources = R"({"memory": {"limit": 67108864, "swap": 67108864},
                             "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "", "mems": ""},
                             "pids": {"limit": 64}})";
  const auto updated = c.update({"--resources", "-", c.id}, resources);
  BOOST_REQUIRE_MESSAGE(updated.status == 0, updated.err);
  BOOST_TEST(first_line(limit_file(c.b, c.id, "memory.limit_in_bytes", "memory.max")) == "67108864");
  BOOST_TEST(first_line(limit_file(c.b, c.id, "pids.max", "pids.max")) == "64");
  const auto cpu = limit_file(c.b, c.id, "cpu.cfs_quota_us", "cpu.max");
  BOOST_REQUIRE(!cpu.empty());
  BOOST_TEST(first_line(cpu) == (cpu.ends_with("cpu.max") ? "50000 100000" : "50000"));
  const auto swap = limit_file(c.b, c.id, "memory.memsw.limit_in_bytes", "memory.swap.max");
  if (!swap.empty()) BOOST_TEST(first_line(swap) == (swap.ends_with("memory.swap.max") ? "0" : "67108864"));
  BOOST_TEST(contains(c.log(), "cpu.shares 512: not applied"), c.log());
}

BOOST_AUTO_TEST_CASE(refusals_are_one_line_naming_the_field) {
  REQUIRE_BUSYBOX();
  Running c("u5");
  const auto memory = limit_file(c.b, c.id, "memory.limit_in_bytes", "memory.max");
  const auto refused = [&](const ProcessResult& result, const std::string& part) {
    BOOST_TEST(result.status == 125, result.err);
    BOOST_TEST(contains(result.err, part), result.err);
    BOOST_TEST(std::count(result.err.begin(), result.err.end(), '\n') == 1, result.err);
  };
  refused(c.update({"--memory", "32m", "nope"}), "container \"nope\" does not exist");
  refused(c.update({"--resources", "-", c.id}, "{\"memory\": {\"limit\": 3"), "update --resources -: not JSON");
  refused(c.update({"--memory", "-5", c.id}), "--memory -5: negative (fix:");
  refused(c.update({"--resources", "-", c.id}, R"({"pids": {"limit": -7}})"), "pids.limit: -7 is negative");
  refused(c.update({"--memory", "4096", c.id}), "--memory 4096: below 1 MiB");
  BOOST_TEST(first_line(memory) == "536870912");  // none of them changed anything

  // A stopped container.
  Bundle done(bundle_config({"true"}));
  DeleteAtEnd remove_done{done, "u6"};
  (void)start_sandbox(done, "u6", done.bundle);
  BOOST_REQUIRE(done.wait_for_status("u6", "stopped"));
  const auto stopped = done.oci({"update", "--memory", "32m", "u6"});
  BOOST_TEST(stopped.status == 125);
  BOOST_TEST(contains(stopped.err, "container \"u6\" is stopped (fix: update only a live container)"), stopped.err);
}

BOOST_AUTO_TEST_SUITE_END()
