// The daemon's request parser's fuzz target, shared by the libFuzzer binary
// (daemon_request_fuzzer.cpp) and the unit test that replays its corpus.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tierbox::fuzz {

// Feeds data to the daemon's parser as a frame (header and body) and as a
// bare body, then parses whatever is a run or signal message. Must never
// crash, hang or leak: errors are ProtocolErrors, and nothing else.
void daemon_request_one_input(const std::uint8_t* data, std::size_t size);

}  // namespace tierbox::fuzz
