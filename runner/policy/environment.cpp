#include "policy/environment.h"

#include <algorithm>
#include <array>

namespace tierbox::policy {
namespace {

// Exact names: glibc's list of variables it drops for setuid programs
// (UNSECURE_ENVVARS) that matter to any program, plus the interpreters' own
// "run this code first" and "load modules from here" variables.
constexpr std::array<std::string_view, 34> kForbiddenNames = {
    "GCONV_PATH", "GETCONF_DIR", "HOSTALIASES", "LOCALDOMAIN", "LOCPATH", "MALLOC_TRACE",
    "NIS_PATH", "NLSPATH", "RESOLV_HOST_CONF", "RES_OPTIONS", "GLIBC_TUNABLES",
    "PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONINSPECT", "PYTHONUSERBASE",
    "NODE_OPTIONS", "NODE_PATH", "PERL5OPT", "PERL5LIB", "PERLLIB", "PERL5DB",
    "RUBYOPT", "RUBYLIB", "BASH_ENV", "ENV", "SHELLOPTS", "BASHOPTS", "PS4", "IFS",
    "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS", "PROMPT_COMMAND"};

// Prefixes: the dynamic loader's whole namespace (LD_PRELOAD, LD_LIBRARY_PATH,
// LD_AUDIT, ...) and bash's exported functions (Shellshock-style injection).
constexpr std::array<std::string_view, 2> kForbiddenPrefixes = {"LD_", "BASH_FUNC_"};

}  // namespace

bool is_forbidden_variable(std::string_view name) {
  for (auto prefix : kForbiddenPrefixes)
    if (name.substr(0, prefix.size()) == prefix) return true;
  return std::find(kForbiddenNames.begin(), kForbiddenNames.end(), name) != kForbiddenNames.end();
}

bool is_valid_variable_name(std::string_view name) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool letter = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
    const bool digit = c >= '0' && c <= '9';
    if (!(letter || (digit && i > 0))) return false;
  }
  return true;
}

bool matches_pattern(std::string_view pattern, std::string_view name) {
  if (!pattern.empty() && pattern.back() == '*') {
    pattern.remove_suffix(1);
    return name.substr(0, pattern.size()) == pattern;
  }
  return pattern == name;
}

std::vector<std::string> build_environment(const EnvironmentSpec& spec,
                                           const std::map<std::string, std::string>& caller_env,
                                           const std::vector<std::pair<std::string, std::string>>& overrides) {
  std::map<std::string, std::string> env = spec.set;
  for (const auto& name : spec.pass) {
    if (auto it = caller_env.find(name); it != caller_env.end()) env[name] = it->second;
  }
  for (const auto& [name, value] : overrides) env[name] = value;
  std::vector<std::string> entries;
  for (const auto& [name, value] : env) {
    if (is_forbidden_variable(name) || !is_valid_variable_name(name)) continue;
    entries.push_back(name + "=" + value);
  }
  return entries;
}

}  // namespace tierbox::policy
