// The `widening` section of a tier: what a caller may ask for at the command
// line beyond what the tier gives every task, and up to where. Nothing by
// default: each widening flag of `tierbox run` is refused (126) unless the
// tier allows it here, and every widening is a fact the approval matrix can
// match on (profiles/approvals.json, docs/governance.md).
//
//   "widening": {
//     "binds": "read-write",      --bind / --bind-rw SRC:TARGET ("none", "read-only", "read-write")
//     "network": true,            --allow-net HOST:PORT/PROTO (an allowlist destination)
//     "limits": {"memory": "8G", "pids": 4096, "cpu": 4, "wall_time": "4h"}
//                                 --memory / --pids / --cpu / --timeout above the tier's own, up to these
//   }
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace tierbox::policy {

class JsonObjectReader;
struct Profile;

enum class BindWidening { none, read_only, read_write };

const char* to_string(BindWidening binds);

struct WideningSpec {
  BindWidening binds = BindWidening::none;
  bool network = false;
  // The most a caller may raise each limit to; nullopt: not above the tier's.
  std::optional<std::uint64_t> memory;
  std::optional<std::uint64_t> pids;
  std::optional<std::uint32_t> cpu_millicores;
  std::optional<std::chrono::milliseconds> wall_time;
};

// Applies one file's `widening` object over spec: each key replaces.
void apply_widening(JsonObjectReader reader, WideningSpec& spec);
// After the whole chain: a ceiling below the tier's own limit (or for a limit
// the tier does not set) is an error. Throws ConfigError.
void validate_widening(const Profile& profile);

}  // namespace tierbox::policy
