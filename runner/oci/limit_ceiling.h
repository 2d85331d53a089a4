// The one rule for a container's cgroup limits against its tier, used when
// the container is created (config.json's linux.resources, spec.h) and when
// an engine changes them (`update`, update.h): the tier is the ceiling. A
// value at or below the tier's applies; above it the tier's applies, noted
// for --log. Pure code.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/units.h"
#include "policy/profile.h"

namespace tierbox::oci {

// out is set to asked when the tier allows it; when asked is above the
// tier's value, out is left alone and a note names the field, the tier and
// the value that applies.
template <typename T>
void narrow_limit(const std::optional<T>& asked, const std::optional<T>& tier_value, const std::string& field,
                  const std::string& key, const policy::Profile& tier, std::string (*text)(T), std::optional<T>& out,
                  std::vector<std::string>& notes) {
  if (!asked) return;
  if (tier_value && *asked > *tier_value) {
    notes.push_back(field + " " + text(*asked) + ": above tier '" + tier.name + "' limits." + key + "; the tier's " +
                    text(*tier_value) + " applies");
    return;
  }
  out = *asked;
}

inline std::string size_text(std::uint64_t bytes) { return format_size(bytes); }
inline std::string count_text(std::uint64_t count) { return std::to_string(count); }
inline std::string millicores_text(std::uint32_t millicores) { return std::to_string(millicores) + "m CPU"; }

// The OCI CPU quota (µs per period, > 0) as tierbox's millicores: the share
// of one core, at least 10 (0.01 core, the least a run takes). period 0: the
// kernel's default of 100 ms.
inline std::uint32_t cpu_millicores(std::uint64_t quota_us, std::uint64_t period_us) {
  const std::uint64_t period = period_us > 0 ? period_us : 100000;
  const std::uint64_t millicores = std::max<std::uint64_t>(10, quota_us / period * 1000 + quota_us % period * 1000 / period);
  return static_cast<std::uint32_t>(std::min<std::uint64_t>(millicores, 0xffffffffULL));
}

}  // namespace tierbox::oci
