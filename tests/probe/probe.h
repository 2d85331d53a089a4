// tierbox-probe's shared helpers, and the commands each probe_*.cpp file provides.
#pragma once

#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

namespace probe {

using nlohmann::json;

// "ok" for 0, else the errno's name ("EPERM"), or its number if it has none.
inline std::string errno_name(int err) {
  if (err == 0) return "ok";
  const char* name = strerrorname_np(err);
  return name ? name : std::to_string(err);
}

// A syscall's return value as the probe reports it: "ok" or errno's name.
inline std::string result(int rc) { return rc >= 0 ? "ok" : errno_name(errno); }

// The whole file, or "" if it cannot be read.
inline std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// probe_view.cpp: what the sandbox looks like from inside.
json status_fields();
json info();
json tiocsti();
json escape();
json keyring(long serial, const std::string& description);
json clocks();

// probe_files.cpp: file system attempts.
json try_write(const std::vector<std::string>& paths);
json try_read(const std::vector<std::string>& paths);
json try_mkdir(const std::vector<std::string>& paths);
json try_remove(const std::vector<std::string>& paths);
json try_rename(const std::vector<std::string>& args);
json read_through_symlink(const std::vector<std::string>& args);
json fill(const std::string& path, long long bytes);

// probe_network.cpp: sockets, name resolution and the task's own firewall.
json loopback();
json connect_tcp(const std::string& host, int port);
json resolve(const std::vector<std::string>& names);
json exchange(const std::string& protocol, const std::string& host, int port);
json connect_many(const std::vector<std::string>& targets);
json resolve_after(const std::string& trigger, const std::vector<std::string>& names);
json hold(const std::string& host, int port, const std::string& trigger);
json exchange_after(const std::string& trigger, const std::string& protocol, const std::string& host, int port,
                    const std::string& old);
json dns_flood(int count, const std::string& suffix);
json resolve6(const std::vector<std::string>& names);
json net_admin(const std::vector<std::string>& then_connect);
json connect_abstract(const std::string& name);
json connect_unix(const std::string& path);
json stream(const std::string& host, int port);

// probe_processes.cpp: processes, resource limits and their accounting.
json orphans(int count);
json limits();
json forkbomb(double seconds);
json hog(long long bytes);
json spin(double seconds, int threads);
json stubborn();

// probe_syscalls.cpp: the always-blocked syscalls (docs/seccomp.md).
json blocked(const std::vector<std::string>& names);
json raw_syscall(const std::vector<std::string>& args);
json watch_directory(const std::string& directory, int seconds);

}  // namespace probe
