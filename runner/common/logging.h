// Logging for the runner's own side (never the child after clone). Verbose mode
// (-v) prints each launch step with the time since tierbox started, so a user
// can see where the milliseconds of a launch go.
#pragma once

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdint>
#include <string_view>

namespace tierbox::logging {

// Called once, first thing in main(): the reference point of step timings.
void mark_process_start();
// Installs the stderr logger; verbose turns on the step log.
void configure(bool verbose);
bool verbose();
// Milliseconds since mark_process_start().
double elapsed_ms();
// mark_process_start() on CLOCK_MONOTONIC, to place the child's timestamps.
std::uint64_t start_monotonic_ns();

// "[   1.234 ms] step text" when verbose; nothing (and no formatting) otherwise.
template <typename... Args>
void step(fmt::format_string<Args...> format, Args&&... args) {
  if (!verbose()) return;
  spdlog::debug("[{:8.3f} ms] {}", elapsed_ms(), fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace tierbox::logging
