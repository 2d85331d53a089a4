// Review entries of `network`.
#include <set>

#include "policy/review/review.h"

namespace tierbox::policy {
namespace {

std::set<std::string> destinations(const Profile& profile) {
  std::set<std::string> texts;
  if (profile.network.mode != NetworkMode::allowlist) return texts;
  for (const auto& destination : profile.network.allow) texts.insert(destination.text);
  return texts;
}

}  // namespace

void compare_network(const Profile& before, const Profile& after, Changes& out) {
  // Modes are ordered from the narrowest (none) up: none, allowlist, host.
  compare_ordered(out, "network.mode", static_cast<int>(before.network.mode), static_cast<int>(after.network.mode), true,
                  to_string(before.network.mode), to_string(after.network.mode));
  // Within allowlist: a destination added widens, one removed narrows. (A
  // change of mode already says the rest.)
  if (before.network.mode != NetworkMode::allowlist || after.network.mode != NetworkMode::allowlist) return;
  // Pinned names open the addresses of launch time only; the resolver opens
  // whatever DNS answers during the run.
  if (before.network.names != after.network.names)
    add_change(out, "network.names",
               after.network.names == NameResolution::resolver ? Effect::widens : Effect::narrows,
               std::string(to_string(before.network.names)) + " -> " + to_string(after.network.names));
  const auto old_destinations = destinations(before);
  const auto new_destinations = destinations(after);
  for (const auto& destination : new_destinations)
    if (!old_destinations.count(destination))
      add_change(out, "network.allow", Effect::widens, "egress to " + destination + " allowed");
  for (const auto& destination : old_destinations)
    if (!new_destinations.count(destination))
      add_change(out, "network.allow", Effect::narrows, "egress to " + destination + " no longer allowed");
}

void explain_network(const Profile& profile, const ExplainContext&, Explanation& out) {
  ExplainSection section{"Network", {}};
  switch (profile.network.mode) {
    case NetworkMode::none:
      section.lines.push_back("none: a network namespace with only loopback; no destination outside the sandbox is reachable.");
      break;
    case NetworkMode::allowlist:
      section.lines.push_back(
          "allowlist: a network namespace joined to the host by a veth pair; egress only to the destinations below, "
          "everything else refused and counted (the host, cloud metadata, link-local, multicast and private ranges "
          "unless listed by address). " +
          std::string(profile.network.names == NameResolution::resolver
                          ? "Names (and wildcards) are answered by the run's own resolver, which opens each answered address "
                            "for its TTL and refuses every other name. "
                          : "Names are resolved at launch and pinned in /etc/hosts; nothing else resolves. ") +
          "No IPv6.");
      for (const auto& destination : profile.network.allow) section.lines.push_back("  " + destination.text);
      break;
    case NetworkMode::host:
      section.lines.push_back(
          "host: the host's own network namespace; the task reaches everything the host reaches, loopback services "
          "and abstract unix sockets included. For trusted tiers only.");
      break;
  }
  out.push_back(std::move(section));
}

}  // namespace tierbox::policy
