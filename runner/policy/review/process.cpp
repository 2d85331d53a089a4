// Review entries of the task's process: commands, environment, identity,
// pass_fds and who may use the tier.
#include <algorithm>
#include <map>
#include <set>

#include "policy/review/review.h"

namespace tierbox::policy {
namespace {

void compare_names(Changes& out, const std::string& field, const std::vector<std::string>& before,
                   const std::vector<std::string>& after, const std::string& what) {
  std::set<std::string> old_set(before.begin(), before.end()), new_set(after.begin(), after.end());
  for (const auto& name : new_set)
    if (!old_set.count(name)) add_change(out, field, Effect::widens, what + " added: " + name);
  for (const auto& name : old_set)
    if (!new_set.count(name)) add_change(out, field, Effect::narrows, what + " removed: " + name);
}

void compare_commands(const CommandsSpec& before, const CommandsSpec& after, Changes& out) {
  const std::string field = "allowed_commands";
  if (!before.allowed && !after.allowed) return;
  if (!after.allowed) return add_change(out, field, Effect::widens, "any command may now be launched (the list was removed)");
  if (!before.allowed) return add_change(out, field, Effect::narrows, "only the listed commands may now be launched");
  std::map<std::string, std::string> old_pins, new_pins;
  for (const auto& entry : *before.allowed) old_pins[entry.command] = entry.sha256;
  for (const auto& entry : *after.allowed) new_pins[entry.command] = entry.sha256;
  for (const auto& [command, pin] : new_pins) {
    auto old = old_pins.find(command);
    if (old == old_pins.end()) {
      add_change(out, field, Effect::widens, "new command allowed: " + command + (pin.empty() ? "" : " (pinned)"));
    } else if (old->second != pin) {
      if (pin.empty()) add_change(out, field, Effect::widens, command + ": sha256 pin removed (any content now runs)");
      else if (old->second.empty()) add_change(out, field, Effect::narrows, command + ": now pinned to sha256 " + pin);
      else add_change(out, field, Effect::widens, command + ": pinned content changed " + old->second.substr(0, 12) + " -> " + pin.substr(0, 12));
    }
  }
  for (const auto& [command, pin] : old_pins)
    if (!new_pins.count(command)) add_change(out, field, Effect::narrows, "command no longer allowed: " + command);
}

// allowed_users and allowed_groups together: both empty means everyone
// who can reach the runner; a list means only those named.
void compare_who_may_use(const Profile& before, const Profile& after, Changes& out) {
  const bool old_everyone = before.allowed_users.empty() && before.allowed_groups.empty();
  const bool new_everyone = after.allowed_users.empty() && after.allowed_groups.empty();
  if (old_everyone && new_everyone) return;
  if (new_everyone) return add_change(out, "allowed_users", Effect::widens, "everyone may now use the tier (the lists were emptied)");
  if (old_everyone) return add_change(out, "allowed_users", Effect::narrows, "only the listed users and groups may now use the tier");
  compare_names(out, "allowed_users", before.allowed_users, after.allowed_users, "user");
  compare_names(out, "allowed_groups", before.allowed_groups, after.allowed_groups, "group");
}

}  // namespace

void compare_process(const Profile& before, const Profile& after, Changes& out) {
  compare_commands(before.commands, after.commands, out);
  const auto& old_set = before.environment.set;
  const auto& new_set = after.environment.set;
  for (const auto& [name, value] : new_set) {
    auto old = old_set.find(name);
    if (old == old_set.end()) add_change(out, "environment.set", Effect::changes, name + " set to " + value);
    else if (old->second != value) add_change(out, "environment.set", Effect::changes, name + ": " + old->second + " -> " + value);
  }
  for (const auto& [name, value] : old_set)
    if (!new_set.count(name)) add_change(out, "environment.set", Effect::changes, name + " no longer set");
  compare_names(out, "environment.pass", before.environment.pass, after.environment.pass, "variable passed from the caller");
  compare_names(out, "environment.allow", before.environment.allow, after.environment.allow, "--env name");
  compare_ordered(out, "pass_fds", before.pass_fds, after.pass_fds, true, std::to_string(before.pass_fds) + " fds",
                  std::to_string(after.pass_fds) + " fds");
  compare_who_may_use(before, after, out);
  if (before.hostname != after.hostname)
    add_change(out, "hostname", Effect::changes, before.hostname + " -> " + after.hostname);
  if (before.user.uid != after.user.uid || before.user.gid != after.user.gid || before.user.name != after.user.name ||
      before.user.home != after.user.home)
    add_change(out, "user", Effect::changes,
               before.user.name + " (" + std::to_string(before.user.uid) + ") -> " + after.user.name + " (" +
                   std::to_string(after.user.uid) + ")");
}

void explain_process(const Profile& profile, const ExplainContext&, Explanation& out) {
  ExplainSection commands{"Commands", {}};
  if (!profile.commands.allowed) {
    commands.lines.push_back("Any command found in the sandbox may be launched (no allowed_commands list).");
  } else {
    commands.lines.push_back("Only these commands may be launched (argv[0], resolved in the sandbox before launch):");
    for (const auto& entry : *profile.commands.allowed)
      commands.lines.push_back("  " + entry.command + (entry.sha256.empty() ? "" : " (content pinned: sha256 " + entry.sha256.substr(0, 16) + "...)"));
    commands.lines.push_back("What a launched command runs in turn (a shell's children, an interpreter's subprocesses) is not limited by this list.");
  }
  out.push_back(std::move(commands));
  ExplainSection identity{"Identity and environment", {}};
  identity.lines.push_back("Runs as " + profile.user.name + " (uid " + std::to_string(profile.user.uid) + " inside, an unprivileged host uid outside), no capabilities, host name \"" + profile.hostname + "\".");
  std::string set;
  for (const auto& [name, value] : profile.environment.set) set += (set.empty() ? "" : ", ") + name + "=" + value;
  identity.lines.push_back("Environment set by the tier: " + (set.empty() ? std::string("none") : set));
  std::string pass, allow;
  for (const auto& name : profile.environment.pass) pass += (pass.empty() ? "" : ", ") + name;
  for (const auto& name : profile.environment.allow) allow += (allow.empty() ? "" : ", ") + name;
  identity.lines.push_back("Copied from the caller when set: " + (pass.empty() ? std::string("nothing") : pass));
  identity.lines.push_back("The caller may set with --env: " + (allow.empty() ? std::string("nothing") : allow));
  const auto names = [](const std::vector<std::string>& list) {
    std::string text;
    for (const auto& name : list) text += (text.empty() ? "" : ", ") + name;
    return text;
  };
  if (profile.allowed_users.empty() && profile.allowed_groups.empty())
    identity.lines.push_back("Who may use it: everyone who can reach the runner (allowed_users, allowed_groups empty).");
  else
    identity.lines.push_back("Who may use it: root; users " +
                             (profile.allowed_users.empty() ? std::string("(none listed)") : names(profile.allowed_users)) +
                             "; members of groups " +
                             (profile.allowed_groups.empty() ? std::string("(none listed)") : names(profile.allowed_groups)) + ".");
  out.push_back(std::move(identity));
}

}  // namespace tierbox::policy
