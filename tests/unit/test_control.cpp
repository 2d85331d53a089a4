// The control commands' pure parts: who may do what (policy/
// control_permission.h), the control socket's request lines, run id
// prefixes, and a running run's cgroups attached from its record, against
// the cgroup fixture (cgroup v2's cgroup.freeze, which this host's kernel
// has no hierarchy to use for, and the v1 freezer).
#include <sys/stat.h>
#include <utime.h>

#include <boost/test/unit_test.hpp>

#include <ctime>
#include <fstream>

#include "common/errors.h"
#include "common/process_info.h"
#include "control/control_protocol.h"
#include "control/control_state.h"
#include "control/run_control.h"
#include "policy/control_permission.h"
#include "stages/cgroup.h"
#include "unit/fake_cgroup.h"

using namespace tierbox;
using namespace tierbox::stages;
using policy::ControlAction;
using tierbox::testing::FakeCgroupHost;

BOOST_AUTO_TEST_SUITE(control_permission)

const policy::RunOwner kAlicesRun{1000, std::nullopt};

BOOST_AUTO_TEST_CASE(root_and_operators_may_do_everything) {
  for (auto action : {ControlAction::status, ControlAction::stop, ControlAction::kill, ControlAction::freeze,
                      ControlAction::thaw, ControlAction::isolate, ControlAction::panic}) {
    BOOST_TEST(policy::decide_control({0, "root", false}, action, kAlicesRun, "").allowed);
    BOOST_TEST(policy::decide_control({2000, "olga", true}, action, kAlicesRun, "ops").allowed);
  }
}

BOOST_AUTO_TEST_CASE(the_requester_may_stop_but_not_thaw_or_panic) {
  const policy::ControlActor alice{1000, "alice", false};
  for (auto action : {ControlAction::status, ControlAction::stop, ControlAction::kill, ControlAction::freeze,
                      ControlAction::isolate})
    BOOST_TEST(policy::decide_control(alice, action, kAlicesRun, "ops").allowed);
  BOOST_TEST(!policy::decide_control(alice, ControlAction::thaw, kAlicesRun, "ops").allowed);
  BOOST_TEST(!policy::decide_control(alice, ControlAction::panic, kAlicesRun, "ops").allowed);
}

BOOST_AUTO_TEST_CASE(a_run_root_started_through_sudo_belongs_to_the_sudo_user) {
  const policy::RunOwner through_sudo{0, 1000};
  BOOST_TEST(policy::decide_control({1000, "alice", false}, ControlAction::stop, through_sudo, "").allowed);
  BOOST_TEST(!policy::decide_control({1001, "bob", false}, ControlAction::stop, through_sudo, "").allowed);
  // SUDO_UID counts only for a run root started.
  const policy::RunOwner bobs{1001, 1000};
  BOOST_TEST(!policy::decide_control({1000, "alice", false}, ControlAction::stop, bobs, "").allowed);
}

// A full control socket makes room for a heavier newcomer only
// (control/control_server.h): root over an operator over the requester over
// anyone else, so holding connections keeps no one above from a stop.
BOOST_AUTO_TEST_CASE(connections_weigh_root_then_operators_then_the_requester_then_anyone) {
  const auto weight = [](policy::ControlActor actor, policy::RunOwner owner = kAlicesRun) {
    return policy::control_weight(actor, owner);
  };
  BOOST_TEST(weight({0, "root", false}) == 3);
  BOOST_TEST(weight({2000, "olga", true}) == 2);
  BOOST_TEST(weight({1000, "alice", true}) == 2);  // an operator who asked for the run weighs as an operator
  BOOST_TEST(weight({1000, "alice", false}) == 1);
  BOOST_TEST(weight({1001, "bob", false}) == 0);
  BOOST_TEST(weight({1000, "alice", false}, {0, 1000}) == 1);  // root's run for sudo's alice
  BOOST_TEST(weight({1000, "alice", false}, {1001, 1000}) == 0);  // SUDO_UID counts for root's runs only
}

