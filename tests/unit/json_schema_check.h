// A small JSON Schema checker for the keywords docs/result.schema.json uses
// (type, const, enum, minimum, maximum, pattern, required, properties,
// additionalProperties, propertyNames, items, anyOf), so the unit tests
// check results against the documented schema without a new dependency.
// An unknown keyword fails the check, so the schema cannot outgrow it unseen.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace tierbox::testing {

// Every violation as "pointer: what", empty when value conforms.
std::vector<std::string> check_against_schema(const nlohmann::json& value, const nlohmann::json& schema,
                                              const std::string& pointer = "");

}  // namespace tierbox::testing
