#include <boost/test/unit_test.hpp>

#include "common/logging.h"
#include "common/units.h"

using namespace tierbox;
using namespace std::chrono_literals;

BOOST_AUTO_TEST_SUITE(units)

BOOST_AUTO_TEST_CASE(sizes_accept_suffixes_and_plain_bytes) {
  BOOST_TEST(*parse_size("512M") == 512ULL << 20);
  BOOST_TEST(*parse_size("512MiB") == 512ULL << 20);
  BOOST_TEST(*parse_size("2G") == 2ULL << 30);
  BOOST_TEST(*parse_size("64k") == 64ULL << 10);
  BOOST_TEST(*parse_size("1048576") == 1048576ULL);
  BOOST_TEST(*parse_size("10B") == 10ULL);
}

BOOST_AUTO_TEST_CASE(sizes_reject_garbage_and_overflow) {
  for (const char* bad : {"", "M", "12X", "-1", "1.5G", "12MM", " 12", "99999999999999999999", "17179869184T"})
    BOOST_TEST(!parse_size(bad).has_value(), "accepted " << bad);
}

BOOST_AUTO_TEST_CASE(durations_accept_suffixes) {
  BOOST_TEST(parse_duration("30")->count() == 30000);
  BOOST_TEST(*parse_duration("30s") == 30s);
  BOOST_TEST(*parse_duration("250ms") == 250ms);
  BOOST_TEST(*parse_duration("10m") == 10min);
  BOOST_TEST(*parse_duration("2h") == 2h);
  BOOST_TEST(*parse_duration("1d") == 24h);
}

BOOST_AUTO_TEST_CASE(durations_reject_garbage) {
  for (const char* bad : {"", "s", "10x", "-5s", "1.5h", "10 m", "99999999999999999999d"})
    BOOST_TEST(!parse_duration(bad).has_value(), "accepted " << bad);
}

BOOST_AUTO_TEST_CASE(formatting_round_trips) {
  BOOST_TEST(format_size(64ULL << 20) == "64M");
  BOOST_TEST(format_size(1000) == "1000");
  BOOST_TEST(format_duration(600s) == "10m");
  BOOST_TEST(format_duration(1500ms) == "1500ms");
  BOOST_TEST(format_duration(3h) == "3h");
}

BOOST_AUTO_TEST_SUITE_END()

#include "common/temp_dir.h"
#include "common/users.h"

BOOST_AUTO_TEST_SUITE(users)

BOOST_AUTO_TEST_CASE(names_and_groups_come_from_the_files) {
  tierbox::testing::TempDir dir;
  auto passwd = dir.write("passwd", "root:x:0:0:root:/root:/bin/sh\n# comment\nalice:x:1001:1001::/home/alice:/bin/sh\n"
                                    "bob:x:1002:500::/home/bob:/bin/sh\n").string();
  auto group = dir.write("group", "root:x:0:\nalice:x:1001:\nreviewers:x:500:carol,dave\n").string();
  BOOST_TEST(tierbox::user_name(1001, passwd) == "alice");
  BOOST_TEST(tierbox::user_name(4242, passwd).empty());
  BOOST_TEST(*tierbox::user_id("bob", passwd) == 1002u);
  BOOST_TEST(!tierbox::user_id("mallory", passwd).has_value());
  BOOST_TEST(*tierbox::primary_group(1002, passwd) == 500u);
  auto members = tierbox::group_members("reviewers", group, passwd);
  std::vector<std::string> expected = {"carol", "dave", "bob"};  // listed, then by primary group
  BOOST_TEST(members == expected, boost::test_tools::per_element());
  BOOST_TEST(tierbox::group_members("nogroup", group, passwd).empty());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(step_clock)

// Measured on Debian 12's 6.1 in a VM: `run -v` printed a step at
// 18446743909439 ms, an earlier time subtracted as unsigned.
BOOST_AUTO_TEST_CASE(a_time_before_the_start_is_negative_not_huge) {
  using tierbox::logging::milliseconds_between;
  BOOST_TEST(milliseconds_between(1'000'000'000, 1'002'500'000) == 2.5);
  BOOST_TEST(milliseconds_between(1'002'500'000, 1'000'000'000) == -2.5);
  BOOST_TEST(milliseconds_between(5, 5) == 0.0);
}

BOOST_AUTO_TEST_SUITE_END()
