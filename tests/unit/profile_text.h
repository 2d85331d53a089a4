// Profiles given as text: written as tiers/NAME.json of a test's temp config
// directory and loaded with the shipped profiles behind it (so `extends:
// base` works), as the unit tests of the policy code need them.
#pragma once

#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "common/errors.h"
#include "common/temp_dir.h"
#include "policy/profile_loader.h"

namespace tierbox::testing {

inline const std::filesystem::path kShipped = std::filesystem::path(TIERBOX_SOURCE_DIR) / "profiles";

inline policy::Profile load_text(const TempDir& dir, const std::string& text, const std::string& name = "t") {
  return policy::load_profile_file(dir.write("tiers/" + name + ".json", text), {dir.path(), kShipped});
}

// The ConfigError's message of loading text, or "" when it loads.
inline std::string load_error(const TempDir& dir, const std::string& text) {
  try {
    load_text(dir, text);
  } catch (const ConfigError& error) {
    return error.what();
  }
  return "";
}

// Asserts that loading text fails with a one-line ConfigError (exit 125)
// containing every part.
inline void expect_error(const std::string& text, const std::vector<std::string>& parts) {
  TempDir dir;
  try {
    load_text(dir, text);
    BOOST_ERROR("no error for: " << text);
  } catch (const ConfigError& error) {
    const std::string message = error.what();
    for (const auto& part : parts) BOOST_TEST(message.find(part) != std::string::npos, "'" << part << "' not in: " << message);
    BOOST_TEST(error.exit_status() == 125);
    BOOST_TEST(message.find('\n') == std::string::npos, "message is not one line: " << message);
  }
}

}  // namespace tierbox::testing
