// Review entries of `network`.
#include "policy/review/review.h"

namespace tierbox::policy {

void compare_network(const Profile& before, const Profile& after, Changes& out) {
  // Modes are ordered from the narrowest (none) up.
  compare_ordered(out, "network.mode", static_cast<int>(before.network.mode), static_cast<int>(after.network.mode), true,
                  to_string(before.network.mode), to_string(after.network.mode));
}

void explain_network(const Profile& profile, const ExplainContext&, Explanation& out) {
  ExplainSection section{"Network", {}};
  switch (profile.network.mode) {
    case NetworkMode::none:
      section.lines.push_back("none: a network namespace with only loopback; no destination outside the sandbox is reachable.");
      break;
  }
  out.push_back(std::move(section));
}

}  // namespace tierbox::policy
