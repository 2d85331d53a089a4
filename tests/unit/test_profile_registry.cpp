// The profile registry (policy/sections/registry.h) is the one definition of
// every tier field: these tests hold the parsers, `final`, the review
// sections, the shipped JSON Schemas and the docs to it, so none can drift.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "launch/child_step.h"
#include "policy/approval_matrix.h"
#include "policy/data_classes.h"
#include "policy/planner.h"
#include "policy/review/review.h"
#include "policy/sections/registry.h"
#include "profile_text.h"

using namespace tierbox;
using namespace tierbox::policy;
using namespace tierbox::testing;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const fs::path kSource = TIERBOX_SOURCE_DIR;

std::string read_source(const fs::path& relative) {
  std::ifstream in(kSource / relative);
  BOOST_REQUIRE_MESSAGE(in, "cannot read " << relative);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The lines of a markdown file from the heading (exact line) to the next heading.
std::vector<std::string> section_lines(const std::string& text, const std::string& heading) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  bool inside = false;
  for (std::string line; std::getline(in, line);) {
    if (inside && line.rfind('#', 0) == 0) break;
    if (inside) lines.push_back(line);
    if (line == heading) inside = true;
  }
  BOOST_TEST_REQUIRE(inside, "no heading " << heading);
  return lines;
}

// The backticked names in the first cell of each table row of the lines.
std::vector<std::string> first_cell_names(const std::vector<std::string>& lines) {
  std::vector<std::string> names;
  static const std::regex kName("`([^`]+)`");
  for (const auto& line : lines) {
    if (line.rfind("| ", 0) != 0) continue;
    const auto cell = line.substr(2, line.find(" |", 2) - 2);
    for (std::sregex_iterator it(cell.begin(), cell.end(), kName), end; it != end; ++it) names.push_back((*it)[1]);
  }
  return names;
}

std::set<std::string> as_set(const std::vector<std::string>& names) { return {names.begin(), names.end()}; }

// Keys of the registry that are objects of other keys (no schema of their own).
std::set<std::string> container_keys() {
  std::set<std::string> keys;
  for (const auto& section : profile_sections())
    for (const auto& field : section.fields)
      if (!field.schema) keys.insert(field.key);
  return keys;
}

