// The child's setup steps, in the order run_child() performs them. A failure
// is reported to the parent as {step, errno, detail}; the names below are
// what the user reads ("sandbox setup failed at step 'pivot root': ...").
#pragma once

#include <cstdint>

namespace tierbox::launch {

enum class ChildStep : std::uint32_t {
  own_fds_only,
  parent_death_signal,
  wait_ids_mapped,       // sync #1
  become_setup_root,
  forbid_nested_user_namespaces,
  private_mounts,
  build_root,
  hostname,
  time_namespace,
  loopback,
  wait_run_inputs,       // sync #1b
  build_run_root,
  pivot_root,
  root_read_only,
  write_secrets,
  rlimits,
  wait_network_ready,    // sync #2
  join_cgroups,          // cgroup v1 (on v2 clone3 placed the child)
  cgroup_namespace,
  new_session,
  close_fds,
  landlock,
  drop_capabilities,
  no_new_privs,
  become_task_user,
  session_keyring,
  verify_capabilities,
  working_directory,
  report_set_up,         // sync #2a
  wait_start_allowed,    // sync #2b
  seccomp,
  fork_task,
  report_ready,          // sync #3
  exec,
  count,
};

inline constexpr std::uint32_t kChildStepCount = static_cast<std::uint32_t>(ChildStep::count);

const char* child_step_name(ChildStep step);

}  // namespace tierbox::launch
