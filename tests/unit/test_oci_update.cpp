// `tierbox oci update` (runc update), its pure parts: the command line and
// the LinuxResources JSON read into a ResourceUpdate, that planned against
// the tier (the ceiling rule of a create, oci/limit_ceiling.h), and the
// cgroup drivers reading and writing a running run's limits on the cgroup
// fixture: cgroup v2 (pure v2 hosts, which this machine is not) and v1.
#include <boost/test/unit_test.hpp>

#include "common/errors.h"
#include "oci/update.h"
#include "policy/profile_loader.h"
#include "profile_text.h"
#include "stages/cgroup.h"
#include "unit/fake_cgroup.h"

using namespace tierbox;
using namespace tierbox::testing;
using nlohmann::json;
using stages::kCgroupUnlimited;
using stages::RunLimits;

namespace {

// The message of the Error f throws ("" if none).
template <typename F>
std::string error_of(F f) {
  try {
    f();
  } catch (const Error& error) {
    return error.what();
  }
  return "";
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

oci::ResourceUpdate from_json(const std::string& text) { return oci::parse_resources(json::parse(text), "update --resources -"); }

const policy::Profile& untrusted() {  // memory 512M, pids 128, cpu 1 (1000m), no memory_swap: no swap
  static const auto tier = policy::load_tier("untrusted", {kShipped});
  return tier;
}

// A container of the untrusted tier as created: the tier's limits, no swap.
RunLimits created_untrusted() { return {512ULL << 20, 0, 128, 1000}; }

}  // namespace

BOOST_AUTO_TEST_SUITE(oci_update_parse)

BOOST_AUTO_TEST_CASE(flags_as_runc_takes_them) {
  const auto parsed = oci::parse_update_arguments(
      {"--memory", "64m", "--memory-swap=128M", "--pids-limit", "16", "--cpu-quota", "50000", "--cpu-period", "100000", "c1"});
  BOOST_TEST(parsed.id == "c1");
  BOOST_TEST(!parsed.resources_file);
  BOOST_TEST(parsed.flags.memory->value == 64LL << 20);
  BOOST_TEST(parsed.flags.memory->field == "--memory");
  BOOST_TEST(parsed.flags.memory_swap->value == 128LL << 20);
  BOOST_TEST(parsed.flags.pids->value == 16);
  BOOST_TEST(parsed.flags.cpu_quota->value == 50000);
  BOOST_TEST(parsed.flags.cpu_period->value == 100000);
  BOOST_TEST(parsed.flags.notes.empty());
  // -1: no limit; 0: leave it.
  const auto unlimited = oci::parse_update_arguments({"--memory", "-1", "--pids-limit", "-1", "c1"});
  BOOST_TEST(unlimited.flags.memory->value == -1);
  BOOST_TEST(unlimited.flags.pids->value == -1);
}

BOOST_AUTO_TEST_CASE(resources_from_stdin_make_the_flags_ignored_as_in_runc) {
  const auto parsed = oci::parse_update_arguments({"--resources", "-", "--memory", "64m", "c1"});
  BOOST_TEST(*parsed.resources_file == "-");
  BOOST_TEST(!parsed.flags.memory);
  BOOST_REQUIRE(parsed.flags.notes.size() == 1u);
  BOOST_TEST(contains(parsed.flags.notes[0], "--memory and the other limit flags are ignored"));
  BOOST_TEST(*oci::parse_update_arguments({"-r", "/tmp/r.json", "c1"}).resources_file == "/tmp/r.json");
}

BOOST_AUTO_TEST_CASE(limits_tierbox_does_not_set_are_noted_rdt_refused) {
  const auto parsed = oci::parse_update_arguments({"--cpu-share", "512", "--cpuset-cpus", "0-1", "--blkio-weight", "0", "c1"});
  BOOST_TEST(parsed.flags.notes.size() == 2u);  // weight 0 says nothing
  BOOST_TEST(contains(parsed.flags.notes[0], "--cpu-share 512: not applied"));
  BOOST_TEST(contains(error_of([] { (void)oci::parse_update_arguments({"--l3-cache-schema", "L3:0=f", "c1"}); }),
                      "Intel RDT is not supported"));
}

BOOST_AUTO_TEST_CASE(malformed_and_negative_flags_are_refused_naming_the_flag) {
  BOOST_TEST(contains(error_of([] { (void)oci::parse_update_arguments({"--memory", "-5", "c1"}); }),
                      "--memory -5: negative (fix:"));
  BOOST_TEST(contains(error_of([] { (void)oci::parse_update_arguments({"--pids-limit", "-2", "c1"}); }),
                      "--pids-limit -2: negative"));
  BOOST_TEST(contains(error_of([] { (void)oci::parse_update_arguments({"--memory", "lots", "c1"}); }),
                      "--memory \"lots\": not a size"));
  BOOST_TEST(contains(error_of([] { (void)oci::parse_update_arguments({"--cpu-quota", "1.5", "c1"}); }),
                      "--cpu-quota \"1.5\": not an integer"));
  BOOST_TEST(contains(error_of([] { (void)oci::parse_update_arguments({"--memory", "64m"}); }), "needs a container id"));
  BOOST_TEST(contains(error_of([] { (void)oci::parse_update_arguments({"--memory"}); }), "--memory needs a value"));
  BOOST_TEST(contains(error_of([] { (void)oci::parse_update_arguments({"--frobnicate", "c1"}); }), "unknown option"));
  BOOST_TEST(contains(error_of([] { (void)oci::parse_update_arguments({"c1", "c2"}); }), "unexpected \"c2\""));
}

BOOST_AUTO_TEST_CASE(linux_resources_json_as_containerd_sends_it) {
  // What containerd's CRI passes for a pod resize (shares and cpusets included).
  const auto update = from_json(R"({"memory": {"limit": 134217728, "swap": 134217728},
      "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "", "mems": ""},
      "pids": {"limit": 32}, "unified": {}})");
  BOOST_TEST(update.memory->value == 134217728);
  BOOST_TEST(update.memory->field == "memory.limit");
  BOOST_TEST(update.memory_swap->value == 134217728);
  BOOST_TEST(update.cpu_quota->value == 50000);
  BOOST_TEST(update.cpu_period->value == 100000);
  BOOST_TEST(update.pids->value == 32);
  BOOST_REQUIRE_MESSAGE(update.notes.size() == 1u, json(update.notes).dump());
  BOOST_TEST(update.notes[0] == "cpu.shares 512: not applied (tierbox limits memory, memory+swap, pids and the CPU quota)");
}