// The key list of an "unknown key (expected one of: a, b)" error.
std::set<std::string> expected_keys(const std::string& message) {
  const auto start = message.find("expected one of: ");
  BOOST_TEST_REQUIRE(start != std::string::npos, message);
  const auto list = message.substr(start + 17, message.rfind(')') - start - 17);
  std::set<std::string> keys;
  std::istringstream in(list);
  for (std::string key; std::getline(in, key, ',');) keys.insert(key.substr(key.find_first_not_of(' ')));
  return keys;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(profile_registry)

// What each section's parser accepts is what the registry declares: a key
// nobody knows makes the parser list the keys it reads, compared here with
// the registry's keys of that object.
BOOST_AUTO_TEST_CASE(parsers_accept_exactly_the_registered_keys) {
  const auto all = registered_keys();
  std::vector<std::string> objects = {""};
  for (const auto& key : container_keys()) objects.push_back(key);
  for (const auto& object : objects) {
    BOOST_TEST_CONTEXT("object " << (object.empty() ? "(top level)" : object)) {
      json document = {{"extends", "base"}};
      json* slot = &document;
      std::istringstream path(object);
      for (std::string part; std::getline(path, part, '.');) slot = &(*slot)[part];
      (*slot)["no_such_key"] = 1;
      TempDir dir;
      const auto message = load_error(dir, document.dump());
      std::set<std::string> registered;
      const auto prefix = object.empty() ? "" : object + ".";
      for (const auto& key : all) {
        if (key.rfind(prefix, 0) != 0) continue;
        const auto rest = key.substr(prefix.size());
        registered.insert(rest.substr(0, rest.find('.')));
      }
      BOOST_TEST(expected_keys(message) == registered, boost::test_tools::per_element());
    }
  }
}

BOOST_AUTO_TEST_CASE(every_section_names_a_review_and_a_docs_heading) {
  std::set<std::string> reviews;
  for (const auto& review : section_reviews()) reviews.insert(review.name);
  const auto docs = read_source("docs/profiles.md");
  for (const auto& section : profile_sections()) {
    BOOST_TEST(reviews.count(section.review) == 1u, section.name << " names review " << section.review);
    BOOST_TEST(section.apply != nullptr);
    for (const auto& field : section.fields) {
      const std::string heading = field.docs;
      BOOST_TEST((docs.find("\n## " + heading + "\n") != std::string::npos ||
                  docs.find("\n### " + heading + "\n") != std::string::npos),
                 field.key << ": no heading '" << heading << "' in docs/profiles.md");
    }
  }
}

// The names `final` accepted before the registry, unchanged by it, and
// those of fields added since (container.writable_root, 2026-12-07).
BOOST_AUTO_TEST_CASE(final_accepts_the_same_names) {
  const std::vector<std::string> expected = {
      "allowed_commands", "container",      "container.writable_root",
      "environment",    "environment.allow", "environment.pass", "environment.set",
      "hostname",         "landlock",       "limits",            "limits.wall_time", "max_data_class",
      "mounts",           "network",        "network.mode",      "protected_paths",  "seccomp",
      "shm_size",         "user",           "widening",          "workspace",        "workspace.staged",
      "workspace.target", "workspace.writable"};
  BOOST_TEST(final_field_names() == expected, boost::test_tools::per_element());
  BOOST_TEST(final_field_names("limits") == (std::vector<std::string>{"limits", "limits.wall_time"}),
             boost::test_tools::per_element());
  expect_error(R"({"extends": "base", "final": ["limits.memory"]})",
               {"/final/0", "unknown field \"limits.memory\"", "expected one of: allowed_commands"});
}

BOOST_AUTO_TEST_CASE(an_unregistered_top_level_key_names_the_file_pointer_and_the_keys) {
  expect_error(R"({"extends": "base", "hostnme": "x"})",
               {"t.json", "/hostnme", "unknown key (expected one of: $schema, allowed_commands"});
}

BOOST_AUTO_TEST_CASE(schema_key_is_accepted_everywhere) {
  TempDir dir;
  BOOST_TEST(load_error(dir, R"({"$schema": "../schema/tier.schema.json", "extends": "base"})") == "");
  auto inventory = parse_data_classes(
      json{{"$schema", "x"}, {"paths", {{{"path", "/usr"}, {"class", "public"}}}}}, "d.json");
  BOOST_TEST(inventory.rules.size() == 1u);
  auto matrix = parse_approval_matrix(json{{"$schema", "x"}, {"tiers", {"base"}}, {"rules", json::array()}}, "a.json");
  BOOST_TEST(matrix.tiers.size() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(profile_schema)

// The generator's structure: every registered key is in the schema, at its
// place, and every object refuses keys it does not declare.
BOOST_AUTO_TEST_CASE(schema_holds_every_registered_key) {
  const auto schema = tier_profile_schema();
  BOOST_TEST(schema["$schema"] == "https://json-schema.org/draft/2020-12/schema");
  BOOST_TEST(schema["additionalProperties"] == false);
  for (const auto& key : registered_keys()) {
    const json* node = &schema;
    std::istringstream path(key);
    for (std::string part; std::getline(path, part, '.');) {
      BOOST_TEST_REQUIRE(node->contains("properties"), key);
      node = &(*node)["properties"][part];
    }
    BOOST_TEST(node->contains("description"), key);
    if (container_keys().count(key)) BOOST_TEST((*node)["additionalProperties"] == false, key);
  }
  BOOST_TEST(schema["properties"]["final"]["items"]["enum"] == json(final_field_names()));
}

BOOST_AUTO_TEST_CASE(shipped_schemas_are_what_the_code_builds) {
  const std::pair<const char*, json> kSchemas[] = {
      {"profiles/schema/tier.schema.json", tier_profile_schema()},
      {"profiles/schema/approvals.schema.json", approvals_schema()},
      {"profiles/schema/data-classes.schema.json", data_classes_schema()},
  };
  for (const auto& [file, built] : kSchemas) {
    BOOST_TEST_CONTEXT(file << " (fix: tierbox profile schema KIND > " << file << ")") {
      BOOST_TEST(json::parse(read_source(file)) == built);
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(docs_drift)

// docs/profiles.md's Fields table names every key the registry knows (an
// object's keys, not the object) and nothing else.
BOOST_AUTO_TEST_CASE(profiles_md_lists_every_registered_key) {
  const auto documented = first_cell_names(section_lines(read_source("docs/profiles.md"), "## Fields"));
  const auto containers = container_keys();
  for (const auto& key : registered_keys())
    if (!containers.count(key))
      BOOST_TEST(std::count(documented.begin(), documented.end(), key) == 1, key << " is not in the Fields table");
  const auto registered = as_set(registered_keys());
  for (const auto& key : documented) BOOST_TEST(registered.count(key) == 1u, key << " is documented but not registered");
}

BOOST_AUTO_TEST_CASE(profiles_md_final_table_lists_every_final_name) {
  const auto documented = as_set(first_cell_names(section_lines(read_source("docs/profiles.md"), "### `final`")));
  BOOST_TEST(documented == as_set(final_field_names()), boost::test_tools::per_element());
}

// The child's steps, as errors name them, are the Child table's rows, in the
// order child.cpp takes them; child.cpp takes every step of child_step.h.
BOOST_AUTO_TEST_CASE(launch_sequence_lists_every_child_step_in_order) {
  std::vector<std::string> names;
  for (std::uint32_t step = 0; step < launch::kChildStepCount; ++step) {
    std::string name = launch::child_step_name(static_cast<launch::ChildStep>(step));
    names.push_back(name.substr(0, name.find(" (sync #")));
  }
  std::vector<std::string> rows;
  for (const auto& line : section_lines(read_source("docs/launch-sequence.md"), "## Child (the sandbox's pid 1)")) {
    if (line.rfind("| ", 0) != 0 || line.rfind("| step", 0) == 0) continue;
    rows.push_back(line.substr(2, line.find(" |", 2) - 2));
  }
  BOOST_TEST(rows == names, boost::test_tools::per_element());

  static const std::regex kEnumerator(R"(^\s+([a-z_]+),)");
  const auto header = read_source("runner/launch/child_step.h");
  std::set<std::string> declared;
  std::istringstream in(header);
  for (std::string line; std::getline(in, line);) {
    std::smatch match;
    if (std::regex_search(line, match, kEnumerator) && match[1] != "count") declared.insert(match[1]);
  }
  BOOST_TEST(declared.size() == launch::kChildStepCount);
  const auto child = read_source("runner/launch/child.cpp");
  static const std::regex kUse(R"(ChildStep::([a-z_]+))");
  std::set<std::string> used;
  for (std::sregex_iterator it(child.begin(), child.end(), kUse), end; it != end; ++it) used.insert((*it)[1]);
  for (const auto& step : declared) BOOST_TEST(used.count(step) == 1u, "child.cpp never takes step " << step);
}

// Every stage the parent's errors name (with_stage in runner/launch/) is a
// row of launch-sequence.md's stage table, and every row is such a stage.
BOOST_AUTO_TEST_CASE(launch_sequence_lists_every_parent_stage) {
  std::set<std::string> stages;
  static const std::regex kStage(R"re(with_stage\("([^"]+)")re");
  for (const auto& entry : fs::directory_iterator(kSource / "runner/launch")) {
    if (entry.path().extension() != ".cpp") continue;
    const auto text = read_source(fs::relative(entry.path(), kSource));
    for (std::sregex_iterator it(text.begin(), text.end(), kStage), end; it != end; ++it) stages.insert((*it)[1]);
  }
  BOOST_TEST(stages.size() >= 5u);
  const auto documented =
      as_set(first_cell_names(section_lines(read_source("docs/launch-sequence.md"), "### Parent stages, as errors name them")));
  BOOST_TEST(documented == stages, boost::test_tools::per_element());
}

// The control: the parsers above see a row, so a missing one fails.
BOOST_AUTO_TEST_CASE(table_parser_finds_rows) {
  const std::string text = "## Fields\n\n| field | x |\n|---|---|\n| `a.b` | y |\n| `c`, `d` | z |\n## Next\n| `e` | w |\n";
  BOOST_TEST(first_cell_names(section_lines(text, "## Fields")) == (std::vector<std::string>{"a.b", "c", "d"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE_END()

// docs/hacking.md's worked example, end to end: a field is parsed with an
// error naming the file, pointer and fix; it reaches the plan; `diff` judges
// it; and `final` holds a child to tightening it.
BOOST_AUTO_TEST_SUITE(shm_size_example)

BOOST_AUTO_TEST_CASE(parsed_and_refused_with_the_pointer) {
  TempDir dir;
  BOOST_TEST(load_text(dir, R"({"extends": "base", "shm_size": "32M"})").shm_size_bytes == 32u << 20);
  BOOST_TEST(load_text(dir, R"({"extends": "base"})").shm_size_bytes == 16u << 20);
  expect_error(R"({"extends": "base", "shm_size": "big"})", {"t.json", "/shm_size", "expected a size such as \"512M\""});
}

BOOST_AUTO_TEST_CASE(sizes_the_dev_shm_tmpfs) {
  TempDir dir;
  HostFacts facts;
  facts.landlock_abi = 7;
  TaskRequest request;
  request.argv = {"x"};
  const auto plan = make_plan(load_text(dir, R"({"extends": "base", "shm_size": "32M"})"), request, facts, "r");
  const auto shm = std::find_if(plan.mount_ops.begin(), plan.mount_ops.end(),
                                [](const MountOp& op) { return op.target == "dev/shm"; });
  BOOST_TEST_REQUIRE((shm != plan.mount_ops.end()));
  BOOST_TEST(shm->data.find("size=33554432,") == 0u, shm->data);
}

BOOST_AUTO_TEST_CASE(bigger_widens_and_final_refuses_it) {
  TempDir dir;
  const auto before = load_text(dir, R"({"extends": "base"})", "small");
  const auto after = load_text(dir, R"({"extends": "base", "shm_size": "64M"})", "big");
  const auto changes = compare_profiles(before, after);
  const auto change = std::find_if(changes.begin(), changes.end(), [](const Change& c) { return c.field == "shm_size"; });
  BOOST_TEST_REQUIRE((change != changes.end()));
  BOOST_TEST((change->effect == Effect::widens));
  dir.write("tiers/sealed.json", R"({"extends": "base", "final": ["shm_size"]})");
  BOOST_TEST(load_text(dir, R"({"extends": "sealed", "shm_size": "8M"})").shm_size_bytes == 8u << 20);  // the control
  const auto message = load_error(dir, R"({"extends": "sealed", "shm_size": "64M"})");
  BOOST_TEST(message.find("/shm_size: widens shm_size") != std::string::npos, message);
  BOOST_TEST(message.find("sealed.json marks final") != std::string::npos, message);
}

BOOST_AUTO_TEST_SUITE_END()
