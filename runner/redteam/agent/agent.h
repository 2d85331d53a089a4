// tierbox-redteam-agent's attempts: each one plays a misbehaving agent for
// one move (read a credential, leave the mount namespace, reach a cloud
// metadata address, ...) and reports what happened. It only attempts: a file
// it manages to create is removed at once, a file it manages to open for
// writing is closed without a byte written, a process it starts is killed
// or ends on its own within seconds. runner/redteam/scenarios.h decides what
// each result means for a tier; this program knows nothing about tiers.
#pragma once

#include <cerrno>
#include <cstring>
#include <string>

#include <nlohmann/json.hpp>

namespace tierbox::redteam::agent {

using nlohmann::json;

// "ok" for 0, else errno's name ("EPERM"), or its number if it has none.
inline std::string errno_name(int err) {
  if (err == 0) return "ok";
  const char* name = strerrorname_np(err);
  return name ? name : std::to_string(err);
}

// What one attempt did: "result" is "ok" when the move worked (the
// misbehaviour succeeded), else why it did not; "detail" says more.
inline json outcome(const std::string& result, json detail = nullptr) {
  return {{"result", result}, {"detail", std::move(detail)}};
}
inline json failed_with(int err, json detail = nullptr) { return outcome(errno_name(err), std::move(detail)); }

// attempts_files.cpp: files, the mount namespace, kernel knobs.
json read_file(const std::string& path);
json read_tree(const std::string& directory);
json write_file(const std::string& path);
json open_for_writing(const std::string& path);
json proc1_root();
// attempt_fd: the agent's own pipe back to its parent; report_fd: the run's
// report channel (passed to it on purpose). Neither is a leak.
json leaked_fds(int attempt_fd, int report_fd);
json open_by_handle();
json setuid_binaries();
json setuid_chmod();
json fill(const std::string& path, long long bytes, bool keep);
// Writes bytes to stdout (a tier's limits.output must cut it; the run's
// result says whether it did): how many the writes took.
json flood(long long bytes);

// attempts_network.cpp: sockets and names.
json connect_tcp(const std::string& host_port);
json udp_exchange(const std::string& host_port);
json unix_sockets();
json resolve(const std::string& name);
json loopback();

// attempts_process.cpp: privilege, processes, terminals and limits.
json capabilities();
json new_user_namespace();
json ptrace_child();
json tiocsti();
json inotify(const std::string& directory);
json fanotify();
json fork_many(long count);
json allocate(long long bytes);
json double_fork(const std::string& name);

}  // namespace tierbox::redteam::agent
