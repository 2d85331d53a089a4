#include "common/logging.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <memory>

namespace tierbox::logging {
namespace {
std::chrono::steady_clock::time_point g_start = std::chrono::steady_clock::now();
bool g_verbose = false;
std::shared_ptr<spdlog::logger> g_logger;

// The stderr logger ("tierbox: error: ...").
spdlog::logger& logger() {
  if (!g_logger) {
    // A plain (uncoloured) stderr sink: stdout belongs to the task. Not
    // registered with spdlog's registry, which would cost a mutex and a map
    // for nothing.
    g_logger = std::make_shared<spdlog::logger>("tierbox", std::make_shared<spdlog::sinks::stderr_sink_st>());
    g_logger->set_pattern("tierbox: %^%l%$: %v");
    g_logger->set_level(g_verbose ? spdlog::level::debug : spdlog::level::warn);
  }
  return *g_logger;
}
}  // namespace

void mark_process_start() { g_start = std::chrono::steady_clock::now(); }

void configure(bool verbose_mode) {
  g_verbose = verbose_mode;
  if (g_logger) g_logger->set_level(verbose_mode ? spdlog::level::debug : spdlog::level::warn);
}

bool verbose() { return g_verbose; }

std::uint64_t start_monotonic_ns() {
  // libstdc++'s steady_clock is CLOCK_MONOTONIC.
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(g_start.time_since_epoch()).count());
}

double milliseconds_between(std::uint64_t start_ns, std::uint64_t at_ns) {
  // Subtracted as signed: the unsigned difference of an earlier time wraps.
  return static_cast<double>(static_cast<std::int64_t>(at_ns - start_ns)) / 1e6;
}

double elapsed_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - g_start).count();
}

void step_formatted(double at_ms, fmt::string_view format, fmt::format_args args) {
  logger().debug("[{:8.3f} ms] {}", at_ms, fmt::vformat(format, args));
}

void warn_formatted(fmt::string_view format, fmt::format_args args) {
  logger().warn(fmt::string_view(fmt::vformat(format, args)));
}

void error_formatted(fmt::string_view format, fmt::format_args args) {
  logger().error(fmt::string_view(fmt::vformat(format, args)));
}

}  // namespace tierbox::logging
