// `tierbox oci exec`: a new process in a running container (kubectl exec,
// podman exec, ctr task exec), runc's command line: `exec [--process FILE |
// ID ARGS...] [--tty] [--console-socket S] [--pid-file F] [--detach] [--cwd
// DIR] [--env K=V] [--user UID[:GID]] [--cap CAP] ID`. The process is
// narrowed to the container's tier like the container's own (oci/spec.h
// narrow_exec) and started by the sandbox's init (launch/exec_server.h), so
// it has the task's namespaces, cgroups and restrictions by inheritance.
// Audited: an `exec` record when it starts or is refused, `exec_end` when it
// exits.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace tierbox::cli::oci_exec {

// The process's exit status (or 0 with --detach once it started); throws
// Error / Refusal with one line.
int exec_command(const std::filesystem::path& root, const std::vector<std::filesystem::path>& config_dirs,
                 const std::vector<std::string>& args);

// ROOT/ID/exec.sock: where the container's init serves exec.
std::filesystem::path exec_socket(const std::filesystem::path& root, const std::string& id);

}  // namespace tierbox::cli::oci_exec
