#include "policy/sections/network.h"

#include "common/errors.h"
#include "policy/json_reader.h"
#include "policy/profile.h"
#include "policy/sections/registry.h"

namespace tierbox::policy {

const char* to_string(NetworkMode mode) {
  switch (mode) {
    case NetworkMode::none: return "none";
    case NetworkMode::allowlist: return "allowlist";
    case NetworkMode::host: return "host";
  }
  return "?";
}

const char* to_string(NameResolution names) { return names == NameResolution::resolver ? "resolver" : "pinned"; }

void apply_network(JsonObjectReader reader, NetworkSpec& spec) {
  if (auto mode = reader.string("mode")) {
    if (*mode == "none") spec.mode = NetworkMode::none;
    else if (*mode == "allowlist") spec.mode = NetworkMode::allowlist;
    else if (*mode == "host") spec.mode = NetworkMode::host;
    else reader.fail("mode", "expected \"none\", \"allowlist\" or \"host\", got " + nlohmann::json(*mode).dump());
    spec.mode_origin = reader.file() + ":" + reader.pointer_of("mode");
  }
  if (auto allow = reader.string_array("allow")) {
    spec.allow.clear();
    for (std::size_t i = 0; i < allow->size(); ++i) {
      auto parsed = net::parse_destination((*allow)[i]);
      if (auto* message = std::get_if<std::string>(&parsed))
        throw ConfigError(reader.file(), json_pointer_append(reader.pointer_of("allow"), i),
                          nlohmann::json((*allow)[i]).dump() + ": " + *message);
      spec.allow.push_back(std::get<net::Destination>(std::move(parsed)));
    }
    spec.allow_origin = reader.file() + ":" + reader.pointer_of("allow");
  }
  if (auto names = reader.string("names")) {
    if (*names == "resolver") spec.names = NameResolution::resolver;
    else if (*names == "pinned") spec.names = NameResolution::pinned;
    else reader.fail("names", "expected \"resolver\" or \"pinned\", got " + nlohmann::json(*names).dump());
    spec.names_origin = reader.file() + ":" + reader.pointer_of("names");
  }
  reader.finish();
}

void validate_network(const NetworkSpec& spec, const std::string& leaf_file) {
  const auto where = [&](const std::string& origin, const char* field) {
    return origin.empty() ? leaf_file + ":/network/" + field : origin;
  };
  if (spec.mode == NetworkMode::allowlist && spec.allow.empty())
    throw ConfigError(where(spec.allow_origin, "allow") +
                      ": mode \"allowlist\" with nothing allowed (fix: list destinations such as "
                      "\"api.github.com:443/tcp\", or use mode \"none\")");
  if (spec.mode != NetworkMode::allowlist && !spec.allow.empty())
    throw ConfigError(where(spec.allow_origin, "allow") + ": destinations are listed but network.mode is \"" +
                      to_string(spec.mode) + "\" (" + where(spec.mode_origin, "mode") +
                      "; fix: set mode \"allowlist\", or \"allow\": [])");
  if (spec.names == NameResolution::pinned) {
    for (const auto& destination : spec.allow)
      if (destination.wildcard)
        throw ConfigError(where(spec.allow_origin, "allow") + ": " + nlohmann::json(destination.text).dump() +
                          " is a wildcard, which cannot be pinned at launch (" + where(spec.names_origin, "names") +
                          " is \"pinned\"; fix: \"names\": \"resolver\", or list the exact names)");
  }
}

std::vector<std::string> network_warnings(const NetworkSpec& spec) {
  if (spec.mode != NetworkMode::host) return {};
  return {"network.mode \"host\": the task shares the host's network (every address and port the host can reach, "
          "its loopback services and cloud metadata included); for trusted tiers only"};
}

namespace {

void apply_network_layer(ProfileLayer& layer, Profile& profile) {
  if (auto network = layer.reader.object("network")) apply_network(std::move(*network), profile.network);
}

void validate_network_of(const Profile& profile) { validate_network(profile.network, profile.file.string()); }

}  // namespace

const ProfileSection& network_section() {
  static const ProfileSection kSection{
      "network",
      "network",
      {
          {"network", nullptr, nullptr, "what the task may reach (docs/network.md)", "Fields", true},
          {"network.mode", R"({"enum": ["none", "allowlist", "host"]})", R"("none")",
           "none: only lo; allowlist: egress to network.allow; host: the host's network", "Fields", true},
          {"network.allow", R"({"type": "array", "items": {"type": "string", "pattern": "^[^:]+:[0-9]+(-[0-9]+)?/(tcp|udp)$"}})",
           "[]", "HOST:PORT/PROTO destinations of mode allowlist; HOST may be a name or a wildcard *.example.com", "Fields"},
          {"network.names", R"({"enum": ["resolver", "pinned"]})", R"("resolver")",
           "resolver: the run's own resolver answers the allowed names and opens each address for its TTL; "
           "pinned: names resolved once at launch and pinned in /etc/hosts (no wildcards)",
           "Fields"},
      },
      apply_network_layer,
      validate_network_of,
  };
  return kSection;
}

}  // namespace tierbox::policy
