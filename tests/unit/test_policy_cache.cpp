// service::PolicyCache: a tier, inventory or matrix is reused only while
// every file it came from is the same on disk and was lookup'd the same way;
// each test that shows a change taking effect has the unchanged control
// that is reused (so the test could fail).
#include <boost/test/unit_test.hpp>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/temp_dir.h"
#include "service/policy_cache.h"

using namespace tierbox;
using nlohmann::json;

namespace {

std::string read_text(const std::filesystem::path& file) {
  std::ifstream in(file);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A tier "mine" extending the shipped base, with description text.
std::string tier_text(const std::string& description) {
  auto tier = json::parse(read_text(std::filesystem::path(TIERBOX_SHIPPED_PROFILES) / "tiers" / "untrusted.json"));
  tier["description"] = description;
  tier.erase("$schema");
  return tier.dump(2);
}

struct Fixture {
  testing::TempDir dir{"tierbox-test-policy-cache"};
  std::vector<std::filesystem::path> dirs{dir.path() / "first", dir.path() / "second", TIERBOX_SHIPPED_PROFILES};
  Fixture() {
    std::filesystem::create_directories(dirs[0]);
    dir.write("second/tiers/mine.json", tier_text("one"));
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(policy_cache)

BOOST_AUTO_TEST_CASE(an_unchanged_tier_is_reused_and_an_edited_one_reloaded) {
  Fixture fixture;
  service::PolicyCache cache(std::chrono::nanoseconds(0));
  BOOST_TEST(cache.tier("mine", fixture.dirs).description == "one");
  BOOST_TEST(cache.tier("mine", fixture.dirs).description == "one");
  BOOST_TEST(cache.counts().loads == 1U);  // control: the second was reused
  BOOST_TEST(cache.counts().hits == 1U);
  fixture.dir.write("second/tiers/mine.json", tier_text("two, edited"));
  BOOST_TEST(cache.tier("mine", fixture.dirs).description == "two, edited");
  BOOST_TEST(cache.counts().loads == 2U);
}

BOOST_AUTO_TEST_CASE(a_tier_added_in_an_earlier_directory_takes_its_place) {
  Fixture fixture;
  service::PolicyCache cache(std::chrono::nanoseconds(0));
  BOOST_TEST(cache.tier("mine", fixture.dirs).description == "one");
  fixture.dir.write("first/tiers/mine.json", tier_text("from the first directory"));
  BOOST_TEST(cache.tier("mine", fixture.dirs).description == "from the first directory");
  std::filesystem::remove(fixture.dirs[0] / "tiers" / "mine.json");
  BOOST_TEST(cache.tier("mine", fixture.dirs).description == "one");
}

BOOST_AUTO_TEST_CASE(an_edited_base_is_reloaded) {
  Fixture fixture;
  // mine extends base; a base of its own next to it takes the shipped one's place.
  auto base = json::parse(read_text(std::filesystem::path(TIERBOX_SHIPPED_PROFILES) / "tiers" / "base.json"));
  base.erase("$schema");
  fixture.dir.write("second/tiers/base.json", base.dump(2));
  service::PolicyCache cache(std::chrono::nanoseconds(0));
  const auto before = cache.tier("mine", fixture.dirs);
  BOOST_TEST(cache.tier("mine", fixture.dirs).sha256 == before.sha256);  // control: reused
  BOOST_TEST(cache.counts().hits == 1U);
  base["comment"] = "edited";
  fixture.dir.write("second/tiers/base.json", base.dump(2));
  BOOST_TEST(cache.tier("mine", fixture.dirs).sha256 != before.sha256);
  BOOST_TEST(cache.counts().loads == 2U);
}

BOOST_AUTO_TEST_CASE(files_changed_within_the_settle_time_are_never_reused) {
  // Written just now: a second edit of the same size in the same clock tick
  // would keep every stamp, so such a file is read again each time.
  Fixture fixture;
  service::PolicyCache cache;
  BOOST_TEST(cache.tier("mine", fixture.dirs).description == "one");
  BOOST_TEST(cache.tier("mine", fixture.dirs).description == "one");
  BOOST_TEST(cache.counts().hits == 0U);
  BOOST_TEST(cache.counts().loads == 2U);
}

BOOST_AUTO_TEST_CASE(an_edited_matrix_and_a_new_inventory_are_read) {
  Fixture fixture;
  fixture.dir.write("first/approvals.json", R"({"tiers": ["*"], "rules": []})");
  service::PolicyCache cache(std::chrono::nanoseconds(0));
  BOOST_TEST(cache.approval_matrix(fixture.dirs).tiers.size() == 1U);
  BOOST_TEST(cache.approval_matrix(fixture.dirs).tiers.size() == 1U);
  BOOST_TEST(cache.counts().hits == 1U);  // control: reused
  fixture.dir.write("first/approvals.json", R"({"tiers": ["*", "other-tier"], "rules": []})");
  BOOST_TEST(cache.approval_matrix(fixture.dirs).tiers.size() == 2U);

  const auto shipped = cache.data_classes(fixture.dirs);
  BOOST_TEST(cache.data_classes(fixture.dirs).file == shipped.file);
  fixture.dir.write("first/data-classes.json", read_text(std::filesystem::path(TIERBOX_SHIPPED_PROFILES) / "data-classes.json"));
  BOOST_TEST(cache.data_classes(fixture.dirs).file == fixture.dirs[0] / "data-classes.json");
}

BOOST_AUTO_TEST_SUITE_END()
