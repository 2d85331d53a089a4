// `tierbox gc`'s cgroup cleaners against the fixture: what a dead run's
// record lists, and run cgroups no record accounts for, are killed and
// removed; a live run's never, and nothing a record names outside a cgroup
// mount or under another run's name.
#include <sys/stat.h>
#include <utime.h>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <ctime>
#include <fstream>

#include "common/errors.h"
#include "launch/cleanup.h"
#include "unit/fake_cgroup.h"

using namespace tierbox;
using namespace tierbox::stages;
using tierbox::testing::FakeCgroupHost;
using tierbox::testing::TempDir;

namespace {

const std::string kDead = "dead00000000000d";

launch::RunRecord record_listing(const std::string& run_id, const std::vector<std::pair<std::string, int>>& dirs) {
  launch::RunRecord record;
  record.run_id = run_id;
  nlohmann::json list = nlohmann::json::array();
  for (const auto& [path, version] : dirs) list.push_back({{"path", path}, {"version", version}});
  record.resources["cgroup"] = {{"dirs", list}};
  return record;
}

// A lock file nobody holds, last touched long ago: a runner that died
// before writing its record.
void stale_lock(const std::filesystem::path& runs, const std::string& run_id) {
  std::filesystem::create_directories(runs);
  const auto file = runs / (run_id + ".lock");
  std::ofstream{file};
  struct utimbuf old {std::time(nullptr) - 3600, std::time(nullptr) - 3600};
  BOOST_REQUIRE(::utime(file.c_str(), &old) == 0);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cgroup_gc)

BOOST_AUTO_TEST_CASE(run_cgroups_are_found_by_name_at_any_depth) {
  FakeCgroupHost fake;
  const auto host = parse_host_cgroups(fake.this_machine("/process_api/abc"));
  fake.make_cgroup("/sys/fs/cgroup/memory/process_api/abc/tierbox-aaaa000000000001");
  fake.make_cgroup("/sys/fs/cgroup/pids/tierbox-bbbb000000000002");
  fake.make_cgroup("/sys/fs/cgroup/pids/tierbox-runner");
  fake.make_cgroup("/sys/fs/cgroup/freezer/some/where/tierbox-cccc000000000003");
  fake.make_cgroup("/sys/fs/cgroup/unified/tierbox-dddd000000000004");
  auto found = find_run_cgroups(fake, host);
  std::sort(found.begin(), found.end());
  std::vector<std::string> paths;
  for (const auto& [path, version] : found) paths.push_back(path.substr(fake.root().size()) + (version == CgroupVersion::v1 ? " v1" : " v2"));
  const std::vector<std::string> expected = {
      "/sys/fs/cgroup/freezer/some/where/tierbox-cccc000000000003 v1",
      "/sys/fs/cgroup/memory/process_api/abc/tierbox-aaaa000000000001 v1",
      "/sys/fs/cgroup/pids/tierbox-bbbb000000000002 v1",
      "/sys/fs/cgroup/unified/tierbox-dddd000000000004 v2",
  };
  BOOST_TEST(paths == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_dead_runs_recorded_cgroups_are_killed_and_removed) {
  FakeCgroupHost fake;
  const auto host = parse_host_cgroups(fake.this_machine());
  const auto memory = "/sys/fs/cgroup/memory/process_api/abc/tierbox-" + kDead;
  const auto freezer = "/sys/fs/cgroup/freezer/tierbox-" + kDead;
  const auto unified = "/sys/fs/cgroup/unified/tierbox-" + kDead;
  for (const auto& dir : {memory, freezer, unified}) fake.make_cgroup(dir);
  // The runner died in the middle of a kill: the task frozen, still there.
  fake.set_file(freezer + "/freezer.state", "FROZEN\n");
  fake.set_file(freezer + "/cgroup.procs", "900\n");
  fake.set_file(memory + "/cgroup.procs", "900\n");
  fake.set_file(unified + "/cgroup.procs", "901\n");
  const auto record = record_listing(kDead, {{fake.root() + memory, 1}, {fake.root() + freezer, 1}, {fake.root() + unified, 2}});
  const auto removed = launch::clean_up_run_cgroups(record, fake, host);
  BOOST_TEST(removed.size() == 3u);
  BOOST_TEST(std::count(fake.killed.begin(), fake.killed.end(), 900) >= 1);
  BOOST_TEST(fake.writes_to(freezer + "/freezer.state").back() == "THAWED");
  BOOST_TEST(fake.writes_to(unified + "/cgroup.kill") == std::vector<std::string>{"1"}, boost::test_tools::per_element());
  for (const auto& dir : {memory, freezer, unified}) BOOST_TEST(!fake.exists(dir), dir);
  // Idempotent: a second gc finds nothing to do.
  BOOST_TEST(launch::clean_up_run_cgroups(record, fake, host).empty());
}

BOOST_AUTO_TEST_CASE(a_record_is_never_trusted_to_name_other_directories) {
  FakeCgroupHost fake;
  const auto host = parse_host_cgroups(fake.this_machine());
  fake.make_cgroup("/sys/fs/cgroup/pids/tierbox-1111111111111111");  // another run's
  fake.make_cgroup("/sys/fs/cgroup/pids/victim");
  fake.set_file("/sys/fs/cgroup/pids/victim/cgroup.procs", "1\n");
  fake.set_file("/etc/tierbox-" + kDead + "/cgroup.procs", "1\n");
  for (const auto& path : {fake.root() + "/sys/fs/cgroup/pids/tierbox-1111111111111111",
                           fake.root() + "/sys/fs/cgroup/pids/victim",
                           fake.root() + "/etc/tierbox-" + kDead,
                           fake.root() + "/sys/fs/cgroup/pids/../../../../etc/tierbox-" + kDead}) {
    BOOST_CHECK_THROW(launch::clean_up_run_cgroups(record_listing(kDead, {{path, 1}}), fake, host), Error);
  }
  // A v2 path recorded as v1 (or the reverse) is not a run cgroup either.
  fake.make_cgroup("/sys/fs/cgroup/unified/tierbox-" + kDead);
  BOOST_CHECK_THROW(
      launch::clean_up_run_cgroups(record_listing(kDead, {{fake.root() + "/sys/fs/cgroup/unified/tierbox-" + kDead, 1}}), fake, host),
      Error);
  BOOST_TEST(fake.killed.empty());
  BOOST_TEST(fake.removed.empty());
}

BOOST_AUTO_TEST_CASE(orphaned_cgroups_of_dead_runs_go_live_and_unknown_busy_ones_stay) {
  FakeCgroupHost fake;
  const auto host = parse_host_cgroups(fake.this_machine());
  TempDir state("tierbox-state");
  launch::RunRegistry registry(state.path());
  const std::string live = "11ae000000000001", dead = "dead000000000002", unknown_old = "0dd0000000000003",
                    unknown_young = "0909000000000004", unknown_busy = "b054000000000005";
  launch::RunRecord record;
  record.run_id = live;
  auto live_entry = registry.register_run(record);  // this test holds its lock: a live runner
  stale_lock(state.path() / "runs", dead);
  for (const auto& id : {live, dead, unknown_old, unknown_young, unknown_busy})
    fake.make_cgroup("/sys/fs/cgroup/pids/tierbox-" + id);
  fake.set_file("/sys/fs/cgroup/pids/tierbox-" + live + "/cgroup.procs", "300\n");
  fake.set_file("/sys/fs/cgroup/pids/tierbox-" + dead + "/cgroup.procs", "301\n");
  fake.set_file("/sys/fs/cgroup/pids/tierbox-" + unknown_busy + "/cgroup.procs", "302\n");
  fake.set_age("tierbox-" + unknown_old, std::chrono::seconds(60));
  fake.set_age("tierbox-" + unknown_busy, std::chrono::seconds(60));
  fake.set_age("tierbox-" + unknown_young, std::chrono::seconds(2));

  auto removed = launch::clean_up_orphaned_cgroups(registry, fake, host);
  std::vector<std::string> ids;
  for (const auto& [id, path] : removed) ids.push_back(id);
  std::sort(ids.begin(), ids.end());
  BOOST_TEST(ids == (std::vector<std::string>{unknown_old, dead}), boost::test_tools::per_element());
  BOOST_TEST(fake.killed == std::vector<pid_t>{301}, boost::test_tools::per_element());
  BOOST_TEST(fake.exists("/sys/fs/cgroup/pids/tierbox-" + live));
  BOOST_TEST(fake.file("/sys/fs/cgroup/pids/tierbox-" + live + "/cgroup.procs") == "300\n");
  BOOST_TEST(fake.exists("/sys/fs/cgroup/pids/tierbox-" + unknown_young));
  BOOST_TEST(fake.exists("/sys/fs/cgroup/pids/tierbox-" + unknown_busy));
}

BOOST_AUTO_TEST_SUITE_END()
