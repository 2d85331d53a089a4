#include <boost/test/unit_test.hpp>

#include "policy/environment.h"

using namespace tierbox::policy;

BOOST_AUTO_TEST_SUITE(environment)

BOOST_AUTO_TEST_CASE(loader_and_interpreter_variables_are_forbidden) {
  for (const char* name : {"LD_PRELOAD", "LD_LIBRARY_PATH", "LD_AUDIT", "LD_ANYTHING_NEW", "GCONV_PATH",
                           "PYTHONPATH", "NODE_OPTIONS", "PERL5OPT", "RUBYOPT", "BASH_ENV", "ENV",
                           "BASH_FUNC_x%%", "GLIBC_TUNABLES", "JAVA_TOOL_OPTIONS", "PYTHONWARNINGS",
                           "PYTHONBREAKPOINT", "NODE_REPL_EXTERNAL_MODULE", "GIT_SSH_COMMAND", "GIT_CONFIG_COUNT",
                           "GIT_CONFIG_KEY_0", "GIT_CONFIG_PARAMETERS", "LESSOPEN", "OPENSSL_CONF", "LUA_INIT",
                           "npm_config_script_shell", "CLASSPATH", "GCC_EXEC_PREFIX", "DYLD_INSERT_LIBRARIES",
                           "PERL5SHELL", "ZDOTDIR"})
    BOOST_TEST(is_forbidden_variable(name), name);
  for (const char* name : {"PATH", "HOME", "LANG", "TERM", "LDFLAGS", "CI", "GIT_AUTHOR_NAME", "EDITOR", "PAGER", "LUA"})
    BOOST_TEST(!is_forbidden_variable(name), name);
}

BOOST_AUTO_TEST_CASE(patterns_match_exact_names_and_prefixes) {
  BOOST_TEST(matches_pattern("CI", "CI"));
  BOOST_TEST(!matches_pattern("CI", "CIX"));
  BOOST_TEST(matches_pattern("TIERBOX_*", "TIERBOX_DEBUG"));
  BOOST_TEST(!matches_pattern("TIERBOX_*", "TIERBOX"));
}

BOOST_AUTO_TEST_CASE(environment_is_built_only_from_the_tier_and_allowed_overrides) {
  EnvironmentSpec spec;
  spec.set = {{"PATH", "/usr/bin"}, {"HOME", "/tmp"}};
  spec.pass = {"TERM", "MISSING"};
  std::map<std::string, std::string> caller = {
      {"TERM", "xterm"}, {"SECRET_TOKEN", "s3cr3t"}, {"LD_PRELOAD", "/evil.so"}, {"HOME", "/root"}};
  auto env = build_environment(spec, caller, {{"CI", "1"}});
  std::vector<std::string> expected = {"CI=1", "HOME=/tmp", "PATH=/usr/bin", "TERM=xterm"};
  BOOST_TEST(env == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(forbidden_names_are_dropped_even_when_a_profile_lists_them) {
  EnvironmentSpec spec;
  spec.set = {{"LD_PRELOAD", "/evil.so"}};
  spec.pass = {"PYTHONPATH"};
  auto env = build_environment(spec, {{"PYTHONPATH", "/x"}}, {{"NODE_OPTIONS", "--require=/x"}});
  BOOST_TEST(env.empty());
}

BOOST_AUTO_TEST_SUITE_END()
