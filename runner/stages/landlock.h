// The Landlock concern (the kernel's ABI is a host fact, see
// policy/host_facts.h). Child side, after pivot_root (the rules name paths of the
// new root) and before the capability drop (restricting oneself needs
// no_new_privs or CAP_SYS_ADMIN in the user namespace, which the child still
// has): build the ruleset of the plan and restrict the child; init and the
// task inherit the domain.
#pragma once

#include "policy/landlock_rules.h"
#include "stages/child_failure.h"

namespace tierbox::stages {

// Does nothing when plan.abi is 0 (off, or not available with best_effort).
bool apply_landlock(const policy::LandlockPlan& plan, ChildFailure& failure) noexcept;

}  // namespace tierbox::stages
