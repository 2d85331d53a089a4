// The daemon's pure parts: the protocol parser (every error code), its fuzz
// corpus, the limits, who may use a tier, and the /proc stat line the
// caller's terminal is checked against.
#include <boost/test/unit_test.hpp>

#include <sys/sysmacros.h>

#include <csignal>
#include <filesystem>
#include <fstream>

#include "../tools/fuzz/daemon_request_target.h"
#include "daemon/caller_terminal.h"
#include "daemon/caller_view.h"
#include "daemon/limits.h"
#include "daemon/protocol.h"
#include "policy/tier_access.h"

namespace fs = std::filesystem;
using namespace tierbox;
using daemon::ErrorCode;
using nlohmann::json;

namespace {

ErrorCode error_of(const std::string& body) {
  try {
    const auto message = daemon::parse_message(body);
    if (daemon::message_type(message) == "run") (void)daemon::parse_run(message);
    if (daemon::message_type(message) == "signal") (void)daemon::parse_signal(message);
    if (daemon::message_type(message) == "staged") (void)daemon::parse_staged(message);
  } catch (const daemon::ProtocolError& error) {
    return error.code();
  }
  BOOST_FAIL("no ProtocolError for " + body);
  return ErrorCode::internal;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(daemon_protocol)

BOOST_AUTO_TEST_CASE(a_run_message_is_parsed_and_the_requester_never_comes_from_it) {
  const json message = {{"tierbox", 1}, {"type", "run"}, {"tier", "untrusted"}, {"argv", {"/bin/sh", "-c", "id"}},
                        {"fds", {"stdin", "stdout", "stderr", "workspace"}}, {"cwd", "/home/a"},
                        {"env", {{"PATH", "/bin"}}}, {"set_env", {{"A", "1"}}}, {"secrets", {{"TOKEN", "s"}}},
                        {"timeout", "5s"}, {"memory", "1G"}, {"allow_net", {"example.org:443/tcp"}},
                        {"user", "root"}, {"uid", 0}, {"requester", {{"uid", 0}}}};
  const auto run = daemon::parse_run(daemon::parse_message(message.dump()));
  BOOST_TEST(run.tier == "untrusted");
  BOOST_TEST(run.argv.size() == 3U);
  BOOST_TEST(run.fds.size() == 4U);
  BOOST_TEST((run.fds[3] == daemon::FdRole::workspace));
  BOOST_TEST(run.cwd == "/home/a");
  BOOST_TEST(run.caller_env.at("PATH") == "/bin");
  BOOST_TEST(run.env_overrides.front().first == "A");
  BOOST_TEST(run.secrets.front().second == "s");
  BOOST_TEST(*run.timeout == "5s");
  BOOST_TEST(run.allow_net.size() == 1U);
  // RunMessage has no field a requester could be read into: the identity
  // is the kernel's (daemon/peer.h); integration.daemon proves the record.
}

BOOST_AUTO_TEST_CASE(a_staged_message_round_trips_and_carries_no_identity) {
  daemon::StagedMessage sent;
  sent.action = "apply";
  sent.run_id = "0123456789abcdef";
  sent.paths = {"src/a.c", "docs"};
  sent.yes = true;
  sent.grant_name = "grant.json";
  sent.grant = json{{"grant", {{"tier", "workspace-staged"}}}};
  sent.fds = {daemon::FdRole::stdout_fd, daemon::FdRole::stderr_fd};
  auto wire = daemon::staged_request(sent);
  wire["uid"] = 0;  // a forged requester: there is no field to read it into
  const auto got = daemon::parse_staged(daemon::parse_message(wire.dump()));
  BOOST_TEST(got.action == "apply");
  BOOST_TEST(got.run_id == sent.run_id);
  BOOST_TEST(got.paths == sent.paths, boost::test_tools::per_element());
  BOOST_TEST(got.yes);
  BOOST_TEST(!got.json);
  BOOST_TEST(got.grant_name == "grant.json");
  BOOST_TEST(got.grant->dump() == sent.grant->dump());
  BOOST_TEST(got.fds.size() == 2U);
}

BOOST_AUTO_TEST_CASE(binds_travel_as_fds_one_per_entry) {
  const auto run = [](json fields) {
    json message = {{"tierbox", 1}, {"type", "run"}, {"argv", {"/bin/true"}}};
    if (fields.is_object()) message.update(fields);
    return message.dump();
  };
  const auto parsed = daemon::parse_run(daemon::parse_message(
      run({{"fds", {"stdin", "bind", "bind"}},
           {"binds", {{{"source", "/a"}, {"target", "/data"}}, {{"source", "b"}, {"target", "/rw"}, {"writable", true}}}}})));
  BOOST_TEST(parsed.binds.size() == 2U);
  BOOST_TEST(parsed.binds[1].target == "/rw");
  BOOST_TEST(parsed.binds[1].writable);
  BOOST_TEST(!parsed.binds[0].writable);
  BOOST_TEST((parsed.fds[2] == daemon::FdRole::bind));
  BOOST_TEST(!parsed.dry_run);
  BOOST_TEST(daemon::parse_run(daemon::parse_message(run({{"dry_run", true}}))).dry_run);
  BOOST_TEST((error_of(run({{"dry_run", "yes"}})) == ErrorCode::malformed));
  // A grant is the document (the client read the file), never a path.
  const auto granted = daemon::parse_run(daemon::parse_message(run({{"grant", {{"grant", json::object()}}}, {"grant_name", "g.json"}})));
  BOOST_TEST(granted.grant.has_value());
  BOOST_TEST(granted.grant_name == "g.json");
  BOOST_TEST((error_of(run({{"grant", "/root/grant.json"}})) == ErrorCode::malformed));
  BOOST_TEST((error_of(run({{"grant", json::object()}, {"dry_run", true}})) == ErrorCode::malformed));
  // A bind without its fd, an fd without its bind, a relative target.
  BOOST_TEST((error_of(run({{"binds", {{{"source", "/a"}, {"target", "/data"}}}}})) == ErrorCode::malformed));
  BOOST_TEST((error_of(run({{"fds", {"bind"}}})) == ErrorCode::malformed));
  BOOST_TEST((error_of(run({{"fds", {"bind"}}, {"binds", {{{"source", "/a"}, {"target", "data"}}}}})) == ErrorCode::malformed));
  BOOST_TEST((error_of(run({{"fds", {"bind"}}, {"binds", {{{"source", "/a"}}}}})) == ErrorCode::malformed));
  BOOST_TEST((error_of(run({{"fds", {"bind"}}, {"binds", "/a:/data"}})) == ErrorCode::malformed));
  // At most kMaxBinds.
  json many = json::array();
  json roles = json::array();
  for (std::size_t i = 0; i <= daemon::kMaxBinds; ++i) {
    many.push_back({{"source", "/a"}, {"target", "/d" + std::to_string(i)}});
    roles.push_back("bind");
  }
  BOOST_TEST((error_of(run({{"fds", roles}, {"binds", many}})) == ErrorCode::malformed));
}

BOOST_AUTO_TEST_CASE(passed_fds_travel_as_fds_one_per_number) {
  const auto run = [](json fields) {
    json message = {{"tierbox", 1}, {"type", "run"}, {"argv", {"/bin/true"}}};
    message.update(fields);
    return message.dump();
  };
  const auto parsed =
      daemon::parse_run(daemon::parse_message(run({{"fds", {"stdin", "pass", "bind", "pass"}}, {"pass_fds", {7, 3}},
                                                   {"binds", {{{"source", "/a"}, {"target", "/data"}}}}})));
  BOOST_TEST(parsed.pass_fds == (std::vector<int>{7, 3}), boost::test_tools::per_element());
  BOOST_TEST((parsed.fds[1] == daemon::FdRole::pass));
  BOOST_TEST(daemon::fd_role_name(daemon::FdRole::pass) == "pass");
  // A number without its fd, an fd without its number, not a number.
  BOOST_TEST((error_of(run({{"pass_fds", {3}}})) == ErrorCode::malformed));
  BOOST_TEST((error_of(run({{"fds", {"pass"}}})) == ErrorCode::malformed));
  BOOST_TEST((error_of(run({{"fds", {"pass"}}, {"pass_fds", {"3"}}})) == ErrorCode::malformed));
  BOOST_TEST((error_of(run({{"fds", {"pass"}}, {"pass_fds", {-1}}})) == ErrorCode::malformed));
  BOOST_TEST((error_of(run({{"fds", {"pass"}}, {"pass_fds", 3}})) == ErrorCode::malformed));
  // Control: one of each parses.
  BOOST_TEST(daemon::parse_run(daemon::parse_message(run({{"fds", {"pass"}}, {"pass_fds", {3}}}))).pass_fds.size() == 1U);
  // At most kMaxPassFds.
  json numbers = json::array();
  json roles = json::array();
  for (std::size_t i = 0; i <= daemon::kMaxPassFds; ++i) {
    numbers.push_back(3 + i);
    roles.push_back("pass");
  }
  BOOST_TEST((error_of(run({{"fds", roles}, {"pass_fds", numbers}})) == ErrorCode::malformed));
}

BOOST_AUTO_TEST_CASE(the_callers_terminal_travels_once_as_the_tty_role) {
  const auto run = [](json fields) {
    json message = {{"tierbox", 1}, {"type", "run"}, {"argv", {"/bin/true"}}};
    message.update(fields);
    return message.dump();
  };
  const auto parsed = daemon::parse_run(daemon::parse_message(run({{"fds", {"stdin", "stdout", "stderr", "tty"}}})));
  BOOST_TEST((parsed.fds[3] == daemon::FdRole::terminal));
  BOOST_TEST(daemon::fd_role_name(daemon::FdRole::terminal) == "tty");
  // One terminal at most; a staged message carries none.
  BOOST_TEST((error_of(run({{"fds", {"tty", "tty"}}})) == ErrorCode::malformed));
  BOOST_TEST((error_of(R"({"tierbox": 1, "type": "staged", "action": "changes", "run_id": "ab12", "fds": ["tty"]})") ==
              ErrorCode::malformed));
  // Every role at once fits in a message: stdio, workspace, terminal, the
  // most binds and passed fds.
  BOOST_TEST(daemon::kMaxMessageFds == 5 + daemon::kMaxBinds + daemon::kMaxPassFds);
}

// /proc/PID/stat: the terminal fields come after the command name, which
// may hold spaces and parentheses.
BOOST_AUTO_TEST_CASE(a_process_stat_line_gives_its_terminal_and_groups) {
  const auto terminal =
      daemon::parse_process_terminal("4242 (tier box) (x)) S 1 4242 4242 34816 4242 4194560 1 0 0 0 0 0 0 0 20 0 1 0\n");
  BOOST_REQUIRE(terminal.has_value());
  BOOST_TEST(terminal->tty == makedev(136, 0));
  BOOST_TEST(terminal->process_group == 4242);
  BOOST_TEST(terminal->foreground_group == 4242);
  // No controlling terminal: tty_nr 0, tpgid -1.
  const auto none = daemon::parse_process_terminal("7 (sh) S 1 7 7 0 -1 4194560 1 0\n");
  BOOST_REQUIRE(none.has_value());
  BOOST_TEST(none->tty == 0U);
  BOOST_TEST(none->foreground_group == -1);
  // A minor above 255 (pts/300): tty_nr is new_encode_dev, as st_rdev.
  const auto high = daemon::parse_process_terminal("9 (a) R 1 9 9 " + std::to_string(makedev(136, 300)) + " 9 0\n");
  BOOST_REQUIRE(high.has_value());
  BOOST_TEST(major(high->tty) == 136U);
  BOOST_TEST(minor(high->tty) == 300U);
  // Not a stat line.
  BOOST_TEST(!daemon::parse_process_terminal("").has_value());
  BOOST_TEST(!daemon::parse_process_terminal("12 (sh").has_value());
  BOOST_TEST(!daemon::parse_process_terminal("12 (sh) S 1 x 12 0 -1").has_value());
  BOOST_TEST(!daemon::parse_process_terminal("12 (sh) S 1 12").has_value());
}

BOOST_AUTO_TEST_CASE(a_bad_staged_message_is_malformed) {
  const auto staged = [](json fields) {
    json message = {{"tierbox", 1}, {"type", "staged"}, {"action", "changes"}, {"run_id", "ab12"}};
    if (fields.is_object()) message.update(fields);
    return message.dump();
  };
  // Control: the minimal message parses.
  BOOST_CHECK_NO_THROW(daemon::parse_staged(daemon::parse_message(staged({}))));
  BOOST_TEST((error_of(staged({{"action", "gc"}})) == ErrorCode::malformed));
  BOOST_TEST((error_of(staged({{"action", nullptr}})) == ErrorCode::malformed));
  // A run id that could name a path outside the state directory.
  BOOST_TEST((error_of(staged({{"run_id", "../etc"}})) == ErrorCode::malformed));
  BOOST_TEST((error_of(staged({{"run_id", "a/b"}})) == ErrorCode::malformed));
  BOOST_TEST((error_of(staged({{"run_id", ""}})) == ErrorCode::malformed));
  BOOST_TEST((error_of(staged({{"run_id", std::string(129, 'a')}})) == ErrorCode::malformed));
  BOOST_TEST((error_of(staged({{"paths", "src"}})) == ErrorCode::malformed));
  BOOST_TEST((error_of(staged({{"paths", {std::string("a\0b", 3)}}})) == ErrorCode::malformed));
  BOOST_TEST((error_of(staged({{"json", "yes"}})) == ErrorCode::malformed));
  // Only stdout and stderr travel with it, each once.
  BOOST_TEST((error_of(staged({{"fds", {"stdin"}}})) == ErrorCode::malformed));
  BOOST_TEST((error_of(staged({{"fds", {"workspace"}}})) == ErrorCode::malformed));
  BOOST_TEST((error_of(staged({{"fds", {"stdout", "stdout"}}})) == ErrorCode::malformed));
  // A grant is an object, and only for an apply.
  BOOST_TEST((error_of(staged({{"action", "apply"}, {"grant", "grant.json"}})) == ErrorCode::malformed));
  BOOST_TEST((error_of(staged({{"grant", json::object()}})) == ErrorCode::malformed));
}

BOOST_AUTO_TEST_CASE(every_bad_message_has_its_error_code) {
  BOOST_TEST((error_of("not json") == ErrorCode::malformed));
  BOOST_TEST((error_of("[1,2]") == ErrorCode::malformed));
  BOOST_TEST((error_of(R"({"type":"run","argv":["x"]})") == ErrorCode::bad_version));
  BOOST_TEST((error_of(R"({"tierbox":2,"type":"run","argv":["x"]})") == ErrorCode::bad_version));
  BOOST_TEST((error_of(R"({"tierbox":"1","type":"run","argv":["x"]})") == ErrorCode::bad_version));
  BOOST_TEST((error_of(R"({"tierbox":1,"type":"approve"})") == ErrorCode::unknown_type));
  BOOST_TEST((error_of(R"({"tierbox":1})") == ErrorCode::malformed));
  BOOST_TEST((error_of(R"({"tierbox":1,"type":"run"})") == ErrorCode::malformed));
  BOOST_TEST((error_of(R"({"tierbox":1,"type":"run","argv":[]})") == ErrorCode::malformed));
  BOOST_TEST((error_of(R"({"tierbox":1,"type":"run","argv":[1]})") == ErrorCode::malformed));
  BOOST_TEST((error_of(R"({"tierbox":1,"type":"run","argv":["x"],"fds":["stdin","stdin"]})") == ErrorCode::malformed));
  BOOST_TEST((error_of(R"({"tierbox":1,"type":"run","argv":["x"],"fds":["root"]})") == ErrorCode::malformed));
  BOOST_TEST((error_of(R"({"tierbox":1,"type":"run","argv":["x"],"env":{"A":1}})") == ErrorCode::malformed));
  BOOST_TEST((error_of(R"({"tierbox":1,"type":"run","argv":["x"],"allow_expired_tier":"yes"})") == ErrorCode::malformed));
  BOOST_TEST((error_of(R"({"tierbox":1,"type":"signal","signal":19})") == ErrorCode::malformed));  // SIGSTOP
  BOOST_TEST((error_of(R"({"tierbox":1,"type":"signal","signal":-1})") == ErrorCode::malformed));
  BOOST_TEST((error_of(R"({"tierbox":1,"type":"signal"})") == ErrorCode::malformed));
  // Controls: the same shapes, well formed, parse.
  BOOST_CHECK_NO_THROW(daemon::parse_signal(daemon::parse_message(R"({"tierbox":1,"type":"signal","signal":2})")));
  BOOST_CHECK_NO_THROW(daemon::parse_run(daemon::parse_message(R"({"tierbox":1,"type":"run","argv":["x"],"fds":["stdin"]})")));
}

BOOST_AUTO_TEST_CASE(frames_are_bounded_before_anything_is_read) {
  const auto frame = daemon::encode_frame(json{{"tierbox", 1}, {"type", "signal"}, {"signal", SIGINT}});
  unsigned char header[4];
  for (int i = 0; i < 4; ++i) header[i] = static_cast<unsigned char>(frame[i]);
  BOOST_TEST(daemon::frame_length(header) == frame.size() - 4);
  const unsigned char huge[4] = {0xff, 0xff, 0xff, 0xff};
  BOOST_CHECK_EXCEPTION(daemon::frame_length(huge), daemon::ProtocolError,
                        [](const auto& error) { return error.code() == ErrorCode::too_large; });
  const unsigned char just_over[4] = {0x00, 0x40, 0x00, 0x01};  // 4 MiB + 1
  BOOST_CHECK_EXCEPTION(daemon::frame_length(just_over), daemon::ProtocolError,
                        [](const auto& error) { return error.code() == ErrorCode::too_large; });
  const unsigned char limit[4] = {0x00, 0x40, 0x00, 0x00};  // 4 MiB: the control
  BOOST_TEST(daemon::frame_length(limit) == daemon::kMaxMessageBytes);
  const unsigned char empty[4] = {0, 0, 0, 0};
  BOOST_CHECK_THROW(daemon::frame_length(empty), daemon::ProtocolError);
}

BOOST_AUTO_TEST_CASE(the_fuzz_corpus_is_handled) {
  const fs::path corpus = fs::path(TIERBOX_SOURCE_DIR) / "tools/fuzz/corpus/daemon_request";
  int inputs = 0;
  for (const auto& entry : fs::directory_iterator(corpus)) {
    std::ifstream in(entry.path(), std::ios::binary);
    const std::string data{std::istreambuf_iterator<char>(in), {}};
    BOOST_CHECK_NO_THROW(fuzz::daemon_request_one_input(reinterpret_cast<const std::uint8_t*>(data.data()), data.size()));
    ++inputs;
  }
  BOOST_TEST(inputs >= 5);
  const std::string deep(200000, '[');
  BOOST_CHECK_NO_THROW(fuzz::daemon_request_one_input(reinterpret_cast<const std::uint8_t*>(deep.data()), deep.size()));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(daemon_caller_view)

// The daemon warns when its callers' ps, stop, approvals... would look for
// its runs and pending requests somewhere else than it puts them.
BOOST_AUTO_TEST_CASE(a_state_or_approvals_dir_callers_do_not_read_is_named) {
  policy::RunnerConfig callers;  // the defaults: /run/tierbox, /run/tierbox-approvals
  policy::RunnerConfig daemon_config;
  // Control: the same places (a trailing slash is the same directory): nothing.
  BOOST_TEST(daemon::caller_view_mismatches(daemon_config, "", callers).empty());
  BOOST_TEST(daemon::caller_view_mismatches(daemon_config, "/run/tierbox/", callers).empty());
  // --state-dir elsewhere.
  const auto moved = daemon::caller_view_mismatches(daemon_config, "/srv/tbx", callers);
  BOOST_REQUIRE(moved.size() == 1U);
  BOOST_TEST(moved[0].find("registered in /srv/tbx, but callers look in /run/tierbox (state_dir of the defaults)") !=
             std::string::npos, moved[0]);
  // The daemon's own tierbox.json (its --config-dir) moves the approvals.
  daemon_config.approvals_dir = "/srv/approvals";
  callers.source = "/etc/tierbox/tierbox.json";
  const auto both = daemon::caller_view_mismatches(daemon_config, "/srv/tbx", callers);
  BOOST_REQUIRE(both.size() == 2U);
  BOOST_TEST(both[1].find("approvals_dir of /etc/tierbox/tierbox.json") != std::string::npos, both[1]);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(daemon_limits)

BOOST_AUTO_TEST_CASE(limits_per_user_and_overall_refuse_with_their_name) {
  daemon::Limits limits({/*max_pending=*/3, /*max_pending_per_user=*/2, /*max_runs=*/3, /*max_runs_per_user=*/1});
  BOOST_TEST(limits.admit_connection(1000) == "");
  BOOST_TEST(limits.admit_connection(1000) == "");
  BOOST_TEST(limits.admit_connection(1000).find("max_pending_per_user") != std::string::npos);
  BOOST_TEST(limits.admit_connection(1001) == "");                                  // control: another user
  BOOST_TEST(limits.admit_connection(1002).find("max_pending") != std::string::npos);  // overall
  BOOST_TEST(limits.admit_run(1000) == "");
  BOOST_TEST(limits.admit_run(1000).find("max_runs_per_user") != std::string::npos);
  BOOST_TEST(limits.pending() == 2U);  // the refused run's connection still waits
  limits.connection_done(1000);
  BOOST_TEST(limits.admit_connection(1002) == "");
  limits.run_done(1000);
  BOOST_TEST(limits.runs() == 0U);
  BOOST_TEST(limits.admit_connection(1000) == "");
  BOOST_TEST(limits.admit_run(1000) == "");  // control: its run ended, so one more may start
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(tier_access)

BOOST_AUTO_TEST_CASE(allowed_users_and_groups_decide_and_root_always_may) {
  policy::Profile profile;
  profile.name = "restricted";
  policy::CallerIdentity alice{1000, 1000, "alice", "", std::nullopt, {1000, 2000}, true};
  policy::CallerIdentity bob{1001, 1001, "bob", "", std::nullopt, {1001}, true};
  policy::CallerIdentity root{};
  const auto groups = [](const std::string& name) -> std::optional<gid_t> {
    if (name == "agents") return 2000;
    return std::nullopt;
  };
  BOOST_TEST(policy::tier_access_refusal(profile, bob, groups) == "");  // nothing listed: everyone
  profile.allowed_groups = {"agents", "nosuchgroup"};
  BOOST_TEST(policy::tier_access_refusal(profile, alice, groups) == "");  // supplementary group 2000
  const auto refusal = policy::tier_access_refusal(profile, bob, groups);
  BOOST_TEST(refusal.find("may not be used by bob") != std::string::npos);
  BOOST_TEST(refusal.find("allowed_groups") != std::string::npos);
  profile.allowed_users = {"bob"};
  BOOST_TEST(policy::tier_access_refusal(profile, bob, groups) == "");
  profile.allowed_users = {"carol"};
  profile.allowed_groups = {};
  BOOST_TEST(policy::tier_access_refusal(profile, alice, groups) != "");
  BOOST_TEST(policy::tier_access_refusal(profile, root, groups) == "");
}

BOOST_AUTO_TEST_SUITE_END()
