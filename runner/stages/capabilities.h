// Child side: capabilities, with libcap. The task ends with all five sets
// empty: bounding and ambient are dropped while the child is still inside root
// (dropping the bounding set needs CAP_SETPCAP), permitted and effective go
// when it becomes the task user, and inheritable is cleared explicitly (a uid
// change leaves it alone). verify_no_capabilities() then checks all five with
// capget/prctl, so a mistake here fails the launch instead of passing silently.
#pragma once

#include <sys/capability.h>

#include "stages/child_failure.h"

namespace tierbox::stages {

// Parent, before clone: what the child needs (libcap allocates).
struct CapabilityInput {
  int last_capability = CAP_LAST_CAP;  // cap_max_bits() - 1 on this kernel
  cap_t empty_set = nullptr;           // cap_init(): all clear
};
CapabilityInput prepare_capability_input();

bool drop_bounding_and_ambient(const CapabilityInput& input, ChildFailure& failure) noexcept;
bool clear_capability_sets(const CapabilityInput& input, ChildFailure& failure) noexcept;
bool verify_no_capabilities(const CapabilityInput& input, ChildFailure& failure) noexcept;

}  // namespace tierbox::stages
