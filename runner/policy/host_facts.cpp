#include "policy/host_facts.h"

#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <memory>

#include "common/errors.h"

namespace tierbox::policy {

std::vector<net::Ipv4Address> resolve_ipv4(const std::string& name) {
  struct addrinfo hints {};
  hints.ai_family = AF_INET;  // sandboxes have no IPv6
  hints.ai_socktype = SOCK_STREAM;
  struct addrinfo* results = nullptr;
  const int rc = ::getaddrinfo(name.c_str(), nullptr, &hints, &results);
  if (rc != 0)
    throw Error("network.allow: cannot resolve " + name + ": " + ::gai_strerror(rc) +
                    " (fix: check the name and the host's resolver, or allow its address instead)",
                exit_code::runner_failed);
  std::vector<net::Ipv4Address> addresses;
  for (auto* result = results; result; result = result->ai_next) {
    const auto* address = reinterpret_cast<const sockaddr_in*>(result->ai_addr);
    const net::Ipv4Address found{ntohl(address->sin_addr.s_addr)};
    if (std::find(addresses.begin(), addresses.end(), found) == addresses.end()) addresses.push_back(found);
  }
  ::freeaddrinfo(results);
  return addresses;
}

HostFacts gather_host_facts(const TaskRequest& request, const Profile& profile) {
  HostFacts facts;
  if (request.workspace) {
    const auto& given = *request.workspace;
    std::unique_ptr<char, decltype(&std::free)> resolved(::realpath(given.c_str(), nullptr), &std::free);
    if (!resolved)
      throw Error("--workspace " + quote(given.string()) + ": " + errno_text(errno) +
                      " (fix: pass an existing directory)", exit_code::runner_failed);
    struct stat st {};
    if (::stat(resolved.get(), &st) != 0) throw_sys_error("stat(" + quote(resolved.get()) + ")");
    facts.workspace = WorkspaceFacts{resolved.get(), S_ISDIR(st.st_mode), st.st_uid, st.st_gid};
  }
  if (profile.network.mode == NetworkMode::allowlist) {
    for (const auto& destination : profile.network.allow)
      if (!destination.host_name.empty() && !facts.resolved_names.count(destination.host_name))
        facts.resolved_names[destination.host_name] = resolve_ipv4(destination.host_name);
  }
  return facts;
}

}  // namespace tierbox::policy
