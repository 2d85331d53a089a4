// The task's environment: built only from the tier's `environment` section and
// the caller's allowed `--env` settings. Variables that let a caller inject
// code into the loader or an interpreter are never passed, whatever a profile
// says (profile_loader rejects them in a profile; build_environment drops them
// as a second line of defence).
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "policy/profile.h"

namespace tierbox::policy {

// Whether name may never reach a task (LD_*, GCONV_PATH, PYTHONPATH, ...).
bool is_forbidden_variable(std::string_view name);
// A valid variable name: [A-Za-z_][A-Za-z0-9_]*.
bool is_valid_variable_name(std::string_view name);
// Whether name matches an `allow` pattern: exact, or a prefix ending in '*'.
bool matches_pattern(std::string_view pattern, std::string_view name);

// "NAME=VALUE" entries, sorted by name: the tier's `set`, then `pass` values
// copied from caller_env, then overrides (already checked against `allow`).
std::vector<std::string> build_environment(const EnvironmentSpec& spec,
                                           const std::map<std::string, std::string>& caller_env,
                                           const std::vector<std::pair<std::string, std::string>>& overrides);

}  // namespace tierbox::policy
