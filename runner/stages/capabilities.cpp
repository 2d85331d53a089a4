#include "stages/capabilities.h"

// cap_to_name() allocates, so child-side messages give capability numbers.

#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/errors.h"

namespace tierbox::stages {

CapabilityInput prepare_capability_input() {
  CapabilityInput input;
  input.last_capability = static_cast<int>(cap_max_bits()) - 1;
  input.empty_set = cap_init();
  if (!input.empty_set) throw_sys_error("cap_init()");
  return input;
}

bool drop_bounding_and_ambient(const CapabilityInput& input, ChildFailure& failure) noexcept {
  for (int cap = 0; cap <= input.last_capability; ++cap) {
    if (cap_drop_bound(static_cast<cap_value_t>(cap)) != 0) {
      failure.record(errno).add("cap_drop_bound(capability ").add_number(cap).add(")");
      return false;
    }
  }
  if (cap_reset_ambient() != 0) return failure.fail_errno("cap_reset_ambient");
  return true;
}

bool clear_capability_sets(const CapabilityInput& input, ChildFailure& failure) noexcept {
  if (cap_set_proc(input.empty_set) != 0) return failure.fail_errno("cap_set_proc(empty set)");
  return true;
}

bool verify_no_capabilities(const CapabilityInput& input, ChildFailure& failure) noexcept {
  // capget directly: cap_get_proc() would allocate.
  struct __user_cap_header_struct header {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (::syscall(SYS_capget, &header, data) != 0) return failure.fail_errno("capget");
  for (const auto& word : data) {
    if (word.effective || word.permitted || word.inheritable) {
      failure.record(EPERM).add("capget: a capability set is not empty after the drop");
      return false;
    }
  }
  // The ambient set needs no check of its own: the kernel keeps it a subset
  // of permitted and inheritable, both just seen empty.
  for (int cap = 0; cap <= input.last_capability; ++cap) {
    if (::prctl(PR_CAPBSET_READ, cap, 0, 0, 0) != 0) {
      failure.record(EPERM).add("capability ").add_number(cap).add(" is still in the bounding set");
      return false;
    }
  }
  return true;
}

}  // namespace tierbox::stages
