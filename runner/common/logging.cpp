#include "common/logging.h"

#include <spdlog/sinks/stdout_sinks.h>

#include <memory>

namespace tierbox::logging {
namespace {
std::chrono::steady_clock::time_point g_start = std::chrono::steady_clock::now();
bool g_verbose = false;
}  // namespace

void mark_process_start() { g_start = std::chrono::steady_clock::now(); }

void configure(bool verbose_mode) {
  g_verbose = verbose_mode;
  // A plain (uncoloured) stderr sink: stdout belongs to the task.
  auto logger = std::make_shared<spdlog::logger>("tierbox", std::make_shared<spdlog::sinks::stderr_sink_st>());
  logger->set_pattern("tierbox: %^%l%$: %v");
  logger->set_level(verbose_mode ? spdlog::level::debug : spdlog::level::warn);
  spdlog::set_default_logger(std::move(logger));
}

bool verbose() { return g_verbose; }

std::uint64_t start_monotonic_ns() {
  // libstdc++'s steady_clock is CLOCK_MONOTONIC.
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(g_start.time_since_epoch()).count());
}

double elapsed_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - g_start).count();
}

}  // namespace tierbox::logging
