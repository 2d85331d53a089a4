// Replays the fuzz corpus (tools/fuzz/corpus/profile_loader) through the fuzz
// target without libFuzzer: every input must be handled without an escaping
// exception (only ConfigErrors, caught inside), so a regression on a known
// tricky input shows up in ctest; the fuzzer itself runs from
// tools/fuzz/profile_loader.sh.
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>

#include "../tools/fuzz/profile_loader_target.h"

namespace fs = std::filesystem;

BOOST_AUTO_TEST_SUITE(fuzz_corpus_replay)

BOOST_AUTO_TEST_CASE(every_corpus_input_is_handled) {
  const fs::path corpus = fs::path(TIERBOX_SOURCE_DIR) / "tools/fuzz/corpus/profile_loader";
  int inputs = 0;
  for (const auto& entry : fs::directory_iterator(corpus)) {
    std::ifstream in(entry.path(), std::ios::binary);
    const std::string data{std::istreambuf_iterator<char>(in), {}};
    BOOST_CHECK_NO_THROW(tierbox::fuzz::profile_loader_one_input(reinterpret_cast<const std::uint8_t*>(data.data()), data.size()));
    ++inputs;
  }
  BOOST_TEST(inputs >= 5);
  // Hostile shapes the JSON reader bounds.
  const std::string deep(100000, '[');
  BOOST_CHECK_NO_THROW(tierbox::fuzz::profile_loader_one_input(reinterpret_cast<const std::uint8_t*>(deep.data()), deep.size()));
  const std::string nul("{\"owner\":\"a\0b\"}", 15);
  BOOST_CHECK_NO_THROW(tierbox::fuzz::profile_loader_one_input(reinterpret_cast<const std::uint8_t*>(nul.data()), nul.size()));
}

BOOST_AUTO_TEST_SUITE_END()
