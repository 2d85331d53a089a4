#include "common/units.h"

#include <charconv>
#include <limits>

namespace tierbox {
namespace {

// Splits "512M" into 512 and "M"; nullopt when there are no leading digits.
std::optional<std::pair<std::uint64_t, std::string_view>> split_number(std::string_view text) {
  std::uint64_t value = 0;
  const auto* begin = text.data();
  const auto* end = text.data() + text.size();
  auto [next, ec] = std::from_chars(begin, end, value);
  if (ec != std::errc() || next == begin) return std::nullopt;
  return std::make_pair(value, std::string_view(next, static_cast<std::size_t>(end - next)));
}

bool multiply(std::uint64_t value, std::uint64_t factor, std::uint64_t& out) {
  if (factor != 0 && value > std::numeric_limits<std::uint64_t>::max() / factor) return false;
  out = value * factor;
  return true;
}

}  // namespace

std::optional<std::uint64_t> parse_size(std::string_view text) {
  auto parsed = split_number(text);
  if (!parsed) return std::nullopt;
  auto [value, suffix] = *parsed;
  std::uint64_t factor = 1;
  if (!suffix.empty()) {
    switch (suffix.front()) {
      case 'k': case 'K': factor = 1ULL << 10; break;
      case 'm': case 'M': factor = 1ULL << 20; break;
      case 'g': case 'G': factor = 1ULL << 30; break;
      case 't': case 'T': factor = 1ULL << 40; break;
      case 'b': case 'B': factor = 1; break;
      default: return std::nullopt;
    }
    if (factor != 1) {
      suffix.remove_prefix(1);
      if (suffix == "i" || suffix == "iB" || suffix == "B") suffix = {};
    } else {
      suffix.remove_prefix(1);
    }
    if (!suffix.empty()) return std::nullopt;
  }
  std::uint64_t bytes = 0;
  if (!multiply(value, factor, bytes)) return std::nullopt;
  return bytes;
}

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
  auto parsed = split_number(text);
  if (!parsed) return std::nullopt;
  auto [value, suffix] = *parsed;
  std::uint64_t factor = 0;
  if (suffix.empty() || suffix == "s") factor = 1000;
  else if (suffix == "ms") factor = 1;
  else if (suffix == "m" || suffix == "min") factor = 60'000;
  else if (suffix == "h") factor = 3'600'000;
  else if (suffix == "d") factor = 86'400'000;
  else return std::nullopt;
  std::uint64_t ms = 0;
  if (!multiply(value, factor, ms) || ms > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
    return std::nullopt;
  return std::chrono::milliseconds(static_cast<std::int64_t>(ms));
}

std::string format_size(std::uint64_t bytes) {
  static constexpr const char* kSuffixes[] = {"", "K", "M", "G", "T"};
  std::size_t index = 0;
  while (index + 1 < std::size(kSuffixes) && bytes != 0 && bytes % 1024 == 0) {
    bytes /= 1024;
    ++index;
  }
  return std::to_string(bytes) + kSuffixes[index];
}

std::string format_duration(std::chrono::milliseconds duration) {
  auto ms = duration.count();
  if (ms % 3'600'000 == 0 && ms != 0) return std::to_string(ms / 3'600'000) + "h";
  if (ms % 60'000 == 0 && ms != 0) return std::to_string(ms / 60'000) + "m";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

}  // namespace tierbox
