#include "policy/sections/widening.h"

#include <cmath>

#include "common/errors.h"
#include "common/units.h"
#include "policy/json_reader.h"
#include "policy/profile.h"
#include "policy/sections/registry.h"
#include "policy/profile.h"

namespace tierbox::policy {
namespace {

using json = nlohmann::json;

void apply_ceilings(JsonObjectReader reader, WideningSpec& spec) {
  if (const json* memory = reader.raw("memory")) {
    if (memory->is_null()) spec.memory.reset();
    else spec.memory = *reader.size("memory");
  }
  if (const json* pids = reader.raw("pids")) {
    if (pids->is_null()) spec.pids.reset();
    else spec.pids = *reader.unsigned_integer("pids", 4194304);
  }
  if (const json* cpu = reader.raw("cpu")) {
    if (cpu->is_null()) {
      spec.cpu_millicores.reset();
    } else {
      if (!cpu->is_number() || cpu->get<double>() < 0.01 || cpu->get<double>() > 1024)
        reader.fail("cpu", "expected a number of cores between 0.01 and 1024, got " + cpu->dump());
      spec.cpu_millicores = static_cast<std::uint32_t>(std::llround(cpu->get<double>() * 1000));
    }
  }
  if (const json* wall_time = reader.raw("wall_time")) {
    if (wall_time->is_null()) spec.wall_time.reset();
    else spec.wall_time = *reader.duration("wall_time");
  }
  reader.finish();
}

template <typename T>
void check_ceiling(const std::optional<T>& ceiling, const std::optional<T>& tier_value, const std::string& file,
                   const std::string& key) {
  if (!ceiling) return;
  if (!tier_value)
    throw ConfigError(file, "/widening/limits/" + key,
                      "the tier sets no limits." + key + ", so a caller cannot raise it (fix: remove this ceiling)");
  if (*ceiling < *tier_value)
    throw ConfigError(file, "/widening/limits/" + key,
                      "below the tier's own limits." + key + " (fix: a ceiling at or above it, or remove it)");
}

}  // namespace

const char* to_string(BindWidening binds) {
  switch (binds) {
    case BindWidening::none: return "none";
    case BindWidening::read_only: return "read-only";
    case BindWidening::read_write: return "read-write";
  }
  return "?";
}

void apply_widening(JsonObjectReader reader, WideningSpec& spec) {
  if (auto binds = reader.string("binds")) {
    if (*binds == "none") spec.binds = BindWidening::none;
    else if (*binds == "read-only") spec.binds = BindWidening::read_only;
    else if (*binds == "read-write") spec.binds = BindWidening::read_write;
    else reader.fail("binds", "expected \"none\", \"read-only\" or \"read-write\", got " + json(*binds).dump());
  }
  if (auto network = reader.boolean("network")) spec.network = *network;
  if (auto limits = reader.object("limits")) apply_ceilings(std::move(*limits), spec);
  reader.finish();
}

void validate_widening(const Profile& profile) {
  const auto& spec = profile.widening;
  const auto& limits = profile.limits.cgroup;
  const auto file = profile.file.string();
  check_ceiling(spec.memory, limits.memory.value, file, "memory");
  check_ceiling(spec.pids, limits.pids.value, file, "pids");
  check_ceiling(spec.cpu_millicores, limits.cpu_millicores.value, file, "cpu");
  check_ceiling(spec.wall_time, std::optional<std::chrono::milliseconds>(profile.limits.wall_time), file, "wall_time");
  if (spec.network && profile.network.mode == NetworkMode::host)
    throw ConfigError(file, "/widening/network",
                      "network mode host already reaches everything; nothing to widen (fix: remove it)");
}

namespace {

void apply_widening_layer(ProfileLayer& layer, Profile& profile) {
  if (auto widening = layer.reader.object("widening")) apply_widening(std::move(*widening), profile.widening);
}

}  // namespace

const ProfileSection& widening_section() {
  static const ProfileSection kSection{
      "widening",
      "approvals",
      {
          {"widening", nullptr, nullptr, "what a caller may ask for beyond the tier (docs/governance.md)", "Fields", true},
          {"widening.binds", R"({"enum": ["none", "read-only", "read-write"]})", R"("none")",
           "whether run --bind / --bind-rw may add a bind", "Fields"},
          {"widening.network", R"({"type": "boolean"})", "false", "whether run --allow-net may add a destination", "Fields"},
          {"widening.limits", nullptr, nullptr, "the most run --memory, --pids, --cpu, --timeout may raise each limit to",
           "Fields"},
          {"widening.limits.memory", R"({"anyOf": [{"type": "null"}, {"$ref": "#/$defs/size"}]})", nullptr,
           "the most run --memory may ask for", "Fields"},
          {"widening.limits.pids", R"({"anyOf": [{"type": "null"}, {"type": "integer", "minimum": 1, "maximum": 4194304}]})",
           nullptr, "the most run --pids may ask for", "Fields"},
          {"widening.limits.cpu", R"({"anyOf": [{"type": "null"}, {"type": "number", "minimum": 0.01, "maximum": 1024}]})",
           nullptr, "the most run --cpu may ask for", "Fields"},
          {"widening.limits.wall_time", R"({"anyOf": [{"type": "null"}, {"$ref": "#/$defs/duration"}]})", nullptr,
           "the most run --timeout may ask for", "Fields"},
      },
      apply_widening_layer,
      validate_widening,
  };
  return kSection;
}

}  // namespace tierbox::policy
