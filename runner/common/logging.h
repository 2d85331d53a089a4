// Logging for the runner's own side (never the child after clone). Verbose mode
// (-v) prints each launch step with the time since tierbox started, so a user
// can see where the milliseconds of a launch go. The spdlog logger is made on
// first use: a launch that logs nothing does not pay for it.
#pragma once

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdint>
#include <string_view>

namespace tierbox::logging {

// Called once, first thing in main(): the reference point of step timings.
void mark_process_start();
// Sets verbosity; the stderr logger itself is made when first needed.
void configure(bool verbose);
bool verbose();
// Milliseconds since mark_process_start().
double elapsed_ms();
// mark_process_start() on CLOCK_MONOTONIC, to place the child's timestamps.
std::uint64_t start_monotonic_ns();
// Milliseconds from start_ns to at_ns, both CLOCK_MONOTONIC, signed: a time
// before the start (a clock read in another time namespace, or a step done
// before mark_process_start) reads as negative, never as 2^64 - x.
double milliseconds_between(std::uint64_t start_ns, std::uint64_t at_ns);
// The stderr logger ("tierbox: error: ...").
spdlog::logger& logger();

// "[   1.234 ms] step text" when verbose; nothing (and no formatting) otherwise.
template <typename... Args>
void step(fmt::format_string<Args...> format, Args&&... args) {
  if (!verbose()) return;
  logger().debug("[{:8.3f} ms] {}", elapsed_ms(), fmt::format(format, std::forward<Args>(args)...));
}

// A step that happened at a CLOCK_MONOTONIC time measured elsewhere (the child).
template <typename... Args>
void step_at(std::uint64_t monotonic_ns, fmt::format_string<Args...> format, Args&&... args) {
  if (!verbose()) return;
  const double at_ms = milliseconds_between(start_monotonic_ns(), monotonic_ns);
  logger().debug("[{:8.3f} ms] {}", at_ms, fmt::format(format, std::forward<Args>(args)...));
}

template <typename... Args>
void warn(fmt::format_string<Args...> format, Args&&... args) {
  logger().warn(format, std::forward<Args>(args)...);
}

template <typename... Args>
void error(fmt::format_string<Args...> format, Args&&... args) {
  logger().error(format, std::forward<Args>(args)...);
}

}  // namespace tierbox::logging
