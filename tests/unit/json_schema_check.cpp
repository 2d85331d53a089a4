#include "unit/json_schema_check.h"

#include <regex>
#include <set>

namespace tierbox::testing {
namespace {

using json = nlohmann::json;

bool has_type(const json& value, const std::string& type) {
  if (type == "null") return value.is_null();
  if (type == "boolean") return value.is_boolean();
  if (type == "integer") return value.is_number_integer();
  if (type == "number") return value.is_number();
  if (type == "string") return value.is_string();
  if (type == "array") return value.is_array();
  if (type == "object") return value.is_object();
  return false;
}

const std::set<std::string> kKnown = {"$schema", "$id", "title", "description", "type", "const", "enum", "minimum",
                                      "maximum", "pattern", "format", "required", "properties",
                                      "additionalProperties", "propertyNames", "items", "anyOf"};

void check(const json& value, const json& schema, const std::string& at, std::vector<std::string>& errors);

void check_object(const json& value, const json& schema, const std::string& at, std::vector<std::string>& errors) {
  for (const auto& name : schema.value("required", json::array()))
    if (!value.contains(name.get<std::string>())) errors.push_back(at + ": missing " + name.get<std::string>());
  const auto properties = schema.value("properties", json::object());
  for (const auto& [key, item] : value.items()) {
    const auto here = at + "/" + key;
    if (schema.contains("propertyNames")) check(json(key), schema["propertyNames"], here + " (name)", errors);
    if (properties.contains(key)) {
      check(item, properties[key], here, errors);
    } else if (schema.contains("additionalProperties")) {
      const auto& additional = schema["additionalProperties"];
      if (additional.is_boolean() && !additional.get<bool>()) errors.push_back(here + ": not in the schema");
      else if (additional.is_object()) check(item, additional, here, errors);
    }
  }
}

void check(const json& value, const json& schema, const std::string& at, std::vector<std::string>& errors) {
  for (const auto& [keyword, unused] : schema.items())
    if (!kKnown.count(keyword)) errors.push_back(at + ": the checker does not know keyword " + keyword);
  if (schema.contains("type")) {
    const auto& type = schema["type"];
    bool ok = false;
    for (const auto& one : type.is_array() ? type : json::array({type})) ok = ok || has_type(value, one.get<std::string>());
    if (!ok) {
      errors.push_back(at + ": " + value.dump() + " is not of type " + type.dump());
      return;
    }
  }
  if (schema.contains("const") && value != schema["const"]) errors.push_back(at + ": expected " + schema["const"].dump());
  if (schema.contains("enum")) {
    bool found = false;
    for (const auto& option : schema["enum"]) found = found || option == value;
    if (!found) errors.push_back(at + ": " + value.dump() + " is not one of " + schema["enum"].dump());
  }
  if (value.is_number()) {
    if (schema.contains("minimum") && value.get<double>() < schema["minimum"].get<double>())
      errors.push_back(at + ": below the minimum");
    if (schema.contains("maximum") && value.get<double>() > schema["maximum"].get<double>())
      errors.push_back(at + ": above the maximum");
  }
  if (value.is_string() && schema.contains("pattern") &&
      !std::regex_search(value.get<std::string>(), std::regex(schema["pattern"].get<std::string>())))
    errors.push_back(at + ": " + value.dump() + " does not match " + schema["pattern"].get<std::string>());
  if (value.is_object()) check_object(value, schema, at, errors);
  if (value.is_array() && schema.contains("items"))
    for (std::size_t i = 0; i < value.size(); ++i) check(value[i], schema["items"], at + "/" + std::to_string(i), errors);
  if (schema.contains("anyOf")) {
    bool any = false;
    for (const auto& option : schema["anyOf"]) {
      std::vector<std::string> option_errors;
      check(value, option, at, option_errors);
      any = any || option_errors.empty();
    }
    if (!any) errors.push_back(at + ": " + value.dump() + " matches none of anyOf");
  }
}

}  // namespace

std::vector<std::string> check_against_schema(const json& value, const json& schema, const std::string& pointer) {
  std::vector<std::string> errors;
  check(value, schema, pointer, errors);
  return errors;
}

}  // namespace tierbox::testing
