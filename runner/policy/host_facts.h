// Gathers the host facts the planner needs (the workspace's canonical path and
// owner, the addresses of network.allow's names), so make_plan itself stays
// free of syscalls.
#pragma once

#include "policy/planner.h"
#include "policy/request.h"

namespace tierbox::policy {

HostFacts gather_host_facts(const TaskRequest& request, const Profile& profile);

// The IPv4 addresses the host's resolver gives for name (getaddrinfo:
// /etc/hosts, then DNS, as nsswitch.conf says). Throws Error when it gives none.
std::vector<net::Ipv4Address> resolve_ipv4(const std::string& name);

}  // namespace tierbox::policy
