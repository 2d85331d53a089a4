#include "profile_loader_target.h"

#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

#include "common/errors.h"
#include "policy/data_classes.h"
#include "policy/json_reader.h"
#include "policy/profile_loader.h"
#include "policy/review/review.h"

#ifndef TIERBOX_SHIPPED_PROFILES
#error "TIERBOX_SHIPPED_PROFILES must name the profiles/ directory"
#endif

namespace tierbox::fuzz {
namespace {

namespace fs = std::filesystem;

// One private directory per process (the loader reads files), removed at exit.
struct WorkDir {
  fs::path path;
  WorkDir() {
    std::string pattern = (fs::temp_directory_path() / "tierbox-fuzz.XXXXXX").string();
    if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    path = pattern;
    fs::create_directories(path / "tiers");
  }
  ~WorkDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

const fs::path& work_dir() {
  static const WorkDir dir;
  return dir.path;
}

void exercise_profile(const fs::path& file) {
  const std::vector<fs::path> dirs = {work_dir(), TIERBOX_SHIPPED_PROFILES};
  policy::Profile profile;
  try {
    profile = policy::load_profile_file(file, dirs);
  } catch (const ConfigError&) {
    return;  // the expected outcome for most inputs
  }
  static const auto base = policy::load_tier("untrusted", {TIERBOX_SHIPPED_PROFILES});
  (void)policy::compare_profiles(base, profile);
  (void)policy::compare_profiles(profile, base);
  (void)policy::explain_profile(profile, policy::ExplainContext{nullptr, policy::Date{2026, 11, 25}});
}

void exercise_inventory(const std::string& text) {
  try {
    auto document = policy::parse_json_text(text, "fuzz.json");
    auto inventory = policy::parse_data_classes(document, "fuzz.json");
    policy::DataClassifier classifier(inventory, {{"root", "/root"}, {"agent", "/home/agent"}});
    for (const char* path : {"/", "/usr/bin/ls", "/root/.ssh/id_rsa", "/home/agent/work/.env", "/a/b/c/d/e/f"})
      (void)classifier.classify(path);
  } catch (const ConfigError&) {
  }
}

}  // namespace

void profile_loader_one_input(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const auto file = work_dir() / "tiers" / "fuzzed.json";
  {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out << text;
  }
  exercise_profile(file);
  exercise_inventory(text);
}

}  // namespace tierbox::fuzz