BOOST_AUTO_TEST_CASE(malformed_json_shapes_and_negative_numbers_are_refused) {
  BOOST_TEST(contains(error_of([] { (void)from_json(R"([1])"); }), "update --resources -: the resources: not a JSON object"));
  BOOST_TEST(contains(error_of([] { (void)from_json(R"({"memory": 5})"); }), "memory: not an object"));
  BOOST_TEST(contains(error_of([] { (void)from_json(R"({"memory": {"limit": "64m"}})"); }), "memory.limit: not an integer"));
  BOOST_TEST(contains(error_of([] { (void)from_json(R"({"memory": {"limit": -5}})"); }), "memory.limit: -5 is negative (fix:"));
  BOOST_TEST(contains(error_of([] { (void)from_json(R"({"pids": {"limit": -3}})"); }), "pids.limit: -3 is negative"));
  BOOST_TEST(contains(error_of([] { (void)from_json(R"({"cpu": {"period": -1}})"); }), "cpu.period: -1 is negative"));
  BOOST_TEST(contains(error_of([] { (void)from_json(R"({"memory": {"limit": 18446744073709551615}})"); }), "too large"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(oci_update_plan)

BOOST_AUTO_TEST_CASE(below_the_tier_applies) {
  const auto plan = oci::plan_update(from_json(R"({"memory": {"limit": 67108864}, "pids": {"limit": 16},
                                                   "cpu": {"quota": 50000, "period": 100000}})"),
                                     untrusted(), created_untrusted());
  BOOST_TEST(*plan.change.memory == 64ULL << 20);
  BOOST_TEST(!plan.change.memory_swap);  // the swap on top stays as it is
  BOOST_TEST(*plan.change.pids == 16u);
  BOOST_TEST(*plan.change.cpu_millicores == 500u);
  BOOST_TEST(plan.notes.empty());
}

BOOST_AUTO_TEST_CASE(above_the_tier_the_tiers_applies_noted_as_at_create) {
  const auto plan = oci::plan_update(from_json(R"({"memory": {"limit": 4294967296}, "pids": {"limit": 4096},
                                                   "cpu": {"quota": 400000}})"),
                                     untrusted(), {64ULL << 20, 0, 16, 500});
  // Raised back up to the tier's, never above it.
  BOOST_TEST(*plan.change.memory == 512ULL << 20);
  BOOST_TEST(*plan.change.pids == 128u);
  BOOST_TEST(*plan.change.cpu_millicores == 1000u);
  BOOST_REQUIRE(plan.notes.size() == 3u);
  BOOST_TEST(plan.notes[0] == "memory.limit 4G: above tier 'untrusted' limits.memory; the tier's 512M applies");
  BOOST_TEST(plan.notes[1] == "pids.limit 4096: above tier 'untrusted' limits.pids; the tier's 128 applies");
  BOOST_TEST(plan.notes[2] == "cpu.quota 4000m CPU: above tier 'untrusted' limits.cpu; the tier's 1000m CPU applies");
}

BOOST_AUTO_TEST_CASE(no_limit_means_the_tiers_and_none_only_where_the_tier_has_none) {
  const auto plan = oci::plan_update(oci::parse_update_arguments({"--memory", "-1", "--pids-limit", "-1", "c1"}).flags,
                                     untrusted(), {64ULL << 20, 0, 16, 1000});
  BOOST_TEST(*plan.change.memory == 512ULL << 20);
  BOOST_TEST(*plan.change.memory_swap == 0u);  // runc: memory -1 without swap is swap -1 too: the tier's none
  BOOST_TEST(*plan.change.pids == 128u);
  BOOST_TEST(contains(plan.notes[0], "--memory -1 (no limit): tier 'untrusted' limits.memory; the tier's 512M applies"));
  // base has no cpu limit: -1 is "max" there.
  static const auto base = policy::load_tier("base", {kShipped});
  const auto unlimited = oci::plan_update(oci::parse_update_arguments({"--cpu-quota", "-1", "c1"}).flags, base,
                                          {2ULL << 30, 0, 1024, 500});
  BOOST_TEST(*unlimited.change.cpu_millicores == kCgroupUnlimited);
}

BOOST_AUTO_TEST_CASE(zero_leaves_a_limit_as_it_is) {
  const auto plan = oci::plan_update(from_json(R"({"memory": {"limit": 0}, "pids": {"limit": 0}, "cpu": {"quota": 0}})"),
                                     untrusted(), created_untrusted());
  BOOST_TEST(!plan.change.memory);
  BOOST_TEST(!plan.change.pids);
  BOOST_TEST(!plan.change.cpu_millicores);
}

BOOST_AUTO_TEST_CASE(swap_is_memory_plus_swap_and_the_tiers_swap_is_its_ceiling) {
  // untrusted grants no swap: memory+swap above memory leaves none.
  auto plan = oci::plan_update(from_json(R"({"memory": {"limit": 67108864, "swap": 134217728}})"), untrusted(),
                               created_untrusted());
  BOOST_TEST(*plan.change.memory == 64ULL << 20);
  BOOST_TEST(*plan.change.memory_swap == 0u);
  BOOST_TEST(plan.notes.at(0) == "swap (memory.swap less memory) 64M: above tier 'untrusted' limits.memory_swap; the tier's 0 applies");
  // A tier with 256M of swap: 64M on top applies.
  TempDir config;
  const auto swapping = load_text(config, R"({"extends": "untrusted", "limits": {"memory_swap": "256M"}})", "swapping");
  plan = oci::plan_update(from_json(R"({"memory": {"limit": 67108864, "swap": 134217728}})"), swapping, created_untrusted());
  BOOST_TEST(*plan.change.memory_swap == 64ULL << 20);
  BOOST_TEST(contains(error_of([&] { (void)oci::plan_update(from_json(R"({"memory": {"limit": 67108864, "swap": 33554432}})"),
                                                            swapping, created_untrusted()); }),
                      "memory.swap 32M: below the memory limit 64M"));
}

BOOST_AUTO_TEST_CASE(what_tierbox_cannot_set_is_refused_naming_the_field) {
  BOOST_TEST(contains(error_of([] { (void)oci::plan_update(from_json(R"({"memory": {"limit": 4096}})"), untrusted(),
                                                          created_untrusted()); }),
                      "memory.limit 4096: below 1 MiB"));
  // A run without a cpu cgroup (base sets no cpu limit) cannot be given one.
  static const auto base = policy::load_tier("base", {kShipped});
  BOOST_TEST(contains(error_of([] { (void)oci::plan_update(from_json(R"({"cpu": {"quota": 50000}})"), base,
                                                          {2ULL << 30, 0, 1024, std::nullopt}); }),
                      "cpu.quota: the container's run has no cpu cgroup file"));
  // ...and -1 there asks for what it has: nothing to do.
  BOOST_TEST(!oci::plan_update(from_json(R"({"cpu": {"quota": -1}})"), base, {2ULL << 30, 0, 1024, std::nullopt})
                  .change.cpu_millicores);
}

BOOST_AUTO_TEST_CASE(a_period_other_than_tierboxs_is_taken_as_a_share) {
  const auto plan = oci::plan_update(from_json(R"({"cpu": {"quota": 25000, "period": 50000}})"), untrusted(),
                                     created_untrusted());
  BOOST_TEST(*plan.change.cpu_millicores == 500u);
  BOOST_TEST(contains(plan.notes.at(0), "cpu.period 50000: tierbox keeps its 100 ms period; cpu.quota 25000 of it is 500m CPU"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(cgroup_update)

const std::string kRun = "c0ffee000000000a";

BOOST_AUTO_TEST_CASE(v2_reads_and_writes_memory_max_swap_max_pids_max_cpu_max) {
  FakeCgroupHost fake;
  const auto host = stages::parse_host_cgroups(fake.pure_v2("/system.slice/tierbox.service"));
  fake.set_file("/sys/fs/cgroup/system.slice/tierbox.service/cgroup.subtree_control", "cpu memory pids\n");
  const std::string dir = "/sys/fs/cgroup/system.slice/tierbox.service/tierbox-" + kRun;
  fake.make_cgroup(dir);
  fake.set_file(dir + "/memory.current", "4096\n");
  fake.set_file(dir + "/pids.current", "2\n");
  fake.set_file(dir + "/memory.max", "536870912\n");
  fake.set_file(dir + "/memory.swap.max", "0\n");
  fake.set_file(dir + "/pids.max", "128\n");
  fake.set_file(dir + "/cpu.max", "100000 100000\n");
  stages::AttachedRunCgroups cgroups(fake, host, kRun, {{fake.root() + dir, stages::CgroupVersion::v2}});
  const auto now = cgroups.limits();
  BOOST_TEST(*now.memory == 512ULL << 20);
  BOOST_TEST(*now.memory_swap == 0u);
  BOOST_TEST(*now.pids == 128u);
  BOOST_TEST(*now.cpu_millicores == 1000u);

  const auto plan = oci::plan_update(from_json(R"({"memory": {"limit": 67108864}, "pids": {"limit": 16},
                                                   "cpu": {"quota": 50000}})"),
                                     untrusted(), now);
  cgroups.set_limits(plan.change);
  BOOST_TEST(fake.writes_to(dir + "/memory.max") == std::vector<std::string>{"67108864"}, boost::test_tools::per_element());
  BOOST_TEST(fake.writes_to(dir + "/memory.swap.max").empty());
  BOOST_TEST(fake.writes_to(dir + "/pids.max") == std::vector<std::string>{"16"}, boost::test_tools::per_element());
  BOOST_TEST(fake.writes_to(dir + "/cpu.max") == std::vector<std::string>{"50000 100000"}, boost::test_tools::per_element());
  BOOST_TEST(*cgroups.limits().memory == 64ULL << 20);
  // No limit where the tier has none: "max".
  cgroups.set_limits({std::nullopt, std::nullopt, kCgroupUnlimited, kCgroupUnlimited});
  BOOST_TEST(fake.file(dir + "/pids.max") == "max");
  BOOST_TEST(fake.file(dir + "/cpu.max") == "max 100000");
  BOOST_TEST(*cgroups.limits().pids == kCgroupUnlimited);
}

BOOST_AUTO_TEST_CASE(v1_orders_memory_against_memsw_both_ways) {
  FakeCgroupHost fake;
  const auto host = stages::parse_host_cgroups(fake.this_machine());
  const std::string memory = "/sys/fs/cgroup/memory/process_api/abc/tierbox-" + kRun;
  const std::string pids = "/sys/fs/cgroup/pids/tierbox-" + kRun;
  const std::string cpu = "/sys/fs/cgroup/cpu/tierbox-" + kRun;
  for (const auto& dir : {memory, pids, cpu}) fake.make_cgroup(dir);
  fake.set_file(memory + "/memory.usage_in_bytes", "4096\n");
  fake.set_file(memory + "/memory.limit_in_bytes", "536870912\n");
  fake.set_file(memory + "/memory.memsw.limit_in_bytes", "536870912\n");
  fake.set_file(pids + "/pids.current", "2\n");
  fake.set_file(pids + "/pids.max", "128\n");
  fake.set_file(cpu + "/cpu.cfs_quota_us", "100000\n");
  stages::AttachedRunCgroups cgroups(fake, host, kRun,
                                     {{fake.root() + memory, stages::CgroupVersion::v1},
                                      {fake.root() + pids, stages::CgroupVersion::v1},
                                      {fake.root() + cpu, stages::CgroupVersion::v1}});
  const auto now = cgroups.limits();
  BOOST_TEST(*now.memory == 512ULL << 20);
  BOOST_TEST(*now.memory_swap == 0u);
  BOOST_TEST(*now.cpu_millicores == 1000u);
  // Lowering: memory first, then memsw (the kernel keeps memsw >= memory).
  cgroups.set_limits({64ULL << 20, std::nullopt, 16, 250});
  BOOST_TEST(fake.writes.size() == 4u);
  BOOST_TEST(fake.writes.at(0).path == memory + "/memory.limit_in_bytes");
  BOOST_TEST(fake.writes.at(0).text == "67108864");
  BOOST_TEST(fake.writes.at(1).path == memory + "/memory.memsw.limit_in_bytes");
  BOOST_TEST(fake.writes.at(1).text == "67108864");
  BOOST_TEST(fake.file(pids + "/pids.max") == "16");
  BOOST_TEST(fake.file(cpu + "/cpu.cfs_quota_us") == "25000");
  // Raising: memsw first, then memory.
  fake.writes.clear();
  cgroups.set_limits({512ULL << 20, std::nullopt, std::nullopt, std::nullopt});
  BOOST_TEST(fake.writes.size() == 2u);
  BOOST_TEST(fake.writes.at(0).path == memory + "/memory.memsw.limit_in_bytes");
  BOOST_TEST(fake.writes.at(0).text == "536870912");
  BOOST_TEST(fake.writes.at(1).path == memory + "/memory.limit_in_bytes");
  // No limit: -1 on v1.
  cgroups.set_limits({kCgroupUnlimited, kCgroupUnlimited, std::nullopt, kCgroupUnlimited});
  BOOST_TEST(fake.file(memory + "/memory.memsw.limit_in_bytes") == "-1");
  BOOST_TEST(fake.file(memory + "/memory.limit_in_bytes") == "-1");
  BOOST_TEST(fake.file(cpu + "/cpu.cfs_quota_us") == "-1");
}

BOOST_AUTO_TEST_CASE(a_limit_the_run_has_no_file_for_is_refused_and_nothing_written) {
  FakeCgroupHost fake;
  const auto host = stages::parse_host_cgroups(fake.this_machine());
  const std::string pids = "/sys/fs/cgroup/pids/tierbox-" + kRun;
  fake.make_cgroup(pids);
  fake.set_file(pids + "/pids.current", "2\n");
  stages::AttachedRunCgroups cgroups(fake, host, kRun, {{fake.root() + pids, stages::CgroupVersion::v1}});
  BOOST_TEST(contains(error_of([&] { cgroups.set_limits({64ULL << 20, std::nullopt, 16, std::nullopt}); }),
                      "limits.memory: the run has no cgroup file for it"));
  BOOST_TEST(fake.writes.empty());
}

BOOST_AUTO_TEST_SUITE_END()
