#include "oci/update.h"

#include <algorithm>
#include <charconv>
#include <limits>

#include "cli/oci_args.h"
#include "common/errors.h"
#include "common/units.h"
#include "oci/limit_ceiling.h"

namespace tierbox::oci {
namespace {

using nlohmann::json;
using stages::kCgroupUnlimited;

constexpr std::uint64_t kLeastMemory = 1ULL << 20;  // as `tierbox run --memory` (policy/widening.cpp)

[[noreturn]] void fail(const std::string& origin, const std::string& field, const std::string& problem,
                       const std::string& fix) {
  throw Error(origin + ": " + field + ": " + problem + " (fix: " + fix + ")", exit_code::runner_failed);
}

// The value at key: an integer, -1 or more (-1: no limit). nullopt when
// absent or null.
std::optional<Asked> limit_at(const json& object, const char* key, const std::string& field, const std::string& origin) {
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) return std::nullopt;
  if (!it->is_number_integer()) fail(origin, field, "not an integer", "a JSON integer");
  if (it->is_number_unsigned() && it->get<std::uint64_t>() > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
    fail(origin, field, it->dump() + " is too large", "a number below 2^63");
  const auto value = it->get<std::int64_t>();
  if (value < -1) fail(origin, field, std::to_string(value) + " is negative", "a positive number, 0 to leave it, -1 for no limit");
  return Asked{value, field};
}

// A field tierbox does not apply: a note when it says anything (not 0,
// false, "", null, [] or {}).
void note_unapplied(const json& object, const char* key, const std::string& field, const std::string& why,
                    std::vector<std::string>& notes) {
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) return;
  const bool says_nothing = (it->is_number() && it->get<double>() == 0) || (it->is_boolean() && !it->get<bool>()) ||
                            (it->is_string() && it->get<std::string>().empty()) ||
                            ((it->is_array() || it->is_object()) && it->empty());
  if (!says_nothing) notes.push_back(field + " " + it->dump() + ": not applied (" + why + ")");
}

const json* object_at(const json& object, const char* key, const std::string& origin) {
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) return nullptr;
  if (!it->is_object()) fail(origin, key, "not an object", "a JSON object, as the OCI runtime specification's LinuxResources");
  return &*it;
}

constexpr const char* kNoSuchLimit = "tierbox limits memory, memory+swap, pids and the CPU quota";

}  // namespace

ResourceUpdate parse_resources(const json& document, const std::string& origin) {
  if (!document.is_object()) fail(origin, "the resources", "not a JSON object", "{\"memory\": {\"limit\": BYTES}, ...}");
  ResourceUpdate update;
  static const char* kKnown[] = {"memory", "cpu", "pids", "blockIO", "hugepageLimits", "network", "rdma", "unified", "devices"};
  for (const auto& [key, value] : document.items()) {
    if (std::find(std::begin(kKnown), std::end(kKnown), key) == std::end(kKnown))
      update.notes.push_back(key + ": not a LinuxResources field; ignored");
  }
  if (const auto* memory = object_at(document, "memory", origin)) {
    update.memory = limit_at(*memory, "limit", "memory.limit", origin);
    update.memory_swap = limit_at(*memory, "swap", "memory.swap", origin);
    for (const char* key : {"reservation", "kernel", "kernelTCP", "swappiness", "disableOOMKiller", "useHierarchy",
                            "checkBeforeUpdate"})
      note_unapplied(*memory, key, std::string("memory.") + key, kNoSuchLimit, update.notes);
  }
  if (const auto* cpu = object_at(document, "cpu", origin)) {
    update.cpu_quota = limit_at(*cpu, "quota", "cpu.quota", origin);
    update.cpu_period = limit_at(*cpu, "period", "cpu.period", origin);
    if (update.cpu_period && update.cpu_period->value < 0)
      fail(origin, "cpu.period", "-1 is negative", "a period in µs, or 0 for the default");
    for (const char* key : {"shares", "burst", "realtimeRuntime", "realtimePeriod", "cpus", "mems", "idle"})
      note_unapplied(*cpu, key, std::string("cpu.") + key, kNoSuchLimit, update.notes);
  }
  if (const auto* pids = object_at(document, "pids", origin)) update.pids = limit_at(*pids, "limit", "pids.limit", origin);
  for (const char* key : {"blockIO", "hugepageLimits", "network", "rdma", "unified"})
    note_unapplied(document, key, key, kNoSuchLimit, update.notes);
  note_unapplied(document, "devices", "devices", "tierbox gives a container no host device; an update never adds one",
                 update.notes);
  return update;
}

