#include "policy/environment.h"

#include <algorithm>

namespace tierbox::policy {
namespace {

// Exact names: glibc's list of variables it drops for setuid programs
// (UNSECURE_ENVVARS) that matter to any program, plus every variable that
// makes an interpreter, a tool the task may run, or a library it loads run
// code or load modules from a path the variable names.
constexpr std::string_view kForbiddenNames[] = {
    // glibc
    "GCONV_PATH", "GETCONF_DIR", "HOSTALIASES", "LOCALDOMAIN", "LOCPATH", "MALLOC_TRACE", "NIS_PATH", "NLSPATH",
    "RESOLV_HOST_CONF", "RES_OPTIONS", "GLIBC_TUNABLES",
    // Python: search paths, startup code, modules imported by name
    "PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONINSPECT", "PYTHONUSERBASE", "PYTHONPLATLIBDIR",
    "PYTHONPYCACHEPREFIX", "PYTHONWARNINGS", "PYTHONBREAKPOINT", "PYTHONEXECUTABLE",
    // Node.js, Perl, Ruby, Java, Tcl, PHP, R
    "NODE_OPTIONS", "NODE_PATH", "NODE_REPL_EXTERNAL_MODULE", "PERL5OPT", "PERL5LIB", "PERLLIB", "PERL5DB",
    "PERL5SHELL", "RUBYOPT", "RUBYLIB", "RUBYSHELL", "RUBYGEMS_GEMDEPS", "GEM_HOME", "GEM_PATH", "BUNDLE_GEMFILE",
    "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS", "CLASSPATH", "TCLLIBPATH", "PHPRC", "PHP_INI_SCAN_DIR",
    "R_PROFILE", "R_PROFILE_USER",
    // shells and editors: files sourced, commands run at startup or at every prompt
    "BASH_ENV", "ENV", "SHELLOPTS", "BASHOPTS", "PS4", "IFS", "PROMPT_COMMAND", "ZDOTDIR", "EXINIT", "VIMINIT",
    // tools that run a command or load a plugin named in the environment
    "GIT_EXEC_PATH", "GIT_SSH", "GIT_SSH_COMMAND", "GIT_PROXY_COMMAND", "GIT_ASKPASS", "SSH_ASKPASS",
    "GIT_EXTERNAL_DIFF", "GIT_TEMPLATE_DIR", "HGRCPATH", "LESSOPEN", "LESSCLOSE", "GCC_EXEC_PREFIX", "COMPILER_PATH",
    "OPENSSL_CONF", "OPENSSL_ENGINES", "OPENSSL_MODULES", "GIO_EXTRA_MODULES", "GTK_MODULES", "GTK_PATH",
    "GST_PLUGIN_PATH", "QT_PLUGIN_PATH"};

// Prefixes: the dynamic loader's whole namespace (LD_PRELOAD, LD_LIBRARY_PATH,
// LD_AUDIT, ...) and macOS's, bash's exported functions (Shellshock-style
// injection), git's configuration from the environment (GIT_CONFIG_COUNT,
// GIT_CONFIG_KEY_0=core.fsmonitor runs a command), npm's configuration
// (script-shell, node-options) and Lua's init code and search paths.
constexpr std::string_view kForbiddenPrefixes[] = {"LD_",          "DYLD_",        "BASH_FUNC_", "GIT_CONFIG",
                                                   "npm_config_", "NPM_CONFIG_", "LUA_"};

}  // namespace

bool is_forbidden_variable(std::string_view name) {
  for (auto prefix : kForbiddenPrefixes)
    if (name.substr(0, prefix.size()) == prefix) return true;
  return std::find(std::begin(kForbiddenNames), std::end(kForbiddenNames), name) != std::end(kForbiddenNames);
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
