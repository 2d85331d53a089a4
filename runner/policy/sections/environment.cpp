#include "policy/sections/environment.h"

#include "common/errors.h"
#include "policy/environment.h"
#include "policy/json_reader.h"
#include "policy/profile.h"
#include "policy/sections/registry.h"

namespace tierbox::policy {
namespace {

using nlohmann::json;

void check_variable_names(JsonObjectReader& reader, const std::string& key, const std::vector<std::string>& names,
                          bool patterns) {
  for (std::size_t i = 0; i < names.size(); ++i) {
    std::string name = names[i];
    std::string where = json_pointer_append(reader.pointer_of(key), i);
    if (patterns && !name.empty() && name.back() == '*') name.pop_back();
    if (!is_valid_variable_name(name) && !(patterns && name.empty()))
      throw ConfigError(reader.file(), where, "expected a variable name" + std::string(patterns ? " or a prefix ending in *" : "") +
                                                  ", got " + json(names[i]).dump());
    if (!name.empty() && is_forbidden_variable(name))
      throw ConfigError(reader.file(), where,
                        json(names[i]).dump() + " can inject code into the loader or an interpreter and is never passed to a task (fix: remove it)");
  }
}

}  // namespace

void apply_environment(JsonObjectReader reader, EnvironmentSpec& environment) {
  if (auto set = reader.string_map("set")) {
    std::vector<std::string> names;
    for (const auto& [name, value] : *set) names.push_back(name);
    for (const auto& name : names) {
      if (!is_valid_variable_name(name)) reader.fail("set", "expected variable names, got " + json(name).dump());
      if (is_forbidden_variable(name))
        throw ConfigError(reader.file(), json_pointer_append(reader.pointer_of("set"), name),
                          "can inject code into the loader or an interpreter and is never passed to a task (fix: remove it)");
    }
    // `set` merges key by key over the base, so a tier can add one variable.
    for (auto& [name, value] : *set) environment.set[name] = value;
  }
  if (auto pass = reader.string_array("pass")) {
    check_variable_names(reader, "pass", *pass, false);
    environment.pass = *pass;
  }
  if (auto allow = reader.string_array("allow")) {
    check_variable_names(reader, "allow", *allow, true);
    environment.allow = *allow;
  }
  reader.finish();
}


namespace {

void apply_environment_layer(ProfileLayer& layer, Profile& profile) {
  if (auto environment = layer.reader.object("environment")) apply_environment(std::move(*environment), profile.environment);
}

}  // namespace

const ProfileSection& environment_section() {
  static const ProfileSection kSection{
      "environment",
      "process",
      {
          {"environment", nullptr, nullptr, "which variables the task gets", "Environment", true},
          {"environment.set", R"({"type": "object", "additionalProperties": {"type": "string"}})", "{}",
           "variables the task gets, merged key by key over the base's", "Environment", true},
          {"environment.pass", R"({"$ref": "#/$defs/names"})", "[]", "variables copied from the caller when set",
           "Environment", true},
          {"environment.allow", R"({"$ref": "#/$defs/names"})", "[]", "names (or PREFIX*) `run --env NAME=VALUE` may set",
           "Environment", true},
      },
      apply_environment_layer,
      nullptr,
  };
  return kSection;
}

}  // namespace tierbox::policy