std::int64_t parse_integer_flag(const std::string& flag, const std::string& text) {
  std::int64_t value = 0;
  const auto* end = text.data() + text.size();
  const auto [next, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || next != end)
    throw Error(flag + " " + quote(text) + ": not an integer (fix: a whole number, -1 for no limit)", exit_code::runner_failed);
  if (value < -1)
    throw Error(flag + " " + text + ": negative (fix: a positive number, 0 to leave it, -1 for no limit)",
                exit_code::runner_failed);
  return value;
}

std::int64_t parse_size_flag(const std::string& flag, const std::string& text) {
  if (text == "-1") return -1;
  if (!text.empty() && text.front() == '-')
    throw Error(flag + " " + text + ": negative (fix: a size such as 64m or 1g, 0 to leave it, -1 for no limit)",
                exit_code::runner_failed);
  const auto bytes = parse_size(text);
  if (!bytes || *bytes > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
    throw Error(flag + " " + quote(text) + ": not a size (fix: bytes, or a size such as 64m or 1g)", exit_code::runner_failed);
  return static_cast<std::int64_t>(*bytes);
}

namespace {

[[noreturn]] void update_usage(const std::string& text) {
  throw Error(text + " (usage: update [--resources FILE|-] [--memory BYTES] [--memory-swap BYTES] [--pids-limit N] "
                     "[--cpu-quota US] [--cpu-period US] ID; docs/cli.md)",
              exit_code::runner_failed);
}

}  // namespace

UpdateArguments parse_update_arguments(const std::vector<std::string>& args) {
  UpdateArguments out;
  auto& flags = out.flags;
  std::vector<std::string> positional;
  std::string value;
  std::vector<std::string> other_flags;  // given with --resources: ignored, as runc does
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string arg = args[i];  // take() moves i past a separate value
    const auto take = [&](const char* name) { return cli::take_value(args, i, name, value, update_usage); };
    if (take("--resources") || take("-r")) {
      out.resources_file = value;
      continue;
    }
    bool taken = true;
    if (take("--memory") || take("-m")) flags.memory = Asked{parse_size_flag("--memory", value), "--memory"};
    else if (take("--memory-swap")) flags.memory_swap = Asked{parse_size_flag("--memory-swap", value), "--memory-swap"};
    else if (take("--pids-limit")) flags.pids = Asked{parse_integer_flag("--pids-limit", value), "--pids-limit"};
    else if (take("--cpu-quota")) flags.cpu_quota = Asked{parse_integer_flag("--cpu-quota", value), "--cpu-quota"};
    else if (take("--cpu-period")) {
      flags.cpu_period = Asked{parse_integer_flag("--cpu-period", value), "--cpu-period"};
      if (flags.cpu_period->value < 0) update_usage("--cpu-period -1: a period in µs, or 0 for the default");
    } else taken = false;
    if (taken) {
      other_flags.push_back(arg.substr(0, arg.find('=')));
      continue;
    }
    if (take("--l3-cache-schema") || take("--mem-bw-schema"))
      throw Error(arg.substr(0, arg.find('=')) + ": Intel RDT is not supported by tierbox (fix: leave it out)", exit_code::runner_failed);
    bool unapplied = false;
    for (const char* name : {"--blkio-weight", "--cpu-share", "--cpu-shares", "--cpu-burst", "--cpu-rt-period",
                             "--cpu-rt-runtime", "--cpuset-cpus", "--cpuset-mems", "--cpu-idle", "--memory-reservation",
                             "--kernel-memory", "--kernel-memory-tcp"}) {
      if (!take(name)) continue;
      unapplied = true;
      if (!value.empty() && value != "0")
        flags.notes.push_back(std::string(name) + " " + value + ": not applied (" + kNoSuchLimit + ")");
      break;
    }
    if (unapplied) continue;
    if (args[i].size() > 1 && args[i].front() == '-') update_usage("unknown option " + quote(args[i]) + " of update");
    positional.push_back(args[i]);
  }
  if (positional.empty()) update_usage("update needs a container id");
  if (positional.size() > 1) update_usage("update: unexpected " + quote(positional.back()));
  out.id = positional.front();
  if (out.resources_file && !other_flags.empty()) {
    out.flags = {};
    out.flags.notes.push_back("--resources given: " + other_flags.front() + " and the other limit flags are ignored (as runc does)");
  }
  return out;
}

