#include "policy/sections/limits.h"

#include <cmath>

#include "common/errors.h"
#include "common/units.h"
#include "policy/json_reader.h"
#include "policy/profile.h"
#include "policy/sections/registry.h"

namespace tierbox::policy {
namespace {

using json = nlohmann::json;

// The largest pid the kernel can hand out (PID_MAX_LIMIT on 64-bit).
constexpr std::uint64_t kMaxPids = 4194304;

// A limit is written either as its value or as {"value": ..., "required": false};
// null (in either place) removes a limit a base tier set.
template <typename T, typename Parse>
void read_cgroup_limit(JsonObjectReader& reader, const std::string& key, CgroupLimit<T>& limit, Parse parse) {
  const json* value = reader.raw(key);
  if (!value) return;
  if (value->is_null()) {
    limit = {};
    return;
  }
  if (!value->is_object()) {
    limit.value = parse(reader, key);
    limit.required = true;
    return;
  }
  JsonObjectReader inner(*value, reader.file(), reader.pointer_of(key));
  const json* inner_value = inner.raw("value");
  if (!inner_value) inner.fail("value", "missing: the limit itself, e.g. {\"value\": ..., \"required\": false}");
  limit.value = inner_value->is_null() ? std::nullopt : std::optional<T>(parse(inner, "value"));
  limit.required = inner.boolean("required").value_or(true);
  inner.finish();
}

std::uint64_t parse_memory(JsonObjectReader& reader, const std::string& key) {
  const auto bytes = *reader.size(key);
  if (bytes < (1ULL << 20)) reader.fail(key, "expected at least 1M (a smaller limit kills any task at once)");
  return bytes;
}

std::uint64_t parse_swap(JsonObjectReader& reader, const std::string& key) { return *reader.size(key); }

std::uint64_t parse_pids(JsonObjectReader& reader, const std::string& key) {
  const auto pids = *reader.unsigned_integer(key, kMaxPids);
  if (pids == 0) reader.fail(key, "expected at least 1 (the task itself)");
  return pids;
}

std::uint32_t parse_cpu(JsonObjectReader& reader, const std::string& key) {
  const json& value = *reader.raw(key);
  // 0.01 core is the smallest share cgroup v1 can give (1 ms per 100 ms period).
  if (!value.is_number() || value.get<double>() < 0.01 || value.get<double>() > 1024)
    reader.fail(key, "expected a number of cores between 0.01 and 1024, such as 0.5 or 2, got " + value.dump());
  return static_cast<std::uint32_t>(std::llround(value.get<double>() * 1000));
}

std::uint32_t parse_io_weight(JsonObjectReader& reader, const std::string& key) {
  const auto weight = *reader.unsigned_integer(key, 10000);
  if (weight == 0) reader.fail(key, "expected a weight from 1 to 10000 (100 is the default share)");
  return static_cast<std::uint32_t>(weight);
}

std::uint64_t parse_disk(JsonObjectReader& reader, const std::string& key) {
  const auto bytes = *reader.size(key);
  if (bytes < (1ULL << 20)) reader.fail(key, "expected at least 1M (the layer holds the task's whole change set)");
  return bytes;
}

std::uint64_t parse_output(JsonObjectReader& reader, const std::string& key) {
  const auto bytes = *reader.size(key);
  if (bytes == 0) reader.fail(key, "expected a size of at least 1 byte, e.g. \"64M\" (null for no limit)");
  return bytes;
}

// A number, a size such as "1G", or "unlimited".
std::uint64_t parse_rlimit_number(JsonObjectReader& reader, const std::string& key) {
  const json& value = *reader.raw(key);
  if (value.is_string() && value.get<std::string>() == "unlimited") return kRlimitUnlimited;
  if (value.is_number_unsigned()) return value.get<std::uint64_t>();
  if (value.is_string()) {
    if (auto number = parse_size(value.get<std::string>())) return *number;
  }
  reader.fail(key, "expected a number, a size such as \"1G\", \"unlimited\", null or {\"soft\": ..., \"hard\": ...}, got " +
                       value.dump());
}

// One rlimit: a value for both soft and hard limit, {"soft", "hard"}, or null
// (inherit the caller's).
void read_rlimit(JsonObjectReader& reader, const std::string& key, std::optional<RlimitValue>& limit) {
  const json* value = reader.raw(key);
  if (!value) return;
  if (value->is_null()) {
    limit.reset();
    return;
  }
  if (!value->is_object()) {
    const auto number = parse_rlimit_number(reader, key);
    limit = RlimitValue{number, number};
    return;
  }
  JsonObjectReader inner(*value, reader.file(), reader.pointer_of(key));
  if (!inner.has("soft")) inner.fail("soft", "missing (give both soft and hard, or one value for both)");
  if (!inner.has("hard")) inner.fail("hard", "missing (give both soft and hard, or one value for both)");
  RlimitValue pair{parse_rlimit_number(inner, "soft"), parse_rlimit_number(inner, "hard")};
  if (pair.soft > pair.hard) inner.fail("soft", "must not exceed hard");
  inner.finish();
  limit = pair;
}

void apply_rlimits(JsonObjectReader reader, RlimitsSpec& spec) {
  read_rlimit(reader, "nofile", spec.nofile);
  read_rlimit(reader, "nproc", spec.nproc);
  read_rlimit(reader, "fsize", spec.fsize);
  read_rlimit(reader, "core", spec.core);
  read_rlimit(reader, "stack", spec.stack);
  read_rlimit(reader, "as", spec.as);
  reader.finish();
}

}  // namespace

namespace {

// The smallest soft limit a launch can work with; each checked at `profile
// check` and load, so a tier never passes review and then fails every run.
void require_rlimit_minimum(const std::optional<RlimitValue>& limit, const char* key, std::uint64_t minimum,
                            const char* why, const std::string& file) {
  if (!limit || limit->soft >= minimum) return;
  throw ConfigError(file, std::string("/limits/rlimits/") + key,
                    std::to_string(limit->soft) + " is below the minimum of " + std::to_string(minimum) + " (" + why +
                        "; fix: at least " + std::to_string(minimum) + ", or null to inherit the caller's)");
}

}  // namespace

void validate_limits(const LimitsSpec& spec, const std::string& file) {
  const auto& rlimits = spec.rlimits;
  require_rlimit_minimum(rlimits.nofile, "nofile", kMinNofile,
                         "the sandbox's init and the runner's channels to it are open when the limit is set", file);
  require_rlimit_minimum(rlimits.stack, "stack", kMinStackBytes,
                         "below it the task dies with SIGSEGV before its first instruction", file);
  require_rlimit_minimum(rlimits.as, "as", kMinAddressSpaceBytes,
                         "below it no dynamically linked program can map its C library", file);
  // Swap is granted on top of a memory limit (cgroup v1 can only limit the
  // two together), so it means nothing alone.
  if (spec.cgroup.memory_swap.value && !spec.cgroup.memory.value)
    throw ConfigError(file, "/limits/memory_swap", "needs limits.memory (swap is allowed on top of a memory limit)");
}

void apply_limits(JsonObjectReader reader, LimitsSpec& spec) {
  if (auto wall_time = reader.duration("wall_time")) {
    if (wall_time->count() <= 0) reader.fail("wall_time", "expected a positive duration, e.g. \"10m\"");
    spec.wall_time = *wall_time;
  }
  read_cgroup_limit(reader, "memory", spec.cgroup.memory, parse_memory);
  read_cgroup_limit(reader, "memory_swap", spec.cgroup.memory_swap, parse_swap);
  read_cgroup_limit(reader, "pids", spec.cgroup.pids, parse_pids);
  read_cgroup_limit(reader, "cpu", spec.cgroup.cpu_millicores, parse_cpu);
  read_cgroup_limit(reader, "io_weight", spec.cgroup.io_weight, parse_io_weight);
  read_cgroup_limit(reader, "disk", spec.disk, parse_disk);
  if (reader.has("output")) {
    if (reader.raw("output")->is_null()) spec.output_bytes.reset();
    else spec.output_bytes = parse_output(reader, "output");
  }
  if (auto rlimits = reader.object("rlimits")) apply_rlimits(std::move(*rlimits), spec.rlimits);
  reader.finish();
}

namespace {

void apply_limits_layer(ProfileLayer& layer, Profile& profile) {
  if (auto limits = layer.reader.object("limits")) apply_limits(std::move(*limits), profile.limits);
}

// limits.disk is enforced by the staged layer's tmpfs; a tier whose task
// writes the host's disk directly (read-write workspace, writable bind)
// cannot be held to it on ext4 without quotas, so a required limit there is
// refused, like a cgroup limit a host cannot enforce.
void validate_disk_limit(const Profile& profile) {
  if (!profile.limits.disk.value || !profile.limits.disk.required) return;
  std::string direct;
  if (profile.workspace.writable && !profile.workspace.staged) direct = "the read-write workspace";
  for (const auto& mount : profile.mounts)
    if (direct.empty() && mount.type == MountType::bind && mount.writable) direct = "the writable bind " + mount.origin;
  if (direct.empty()) return;
  throw ConfigError(profile.file.string(), "/limits/disk",
                    "cannot be enforced on " + direct +
                        " (the task writes the host's disk there, and ext4 without quotas has no per-task limit; fix: "
                        "\"workspace\": {\"staged\": true}, or {\"value\": ..., \"required\": false})");
}

void validate_limits_of(const Profile& profile) {
  validate_limits(profile.limits, profile.file.string());
  validate_disk_limit(profile);
}

}  // namespace

const ProfileSection& limits_section() {
  static const ProfileSection kSection{
      "limits",
      "limits",
      {
          {"limits", nullptr, nullptr, "what a task may use", "Limits", true},
          {"limits.wall_time", R"({"$ref": "#/$defs/duration"})", R"("1h")",
           "the task tree is killed after this; `run --timeout` may only shorten it", "Limits", true},
          {"limits.memory", R"({"anyOf": [{"$ref": "#/$defs/size"}, {"$ref": "#/$defs/cgroup_limit"}]})", nullptr, "memory of the whole task tree (at least 1M)", "Limits"},
          {"limits.memory_swap", R"({"anyOf": [{"$ref": "#/$defs/size"}, {"$ref": "#/$defs/cgroup_limit"}]})", nullptr, "swap the task may use on top of limits.memory", "Limits"},
          {"limits.pids", R"({"anyOf": [{"type": "integer", "minimum": 1, "maximum": 4194304}, {"$ref": "#/$defs/cgroup_limit"}]})", nullptr, "processes and threads of the task tree at once", "Limits"},
          {"limits.cpu", R"({"anyOf": [{"type": "number", "minimum": 0.01, "maximum": 1024}, {"$ref": "#/$defs/cgroup_limit"}]})", nullptr, "cores of CPU time per wall time (0.01-1024)", "Limits"},
          {"limits.io_weight", R"({"anyOf": [{"type": "integer", "minimum": 1, "maximum": 10000}, {"$ref": "#/$defs/cgroup_limit"}]})", nullptr, "the task's share of disk time (1-10000, 100 is equal)", "Limits"},
          {"limits.disk", R"({"anyOf": [{"$ref": "#/$defs/size"}, {"$ref": "#/$defs/cgroup_limit"}]})", nullptr, "the most the task may write to disk (its staged layer); past it ENOSPC", "Limits"},
          {"limits.output", R"({"anyOf": [{"$ref": "#/$defs/size"}, {"type": "null"}]})", nullptr, "the most the task may write to stdout and stderr together; past it the stream is cut", "Limits"},
          {"limits.rlimits", nullptr, nullptr, "rlimits set in the sandbox (each null: the caller's is inherited)", "Limits"},
          {"limits.rlimits.nofile", R"({"$ref": "#/$defs/rlimit"})", nullptr, "open files (RLIMIT_NOFILE)", "Limits"},
          {"limits.rlimits.nproc", R"({"$ref": "#/$defs/rlimit"})", nullptr, "processes of the task's uid (RLIMIT_NPROC)", "Limits"},
          {"limits.rlimits.fsize", R"({"$ref": "#/$defs/rlimit"})", nullptr, "largest file the task may write (RLIMIT_FSIZE)", "Limits"},
          {"limits.rlimits.core", R"({"$ref": "#/$defs/rlimit"})", "0", "core dump size (none by default)", "Limits"},
          {"limits.rlimits.stack", R"({"$ref": "#/$defs/rlimit"})", nullptr, "main thread stack (RLIMIT_STACK)", "Limits"},
          {"limits.rlimits.as", R"({"$ref": "#/$defs/rlimit"})", nullptr, "address space (RLIMIT_AS)", "Limits"},
      },
      apply_limits_layer,
      validate_limits_of,
  };
  return kSection;
}

}  // namespace tierbox::policy
