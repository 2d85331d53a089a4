#include "launch/child_step.h"

namespace tierbox::launch {

const char* child_step_name(ChildStep step) {
  switch (step) {
    case ChildStep::own_fds_only: return "keep only its own fds";
    case ChildStep::parent_death_signal: return "parent death signal";
    case ChildStep::wait_ids_mapped: return "wait for id maps (sync #1)";
    case ChildStep::become_setup_root: return "become root of the user namespace";
    case ChildStep::forbid_nested_user_namespaces: return "forbid nested user namespaces";
    case ChildStep::cgroup_namespace: return "cgroup namespace";
    case ChildStep::private_mounts: return "make mounts private";
    case ChildStep::build_root: return "build the new root";
    case ChildStep::wait_run_inputs: return "wait for the run's inputs (sync #1b)";
    case ChildStep::build_run_root: return "mount the run's trees";
    case ChildStep::pivot_root: return "pivot root";
    case ChildStep::root_read_only: return "make the root read-only";
    case ChildStep::write_secrets: return "write the secrets";
    case ChildStep::hostname: return "hostname";
    case ChildStep::time_namespace: return "time namespace";
    case ChildStep::loopback: return "bring up lo";
    case ChildStep::rlimits: return "rlimits";
    case ChildStep::wait_network_ready: return "wait for the network (sync #2)";
    case ChildStep::join_cgroups: return "join the run's cgroups";
    case ChildStep::new_session: return "new session";
    case ChildStep::close_fds: return "close inherited fds";
    case ChildStep::landlock: return "Landlock";
    case ChildStep::drop_capabilities: return "drop capabilities";
    case ChildStep::no_new_privs: return "no_new_privs";
    case ChildStep::become_task_user: return "become the task user";
    case ChildStep::session_keyring: return "new session keyring";
    case ChildStep::verify_capabilities: return "verify capabilities are empty";
    case ChildStep::working_directory: return "working directory";
    case ChildStep::report_set_up: return "report set up (sync #2a)";
    case ChildStep::wait_start_allowed: return "wait for the start record (sync #2b)";
    case ChildStep::seccomp: return "install the seccomp filters";
    case ChildStep::fork_task: return "fork the task";
    case ChildStep::report_ready: return "report ready (sync #3)";
    case ChildStep::exec: return "exec";
    case ChildStep::count: break;
  }
  return "unknown step";
}

}  // namespace tierbox::launch
