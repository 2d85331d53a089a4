#define BOOST_TEST_MODULE tierbox integration tests
#include <boost/test/unit_test.hpp>

#include <stdlib.h>

#include "common/temp_dir.h"

namespace {

// Every tierbox this test process starts appends to an audit log of its own
// (never the host's /var/log/tierbox/audit.jsonl) and finds, behind its
// --config-dir, an approval matrix that covers the tests' own tiers and
// requires nothing. The governance tests give their runs a matrix and a log
// of their own with --config-dir / --audit-log.
struct GovernanceEnvironment {
  tierbox::testing::TempDir dir{"tierbox-test-governance"};
  GovernanceEnvironment() {
    dir.write("approvals.json", R"({"comment": "integration tests: every tier, no approval", "tiers": ["*"], "rules": []})");
    ::setenv("TIERBOX_CONFIG_DIR", dir.str().c_str(), 1);
    ::setenv("TIERBOX_AUDIT_LOG", (dir.path() / "audit.jsonl").c_str(), 1);
  }
};

}  // namespace

BOOST_TEST_GLOBAL_FIXTURE(GovernanceEnvironment);
