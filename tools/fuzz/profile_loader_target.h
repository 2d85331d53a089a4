// The profile loader's fuzz target, shared by the libFuzzer binary
// (profile_loader_fuzzer.cpp) and the unit test that replays the corpus.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tierbox::fuzz {

// Feeds data to the loader as a tier file (and to the data-class inventory
// parser); whatever loads is also compared and explained. Must never crash,
// hang or leak on any input: errors are ConfigErrors, and nothing else.
void profile_loader_one_input(const std::uint8_t* data, std::size_t size);

}  // namespace tierbox::fuzz
