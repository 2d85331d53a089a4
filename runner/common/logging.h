// Logging for the runner's own side (never the child after clone). Verbose mode
// (-v) prints each launch step with the time since tierbox started, so a user
// can see where the milliseconds of a launch go. The spdlog logger is made on
// first use: a launch that logs nothing does not pay for it.
//
// Only fmt/core.h is included here: spdlog, used header-only, costs about 9 s
// of compile per unit that includes it, so it stays in logging.cpp. The
// templates below only check the format string (at compile time) and erase the
// arguments' types; the formatting itself is compiled once, in logging.cpp.
#pragma once

#include <fmt/core.h>

#include <cstdint>

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

// The type-erased forms the templates below call (logging.cpp).
void step_formatted(double at_ms, fmt::string_view format, fmt::format_args args);
void warn_formatted(fmt::string_view format, fmt::format_args args);
void error_formatted(fmt::string_view format, fmt::format_args args);

// "[   1.234 ms] step text" when verbose; nothing (and no formatting) otherwise.
template <typename... Args>
void step(fmt::format_string<Args...> format, Args&&... args) {
  if (!verbose()) return;
  step_formatted(elapsed_ms(), format, fmt::make_format_args(args...));
}

// A step that happened at a CLOCK_MONOTONIC time measured elsewhere (the child).
template <typename... Args>
void step_at(std::uint64_t monotonic_ns, fmt::format_string<Args...> format, Args&&... args) {
  if (!verbose()) return;
  const double at_ms = milliseconds_between(start_monotonic_ns(), monotonic_ns);
  step_formatted(at_ms, format, fmt::make_format_args(args...));
}

// "tierbox: warning: ..." on stderr.
template <typename... Args>
void warn(fmt::format_string<Args...> format, Args&&... args) {
  warn_formatted(format, fmt::make_format_args(args...));
}

// "tierbox: error: ..." on stderr.
template <typename... Args>
void error(fmt::format_string<Args...> format, Args&&... args) {
  error_formatted(format, fmt::make_format_args(args...));
}

}  // namespace tierbox::logging
