// The `environment` section of a tier: which variables a task gets.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace tierbox::policy {

class JsonObjectReader;

struct EnvironmentSpec {
  std::map<std::string, std::string> set;  // fixed values
  std::vector<std::string> pass;           // copied from the caller when present
  std::vector<std::string> allow;          // names `run --env` may set ("CI_*" prefixes)
};

// Applies one file's `environment` object over spec: `set` merges key by key,
// `pass` and `allow` replace. Loader and interpreter variables are errors.
void apply_environment(JsonObjectReader reader, EnvironmentSpec& spec);

}  // namespace tierbox::policy