BOOST_AUTO_TEST_CASE(anyone_else_is_refused_with_the_reason_and_the_fix) {
  const auto refused = policy::decide_control({1001, "bob", false}, ControlAction::stop, kAlicesRun, "ops");
  BOOST_TEST(!refused.allowed);
  BOOST_TEST(refused.reason.find("uid 1001 (bob) is not the requester of this run") != std::string::npos, refused.reason);
  BOOST_TEST(refused.reason.find("operators group ops") != std::string::npos, refused.reason);
  const auto no_group = policy::decide_control({1001, "bob", false}, ControlAction::status, kAlicesRun, "");
  BOOST_TEST(!no_group.allowed);
  BOOST_TEST(no_group.reason.find("no operators group is configured") != std::string::npos, no_group.reason);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(control_requests)

BOOST_AUTO_TEST_CASE(request_lines_round_trip_and_junk_is_rejected) {
  launch::ControlRequest stop;
  stop.action = ControlAction::stop;
  stop.grace = std::chrono::milliseconds(2500);
  BOOST_TEST(launch::format_control_request(stop) == "stop 2500");
  const auto parsed = launch::parse_control_request("stop 2500");
  BOOST_TEST_REQUIRE(parsed.has_value());
  BOOST_TEST(parsed->grace.count() == 2500);
  BOOST_TEST(launch::parse_control_request("panic kill")->kill);
  for (const char* junk : {"", "stop", "stop -1", "stop 1x", "stop 99999999999", "freeze now", "panic now", "reboot",
                           "kill 1"})
    BOOST_TEST(!launch::parse_control_request(junk).has_value(), junk);
  BOOST_TEST(!launch::parse_control_request(std::string(100, 'a')).has_value());
}

BOOST_AUTO_TEST_CASE(a_run_id_prefix_must_name_exactly_one_run) {
  const std::vector<std::string> ids = {"aaaa000000000001", "aaaa000000000002", "bbbb000000000003"};
  BOOST_TEST(launch::resolve_run_id(ids, "bbbb") == "bbbb000000000003");
  BOOST_TEST(launch::resolve_run_id(ids, "aaaa000000000002") == "aaaa000000000002");
  BOOST_CHECK_EXCEPTION(launch::resolve_run_id(ids, "aaaa"), Error,
                        [](const Error& e) { return std::string(e.what()).find("ambiguous") != std::string::npos; });
  BOOST_CHECK_EXCEPTION(launch::resolve_run_id(ids, "cc"), Error,
                        [](const Error& e) { return std::string(e.what()).find("tierbox ps") != std::string::npos; });
}

BOOST_AUTO_TEST_CASE(the_audit_event_has_the_shared_shape) {
  const nlohmann::json by = {{"uid", 0}, {"name", "root"}, {"sudo_user", nullptr}};
  const auto event = launch::control_audit_event("freeze", "aaaa000000000001", "ok", by);
  BOOST_TEST(event == nlohmann::json({{"event", "control"}, {"action", "freeze"}, {"run_id", "aaaa000000000001"},
                                      {"result", "ok"}, {"by", by}}));
}

BOOST_AUTO_TEST_CASE(start_time_is_field_22_counted_after_the_last_parenthesis) {
  const std::string stat = "42 (a) b) (c) S 1 42 42 0 -1 4194560 100 0 0 0 5 6 0 0 20 0 1 0 987654 1000 10";
  BOOST_TEST((parse_process_start_time(stat) == std::optional<std::uint64_t>(987654)));
  BOOST_TEST(!parse_process_start_time("42 (a) S 1").has_value());
  BOOST_TEST(process_start_time(::getpid()).has_value());
}

BOOST_AUTO_TEST_CASE(gc_removes_control_files_only_of_runs_without_an_entry) {
  tierbox::testing::TempDir state;
  launch::RunRegistry registry(state.path());
  std::filesystem::create_directories(registry.dir());
  std::filesystem::create_directories(registry.control_dir());
  const auto make_old = [](const std::filesystem::path& file) {
    std::ofstream{file};
    struct utimbuf old {std::time(nullptr) - 3600, std::time(nullptr) - 3600};
    BOOST_REQUIRE(::utime(file.c_str(), &old) == 0);
  };
  // aaaa: no entry left (stray); bbbb: still registered; cccc: stray but
  // just made (a runner that is starting).
  make_old(registry.control_state_file("aaaa000000000001"));
  make_old(registry.control_socket("aaaa000000000001"));
  make_old(registry.control_state_file("bbbb000000000002"));
  make_old(registry.control_socket("bbbb000000000002"));
  make_old(registry.dir() / "bbbb000000000002.lock");
  std::ofstream{registry.control_socket("cccc000000000003")};
  auto removed = registry.forget_strays();
  std::sort(removed.begin(), removed.end());
  BOOST_TEST(removed == (std::vector<std::string>{registry.control_socket("aaaa000000000001").string(),
                                                  registry.control_state_file("aaaa000000000001").string()}),
             boost::test_tools::per_element());
  BOOST_TEST(std::filesystem::exists(registry.control_socket("bbbb000000000002")));
  BOOST_TEST(std::filesystem::exists(registry.control_state_file("bbbb000000000002")));
  BOOST_TEST(std::filesystem::exists(registry.control_socket("cccc000000000003")));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(control_cgroups)

const std::string kRun = "c0ffee0000000009";

BOOST_AUTO_TEST_CASE(v2_freeze_and_thaw_write_cgroup_freeze_and_read_cgroup_events) {
  FakeCgroupHost fake;
  const auto host = parse_host_cgroups(fake.pure_v2("/system.slice/tierbox.service"));
  const std::string dir = "/sys/fs/cgroup/system.slice/tierbox.service/tierbox-" + kRun;
  fake.make_cgroup(dir);
  fake.set_file(dir + "/cgroup.procs", "700\n701\n");
  fake.set_file(dir + "/memory.current", "4096\n");
  fake.set_file(dir + "/pids.current", "2\n");
  fake.set_file(dir + "/cpu.stat", "usage_usec 1500\n");
  AttachedRunCgroups cgroups(fake, host, kRun, {{fake.root() + dir, CgroupVersion::v2}});
  BOOST_TEST(cgroups.can_freeze());
  BOOST_TEST((cgroups.now().frozen == std::optional<bool>(false)));
  fake.set_file(dir + "/cgroup.events", "populated 1\nfrozen 1\n");  // as the kernel says once all stopped
  cgroups.freeze();
  BOOST_TEST(fake.writes_to(dir + "/cgroup.freeze") == std::vector<std::string>{"1"}, boost::test_tools::per_element());
  const auto now = cgroups.now();
  BOOST_TEST((now.frozen == std::optional<bool>(true)));
  BOOST_TEST((now.memory_bytes == std::optional<std::uint64_t>(4096)));
  BOOST_TEST((now.pids == std::optional<std::uint64_t>(2)));
  BOOST_TEST((now.cpu_us == std::optional<std::uint64_t>(1500)));
  cgroups.thaw();
  BOOST_TEST(fake.writes_to(dir + "/cgroup.freeze") == (std::vector<std::string>{"1", "0"}), boost::test_tools::per_element());
  BOOST_TEST(cgroups.processes() == (std::vector<pid_t>{700, 701}), boost::test_tools::per_element());
  BOOST_TEST(cgroups.kill());
  BOOST_TEST(fake.writes_to(dir + "/cgroup.kill") == std::vector<std::string>{"1"}, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(v1_freeze_and_thaw_write_freezer_state) {
  FakeCgroupHost fake;
  const auto host = parse_host_cgroups(fake.this_machine());
  const std::string freezer = "/sys/fs/cgroup/freezer/tierbox-" + kRun;
  const std::string memory = "/sys/fs/cgroup/memory/process_api/abc/tierbox-" + kRun;
  for (const auto& dir : {freezer, memory}) fake.make_cgroup(dir);
  AttachedRunCgroups cgroups(fake, host, kRun, {{fake.root() + memory, CgroupVersion::v1}, {fake.root() + freezer, CgroupVersion::v1}});
  BOOST_TEST(cgroups.can_freeze());
  cgroups.freeze();
  cgroups.thaw();
  BOOST_TEST(fake.writes_to(freezer + "/freezer.state") == (std::vector<std::string>{"FROZEN", "THAWED"}),
             boost::test_tools::per_element());
  BOOST_TEST(fake.writes_to(memory + "/freezer.state").empty());
}

BOOST_AUTO_TEST_CASE(a_run_without_a_freezer_says_so) {
  FakeCgroupHost fake;
  const auto host = parse_host_cgroups(fake.v1_without_freezer());
  const std::string pids = "/sys/fs/cgroup/pids/tierbox-" + kRun;
  fake.make_cgroup(pids);
  AttachedRunCgroups cgroups(fake, host, kRun, {{fake.root() + pids, CgroupVersion::v1}});
  BOOST_TEST(!cgroups.can_freeze());
  BOOST_CHECK_THROW(cgroups.freeze(), Error);
  BOOST_TEST(!cgroups.now().frozen.has_value());
}

BOOST_AUTO_TEST_CASE(a_record_naming_another_directory_is_refused_and_a_gone_one_skipped) {
  FakeCgroupHost fake;
  const auto host = parse_host_cgroups(fake.this_machine());
  fake.make_cgroup("/sys/fs/cgroup/pids/victim");
  BOOST_CHECK_THROW(AttachedRunCgroups(fake, host, kRun, {{fake.root() + "/sys/fs/cgroup/pids/victim", CgroupVersion::v1}}),
                    Error);
  BOOST_CHECK_THROW(AttachedRunCgroups(fake, host, kRun,
                                       {{fake.root() + "/sys/fs/cgroup/pids/tierbox-1111111111111111", CgroupVersion::v1}}),
                    Error);
  AttachedRunCgroups gone(fake, host, kRun, {{fake.root() + "/sys/fs/cgroup/pids/tierbox-" + kRun, CgroupVersion::v1}});
  BOOST_TEST(gone.empty());
  BOOST_TEST(fake.writes.empty());
}

BOOST_AUTO_TEST_SUITE_END()