namespace {

// The tier's value for a limit asked as -1 ("no limit"): the tier's, or
// none where the tier has none.
template <typename T>
std::uint64_t tier_or_unlimited(const std::optional<T>& tier_value) {
  return tier_value ? static_cast<std::uint64_t>(*tier_value) : kCgroupUnlimited;
}

void note_no_limit(const Asked& asked, const std::string& key, const policy::Profile& tier, const std::string& applied,
                   std::vector<std::string>& notes) {
  notes.push_back(asked.field + " -1 (no limit): tier '" + tier.name + "' limits." + key + "; the tier's " + applied +
                  " applies");
}

void require_file(const std::optional<std::uint64_t>& now, const Asked& asked, const std::string& controller) {
  if (!now)
    throw Error(asked.field + ": the container's run has no " + controller +
                    " cgroup file to set (this host has no such controller for it, or the run is ending; fix: leave " +
                    asked.field + " out)",
                exit_code::runner_failed);
}

void plan_memory(const ResourceUpdate& update, const policy::Profile& tier, const stages::RunLimits& now, UpdatePlan& plan) {
  const auto& limits = tier.limits.cgroup;
  auto memory_swap = update.memory_swap;
  if (update.memory && update.memory->value != 0) {
    const auto& asked = *update.memory;
    require_file(now.memory, asked, "memory");
    if (asked.value == -1) {
      plan.change.memory = tier_or_unlimited(limits.memory.value);
      if (limits.memory.value) note_no_limit(asked, "memory", tier, size_text(*limits.memory.value), plan.notes);
      // As runc: memory without a limit and no swap given means swap without one too.
      if (!memory_swap) memory_swap = Asked{-1, asked.field};
    } else {
      const auto bytes = static_cast<std::uint64_t>(asked.value);
      if (bytes < kLeastMemory)
        throw Error(asked.field + " " + std::to_string(bytes) + ": below 1 MiB, the least tierbox sets (fix: a larger limit)",
                    exit_code::runner_failed);
      std::optional<std::uint64_t> applied;
      narrow_limit<std::uint64_t>(bytes, limits.memory.value, asked.field, "memory", tier, size_text, applied, plan.notes);
      plan.change.memory = applied.value_or(limits.memory.value.value_or(bytes));
    }
  }
  if (!memory_swap || memory_swap->value == 0) return;
  const auto& asked = *memory_swap;
  if (!now.memory_swap) {
    plan.notes.push_back(asked.field + ": not applied (this host has no swap accounting, so no swap limit to set)");
    return;
  }
  // The tier's swap: its memory_swap, none where it limits memory without
  // saying (the rule a run's cgroups are made by), else no limit.
  const std::optional<std::uint64_t> ceiling =
      limits.memory_swap.value ? limits.memory_swap.value : limits.memory.value ? std::optional<std::uint64_t>(0) : std::nullopt;
  if (asked.value == -1) {
    plan.change.memory_swap = tier_or_unlimited(ceiling);
    if (ceiling) note_no_limit(asked, "memory_swap", tier, size_text(*ceiling), plan.notes);
    return;
  }
  const auto memory = plan.change.memory ? plan.change.memory : now.memory;
  if (!memory || *memory == kCgroupUnlimited)
    throw Error(asked.field + ": memory+swap needs a memory limit (fix: give the memory limit with it)", exit_code::runner_failed);
  const auto total = static_cast<std::uint64_t>(asked.value);
  if (total < *memory)
    throw Error(asked.field + " " + size_text(total) + ": below the memory limit " + size_text(*memory) +
                    " (it is memory plus swap; fix: at least the memory limit, or -1)",
                exit_code::runner_failed);
  std::optional<std::uint64_t> applied;
  narrow_limit<std::uint64_t>(total - *memory, ceiling, "swap (" + asked.field + " less memory)", "memory_swap", tier,
                              size_text, applied, plan.notes);
  plan.change.memory_swap = applied.value_or(ceiling.value_or(total - *memory));
}

void plan_pids(const Asked& asked, const policy::Profile& tier, const stages::RunLimits& now, UpdatePlan& plan) {
  const auto& tier_pids = tier.limits.cgroup.pids.value;
  require_file(now.pids, asked, "pids");
  if (asked.value == -1) {
    plan.change.pids = tier_or_unlimited(tier_pids);
    if (tier_pids) note_no_limit(asked, "pids", tier, count_text(*tier_pids), plan.notes);
    return;
  }
  std::optional<std::uint64_t> applied;
  narrow_limit<std::uint64_t>(static_cast<std::uint64_t>(asked.value), tier_pids, asked.field, "pids", tier, count_text,
                              applied, plan.notes);
  plan.change.pids = applied.value_or(tier_pids.value_or(static_cast<std::uint64_t>(asked.value)));
}

void plan_cpu(const ResourceUpdate& update, const policy::Profile& tier, const stages::RunLimits& now, UpdatePlan& plan) {
  const auto& tier_cpu = tier.limits.cgroup.cpu_millicores.value;
  const std::uint64_t period = update.cpu_period ? static_cast<std::uint64_t>(update.cpu_period->value) : 0;
  if (!update.cpu_quota || update.cpu_quota->value == 0) {
    if (period != 0)
      plan.notes.push_back(update.cpu_period->field + " " + std::to_string(period) +
                           " without a quota: not applied (tierbox's period is 100 ms; the quota's share of it is the limit)");
    return;
  }
  const auto& asked = *update.cpu_quota;
  if (asked.value == -1) {
    // No cpu cgroup: the run has no CPU limit, which is what -1 asks.
    if (!now.cpu_millicores && !tier_cpu) return;
    require_file(now.cpu_millicores, asked, "cpu");
    plan.change.cpu_millicores = tier_or_unlimited(tier_cpu);
    if (tier_cpu) note_no_limit(asked, "cpu", tier, millicores_text(*tier_cpu), plan.notes);
    return;
  }
  require_file(now.cpu_millicores, asked, "cpu");
  const auto millicores = cpu_millicores(static_cast<std::uint64_t>(asked.value), period);
  if (period != 0 && period != 100000)
    plan.notes.push_back(update.cpu_period->field + " " + std::to_string(period) + ": tierbox keeps its 100 ms period; " +
                         asked.field + " " + std::to_string(asked.value) + " of it is " + millicores_text(millicores));
  std::optional<std::uint32_t> applied;
  narrow_limit<std::uint32_t>(millicores, tier_cpu, asked.field, "cpu", tier, millicores_text, applied, plan.notes);
  plan.change.cpu_millicores = applied.value_or(tier_cpu.value_or(millicores));
}

}  // namespace

UpdatePlan plan_update(const ResourceUpdate& update, const policy::Profile& tier, const stages::RunLimits& now) {
  UpdatePlan plan;
  plan.notes = update.notes;
  plan_memory(update, tier, now, plan);
  if (update.pids && update.pids->value != 0) plan_pids(*update.pids, tier, now, plan);
  plan_cpu(update, tier, now, plan);
  return plan;
}

json limits_json(const stages::RunLimits& limits) {
  json out = json::object();
  const auto put = [&](const char* key, const std::optional<std::uint64_t>& value) {
    if (value) out[key] = *value == kCgroupUnlimited ? json("max") : json(*value);
  };
  put("memory", limits.memory);
  put("memory_swap", limits.memory_swap);
  put("pids", limits.pids);
  put("cpu_millicores", limits.cpu_millicores);
  return out;
}

}  // namespace tierbox::oci
