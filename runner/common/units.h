// Parsing of the human units profiles use: sizes ("512M", "1G", 1048576) and
// durations ("30s", "10m", "1h", "250ms", 90). Pure functions; they return
// nullopt on anything malformed so the caller can name the field in its error.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tierbox {

// Bytes. Suffixes K, M, G, T (powers of 1024), optionally followed by "i" or
// "B" ("512M", "512MiB", "512MB" are all 512 * 2^20). A bare number is bytes.
std::optional<std::uint64_t> parse_size(std::string_view text);

// Suffixes ms, s, m, h, d; a bare number is seconds.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

std::string format_size(std::uint64_t bytes);
std::string format_duration(std::chrono::milliseconds duration);

}  // namespace tierbox
