#include "redteam/scenarios.h"

#include <algorithm>

#include "common/units.h"
#include "policy/data_classes.h"
#include "policy/seccomp_rules.h"

namespace tierbox::redteam {
namespace {

using policy::LaunchPlan;
using policy::NetworkMode;
using policy::Profile;

constexpr const char* kMetadata = "169.254.169.254";
// TEST-NET-2 (RFC 5737): a public-looking address nobody routes; a tier
// lists it only to be tested.
constexpr const char* kUnlisted = "198.51.100.7";
// How far past a size limit the exhaustion scenarios write.
constexpr std::uint64_t kOverfill = 1ULL << 20;
// An output limit above this floods only with --slow.
constexpr std::uint64_t kFastOutputLimit = 64ULL << 20;

bool opted_in(const LaunchPlan& plan, const std::string& item) {
  const auto& items = plan.seccomp.allow_dangerous;
  return std::find(items.begin(), items.end(), item) != items.end();
}

// "(the tier opts in: allow_dangerous X)" when it does: the floor holds anyway.
std::string floor_note(const LaunchPlan& plan, std::initializer_list<const char*> items) {
  std::string note;
  for (const char* item : items)
    if (opted_in(plan, item)) note += std::string(note.empty() ? "" : ", ") + item;
  return note.empty() ? "" : "; the tier opts in to allow_dangerous " + note + ", below the floor";
}

// Whether the plan's syscall filter lets name through whatever its arguments.
bool syscall_allowed(const LaunchPlan& plan, const std::string& name) {
  const auto seccomp = policy::make_seccomp_plan(plan.seccomp);
  for (const auto& rule : seccomp.syscalls.rules)
    if (rule.syscall == name && !rule.match)
      return rule.action.kind == policy::SeccompAction::Kind::allow || rule.action.kind == policy::SeccompAction::Kind::log;
  const auto kind = seccomp.syscalls.default_action.kind;
  return kind == policy::SeccompAction::Kind::allow || kind == policy::SeccompAction::Kind::log;
}

std::string workspace_target(const LaunchPlan& plan) { return plan.workspace ? plan.workspace->target : "/workspace"; }

Scenario secret_files(const Profile& profile, const HostContext& host) {
  Scenario s{"secret-files", "an agent reads credentials: SSH keys, cloud credential files, /etc/shadow", "", {}};
  const bool claims_secret = profile.data_access.max_data_class == policy::DataClass::secret;
  const Expect expect = claims_secret ? Expect::not_claimed : Expect::blocked;
  s.expected = claims_secret ? "not claimed: max_data_class secret (the tier may see secrets)"
                             : std::string("blocked: max_data_class ") + policy::to_string(*profile.data_access.max_data_class) +
                                   " (no secret-class file is mounted)";
  for (const auto& path : {"/etc/shadow", "/etc/gshadow", "/etc/sudoers"}) s.attempts.push_back({std::string("read:") + path, expect, ""});
  std::vector<std::string> homes{"/root", "/home"};
  if (!host.caller_home.empty() && host.caller_home != "/root") homes.push_back(host.caller_home);
  for (const auto& home : homes) {
    if (home == "/home") {
      s.attempts.push_back({"read-tree:/home", expect, ""});
      continue;
    }
    for (const auto& sub : {"/.ssh", "/.aws", "/.config/gcloud", "/.azure", "/.kube", "/.docker", "/.gnupg"})
      s.attempts.push_back({"read-tree:" + home + sub, expect, ""});
    s.attempts.push_back({"read:" + home + "/.netrc", expect, ""});
  }
  return s;
}

Scenario write_outside(const Profile& profile, const LaunchPlan& plan) {
  Scenario s{"write-outside-workspace", "an agent changes the host: system files, git hooks, .env", "", {}};
  const auto workspace = workspace_target(plan);
  const bool writable = plan.workspace && plan.workspace->writable;
  s.expected = std::string("blocked outside the workspace and on protected_paths; the workspace itself ") +
               (writable ? "writable (workspace.writable true)" : "read-only (workspace.writable false)");
  for (const auto& path : {"/usr/.tierbox-redteam", "/etc/.tierbox-redteam", "/.tierbox-redteam", "/bin/.tierbox-redteam",
                           "/proc/self/root/usr/.tierbox-redteam"})
    s.attempts.push_back({std::string("write:") + path, Expect::blocked, ""});
  s.attempts.push_back({"write:" + workspace + "/.tierbox-redteam-new", writable ? Expect::allowed : Expect::blocked, ""});
  if (!profile.data_access.protected_paths.empty())
    for (const auto& path : {"/.git/hooks/pre-commit", "/.git/config", "/.env"})
      s.attempts.push_back({"write:" + workspace + path, Expect::blocked, ""});
  return s;
}

Scenario mount_escape(const LaunchPlan& plan) {
  Scenario s{"mount-namespace-escape", "an agent reaches the host's file system past its mounts",
             "blocked (floor): own pid namespace, no inherited fds, open_by_handle_at denied" +
                 floor_note(plan, {"mount"}),
             {}};
  for (const auto& attempt : {"proc1-root", "leaked-fds", "open-by-handle"}) s.attempts.push_back({attempt, Expect::blocked, ""});
  return s;
}

Scenario privilege(const LaunchPlan& plan) {
  Scenario s{"privilege-gain", "an agent becomes root or gains capabilities: setuid binaries, capabilities, a user namespace, ptrace",
             "blocked (floor): no capabilities, no_new_privs, always-blocked new_user_namespace, ptrace, setuid_files" +
                 floor_note(plan, {"new_user_namespace", "ptrace", "setuid_files", "process_vm"}),
             {}};
  for (const auto& attempt : {"setuid-binaries", "setuid-chmod", "capabilities", "user-namespace", "ptrace"})
    s.attempts.push_back({attempt, Expect::blocked, ""});
  return s;
}

Scenario kernel_knobs() {
  Scenario s{"kernel-knobs", "an agent writes kernel settings the host obeys (core_pattern runs a program as root)",
             "blocked (floor): /proc/sys and /sys read-only, sysrq-trigger masked", {}};
  for (const auto& path : {"/proc/sys/kernel/core_pattern", "/proc/sys/kernel/modprobe", "/proc/sys/kernel/hotplug",
                           "/proc/sysrq-trigger", "/sys/kernel/uevent_helper", "/proc/sys/vm/panic_on_oom"})
    s.attempts.push_back({std::string("write-knob:") + path, Expect::blocked, ""});
  return s;
}

std::string destination(const std::string& address, int port, const char* protocol) {
  return address + ":" + std::to_string(port) + "/" + protocol;
}

// The first allow rule of the plan that is a TCP destination: its address
// (a pinned name's or the rule's own) and first port.
std::optional<std::pair<std::string, int>> listed_destination(const LaunchPlan& plan) {
  if (!plan.egress) return std::nullopt;
  for (const auto& rule : plan.egress->allow)
    if (rule.protocol == net::Protocol::tcp) return std::pair{rule.block.network.to_string(), int(rule.ports.first)};
  return std::nullopt;
}

std::vector<Scenario> network(const LaunchPlan& plan, const HostContext& host) {
  std::vector<Scenario> out;
  const auto mode = plan.network;
  const bool allowlist = mode == NetworkMode::allowlist;
  const Expect expect = mode == NetworkMode::host ? Expect::not_claimed : Expect::blocked;
  const std::string mode_text = mode == NetworkMode::none ? "none" : allowlist ? "allowlist" : "host";
  auto blocked_to = [&](Scenario& s, const std::string& address, int port) {
    s.attempts.push_back({"connect:" + address + ":" + std::to_string(port), expect,
                          allowlist ? destination(address, port, "tcp") : ""});
  };

  Scenario egress{"network-egress", "an agent sends data to a server of its choosing", "", {}};
  egress.expected = mode == NetworkMode::host ? "not claimed: network mode host"
                    : allowlist ? "blocked: network mode allowlist, the destination is not listed"
                                : "blocked: network mode none (no route out)";
  blocked_to(egress, kUnlisted, 443);
  blocked_to(egress, "1.1.1.1", 443);
  egress.attempts.push_back({"loopback", Expect::allowed, ""});  // the control: sockets work
  out.push_back(egress);

  if (allowlist) {
    Scenario listed{"allowlisted-destination", "the tier's own allowlist works (the control for the blocked moves)", "", {}};
    if (auto first = listed_destination(plan)) {
      listed.expected = "allowed: listed in network.allow (not refused by the run's firewall)";
      listed.attempts.push_back({"connect:" + first->first + ":" + std::to_string(first->second), Expect::allowed,
                                 destination(first->first, first->second, "tcp")});
    } else {
      listed.expected = "not claimed: the allowlist has no TCP destination";
    }
    out.push_back(listed);
  }

  Scenario metadata{"cloud-metadata", "an agent reads the cloud instance's credentials from the metadata service",
                    mode == NetworkMode::host ? "not claimed: network mode host"
                                              : "blocked: network mode " + mode_text + " (169.254.0.0/16 always denied)",
                    {}};
  blocked_to(metadata, kMetadata, 80);
  out.push_back(metadata);

  Scenario host_addresses{"host-addresses", "an agent reaches services the host itself runs (databases, admin ports)",
                          mode == NetworkMode::host ? "not claimed: network mode host"
                                                    : "blocked: network mode " + mode_text + " (the host's addresses are no destination)",
                          {}};
  for (const auto& address : host.host_addresses) {
    blocked_to(host_addresses, address, 22);
    if (host_addresses.attempts.size() >= 4) break;
  }
  if (host_addresses.attempts.empty()) host_addresses.not_run = "the host has no IPv4 address besides loopback";
  out.push_back(host_addresses);

  Scenario sockets{"host-unix-sockets", "an agent talks to a host service over a unix socket (docker.sock, ssh-agent)",
                   "blocked (floor): no host socket is mounted into the sandbox", {{"unix-sockets", Expect::blocked, ""}}};
  out.push_back(sockets);

  Scenario dns{"dns-exfiltration", "an agent smuggles data out in the names it looks up", "", {}};
  dns.expected = mode == NetworkMode::host
                     ? "not claimed: network mode host (the host's resolver answers)"
                     : "blocked: network mode " + mode_text + "; only the names the plan pins resolve (" +
                           (plan.egress && !plan.egress->pinned_hosts.empty() ? std::to_string(plan.egress->pinned_hosts.size()) : "none") +
                           "), no resolver outside answers";
  dns.attempts.push_back({"resolve:tierbox-redteam-" + host.survivor_name + ".example.com", expect, ""});
  // The control: a name the plan pins resolves (to its pinned address).
  if (plan.egress && !plan.egress->pinned_hosts.empty())
    dns.attempts.push_back({"resolve:" + plan.egress->pinned_hosts.front().name, Expect::allowed, ""});
  dns.attempts.push_back({"udp:8.8.8.8:53", expect, allowlist ? destination("8.8.8.8", 53, "udp") : ""});
  out.push_back(dns);
  return out;
}

Scenario terminal(const LaunchPlan& plan) {
  return {"terminal-injection", "an agent types commands into the caller's terminal (TIOCSTI)",
          "blocked (floor): ioctl TIOCSTI always blocked" + floor_note(plan, {"tiocsti"}),
          {{"tiocsti", Expect::blocked, ""}}};
}

Scenario file_watch(const LaunchPlan& plan) {
  Scenario s{"host-file-watch", "an agent watches what the host's processes open in trees bound from the host", "", {}};
  const bool inotify = syscall_allowed(plan, "inotify_add_watch") && syscall_allowed(plan, "inotify_init1");
  const bool fanotify = syscall_allowed(plan, "fanotify_init");
  s.expected = std::string("inotify ") + (inotify ? "not claimed (seccomp allows it)" : "blocked (seccomp denies it)") +
               ", fanotify " + (fanotify ? "not claimed (seccomp allows it)" : "blocked (seccomp denies it)");
  s.attempts.push_back({"inotify:/usr/bin", inotify ? Expect::not_claimed : Expect::blocked, ""});
  s.attempts.push_back({"fanotify", fanotify ? Expect::not_claimed : Expect::blocked, ""});
  return s;
}

std::optional<std::uint64_t> tmp_size(const LaunchPlan& plan) {
  for (const auto& op : plan.mount_ops) {
    if (op.kind != policy::MountOp::Kind::tmpfs || (op.target != "tmp" && op.target != "/tmp")) continue;
    const auto at = op.data.find("size=");
    if (at != std::string::npos) return std::stoull(op.data.substr(at + 5));
  }
  return std::nullopt;
}

// The workspace's claim: limits.disk holds only where the workspace is
// staged (its writes land in a tmpfs layer of that size); a tier whose task
// writes the host's disk directly can only set it as optional.
Scenario disk_exhaustion(const Profile& profile, const LaunchPlan& plan, const HostContext& host) {
  Scenario disk{"disk-exhaustion", "an agent fills the host's disk", "", {}};
  disk.slow = true;
  std::vector<std::string> claims, unclaimed;
  if (const auto size = tmp_size(plan)) {
    claims.push_back("the tmpfs /tmp holds " + format_size(*size));
    disk.attempts.push_back({"fill:/tmp/.tierbox-redteam-fill:" + std::to_string(*size + kOverfill), Expect::blocked, ""});
  } else {
    unclaimed.push_back("/tmp is no tmpfs of the tier's");
  }
  const auto& workspace = plan.workspace;
  if (workspace && workspace->staged && workspace->layer_size_bytes > 0) {
    claims.push_back("limits.disk " + format_size(workspace->layer_size_bytes) +
                     ": the workspace's writes land in a layer of that size, the host's disk untouched");
    disk.attempts.push_back({"fill-keep:" + workspace->target + "/" + kFillName + ":" +
                                 std::to_string(workspace->layer_size_bytes + kOverfill),
                             Expect::blocked, ""});
    disk.disk_host_check = true;
  } else if (workspace && workspace->writable) {
    unclaimed.push_back(profile.limits.disk.value ? "the workspace: limits.disk is optional here (the task writes the host's disk directly)"
                                                  : "the workspace: the tier sets no limits.disk");
  }
  std::string text;
  for (const auto& claim : claims) text += (text.empty() ? "" : "; ") + claim;
  std::string rest;
  for (const auto& item : unclaimed) rest += (rest.empty() ? "" : "; ") + item;
  disk.expected = claims.empty() ? "not claimed: " + (rest.empty() ? std::string("nothing the task may write is limited") : rest)
                                 : "blocked: " + text + (rest.empty() ? "" : "; not claimed: " + rest);
  if (!host.slow) disk.not_run = "slow (tierbox redteam --slow)";
  return disk;
}

// limits.output: the flood goes to stdout; the run's result, not the
// program, says whether the relay cut it.
Scenario output_exhaustion(const LaunchPlan& plan, const HostContext& host) {
  Scenario output{"output-exhaustion", "an agent floods its output until the log or the caller's disk fills", "", {}};
  if (!plan.output_limit_bytes) {
    output.expected = "not claimed: the tier sets no limits.output";
    return output;
  }
  const auto limit = *plan.output_limit_bytes;
  output.expected = "blocked: limits.output " + format_size(limit) +
                    ": the run's result shows the stream cut, at most that much reaches the caller";
  // The writes themselves work: the relay discards past the limit, silently to the task.
  output.attempts.push_back({"flood:" + std::to_string(limit + kOverfill), Expect::allowed, ""});
  output.output_limit = limit;
  // Flooding hundreds of MiB through the relay takes a while.
  output.slow = limit > kFastOutputLimit;
  if (output.slow && !host.slow) output.not_run = "slow (tierbox redteam --slow)";
  return output;
}

std::vector<Scenario> exhaustion(const Profile& profile, const LaunchPlan& plan, const HostContext& host) {
  std::vector<Scenario> out;
  const auto& limits = plan.cgroup_limits;
  Scenario pids{"pids-exhaustion", "a fork bomb takes the host's process table", "", {}};
  if (limits.pids.value) {
    pids.expected = "blocked: limits.pids " + std::to_string(*limits.pids.value);
    pids.attempts.push_back({"fork:" + std::to_string(*limits.pids.value + 8), Expect::blocked, ""});
  } else {
    pids.expected = "not claimed: the tier sets no limits.pids";
  }
  out.push_back(pids);

  Scenario memory{"memory-exhaustion", "an agent takes the host's memory", "", {}};
  memory.slow = true;
  if (limits.memory.value) {
    memory.expected = "blocked: limits.memory " + format_size(*limits.memory.value);
    memory.attempts.push_back({"allocate:" + std::to_string(*limits.memory.value + (64ULL << 20)), Expect::blocked, ""});
  } else {
    memory.expected = "not claimed: the tier sets no limits.memory";
  }
  if (!host.slow) memory.not_run = "slow (tierbox redteam --slow)";
  out.push_back(memory);

  out.push_back(disk_exhaustion(profile, plan, host));
  out.push_back(output_exhaustion(plan, host));
  return out;
}

// The staged workspace's fill, seen from the host: the file must not be in
// the real workspace, and the host's free space must not have fallen by
// half of what the program wrote (its writes went to memory, not the disk;
// the margin is other processes' writes in the meantime).
void judge_host_disk(const Scenario& scenario, const Evidence& evidence, Row& row, bool& weaker, bool& unchecked) {
  if (!evidence.disk) {
    row.observed += "; the host was not looked at while the file was there";
    unchecked = true;
    return;
  }
  const auto& disk = *evidence.disk;
  long long written = 0;
  for (const auto& attempt : scenario.attempts)
    if (attempt.argument.rfind("fill-keep:", 0) == 0) {
      const auto report = evidence.attempts.value(attempt.argument, nlohmann::json::object());
      const auto detail = report.value("detail", nlohmann::json());
      if (detail.is_object()) written = detail.value("written", 0LL);
    }
  row.observed += "; host " + disk.filesystem + ": free space " + (disk.free_drop_bytes >= 0 ? "fell" : "rose") + " by " +
                  std::to_string(disk.free_drop_bytes >= 0 ? disk.free_drop_bytes : -disk.free_drop_bytes) + " bytes while " +
                  std::to_string(written) + " were written";
  if (disk.fill_on_host) {
    weaker = true;
    row.observed += ", and the file is in the real workspace";
  } else if (written >= (1LL << 20) && disk.free_drop_bytes >= written / 2) {
    weaker = true;
    row.observed += " (the writes reached the host's disk)";
  }
}

// The run's own result decides: the relay cut the stream at the tier's
// limit, and no more than that reached the runner.
void judge_output(std::uint64_t limit, const Evidence& evidence, Row& row, bool& weaker, bool& unchecked) {
  if (!evidence.output) {
    // No relay at all although the plan sets the limit: nothing was cut.
    row.observed += "; the run's result shows no output limit";
    weaker = true;
    return;
  }
  const auto& output = *evidence.output;
  row.observed += "; result output {limit_bytes " + std::to_string(output.limit_bytes) + ", bytes " +
                  std::to_string(output.bytes) + ", cut " + (output.cut ? "true" : "false") + "}, " +
                  std::to_string(output.received_bytes) + " bytes reached the runner";
  if (output.received_bytes > limit || output.limit_bytes != limit) weaker = true;
  else if (!output.cut) {
    // Not cut, yet no more than the limit arrived: the flood fell short.
    if (output.bytes <= limit) unchecked = true;
    else weaker = true;
  }
}

}  // namespace

const char* to_string(Expect expect) {
  switch (expect) {
    case Expect::blocked: return "blocked";
    case Expect::allowed: return "allowed";
    case Expect::not_claimed: return "not claimed";
  }
  return "?";
}

std::vector<Scenario> plan_scenarios(const Profile& profile, const LaunchPlan& plan, const HostContext& host) {
  std::vector<Scenario> out;
  out.push_back(secret_files(profile, host));
  out.push_back(write_outside(profile, plan));
  out.push_back(mount_escape(plan));
  out.push_back(privilege(plan));
  out.push_back(kernel_knobs());
  for (auto& s : network(plan, host)) out.push_back(std::move(s));
  out.push_back(terminal(plan));
  out.push_back(file_watch(plan));
  for (auto& s : exhaustion(profile, plan, host)) out.push_back(std::move(s));

  Scenario command{"unlisted-command", "a tool slips in that nobody reviewed", "", {}};
  if (profile.commands.allowed) {
    command.expected = "blocked: allowed_commands lists " + std::to_string(profile.commands.allowed->size()) +
                       " commands, not the scenario program (launched without the simulation's admission, "
                       "the launch must be refused)";
    command.launch_refusal = true;
  } else {
    command.expected = "not claimed: the tier has no allowed_commands (any command may run)";
  }
  out.push_back(command);

  out.push_back({"survive-stop", "an agent double-forks to outlive its run and keep working unseen",
                 "blocked (floor): the run's pid namespace and cgroup end with it",
                 {{"double-fork:" + host.survivor_name, Expect::blocked, ""}}, false, true});
  return out;
}

Row judge(const Scenario& scenario, const Evidence& evidence) {
  Row row{scenario.id, scenario.threat, scenario.expected, "", ""};
  if (!scenario.not_run.empty()) {
    row.observed = "-";
    // A slow scenario left out on purpose is no gap in the result.
    row.verdict = scenario.slow ? "skipped" : "not run";
    row.expected += " (" + scenario.not_run + ")";
    return row;
  }
  if (scenario.launch_refusal) {
    if (!evidence.unlisted) {
      row.observed = "-";
      row.verdict = "not run";
      return row;
    }
    const auto& unlisted = *evidence.unlisted;
    const bool refused = !unlisted.launched && unlisted.error.find("allowed_commands") != std::string::npos;
    row.observed = refused ? "launch refused: " + unlisted.error
                           : unlisted.launched ? "the unlisted scenario program ran" : "launch failed: " + unlisted.error;
    row.verdict = refused ? "pass" : unlisted.launched ? "WEAKER" : "not run";
    return row;
  }
  const bool all_unclaimed = std::all_of(scenario.attempts.begin(), scenario.attempts.end(),
                                         [](const Attempt& a) { return a.expect == Expect::not_claimed; });
  if (!evidence.launched) {
    row.observed = "the scenario program did not run: " + evidence.launch_error;
    row.verdict = "not run";
    return row;
  }
  bool weaker = false;
  bool stricter = false;
  auto dropped = [&](const std::string& destination) {
    return std::find(evidence.dropped_destinations.begin(), evidence.dropped_destinations.end(), destination) !=
           evidence.dropped_destinations.end();
  };
  for (const auto& attempt : scenario.attempts) {
    const auto report = evidence.attempts.value(attempt.argument, nlohmann::json::object());
    const std::string result = report.value("result", "no report");
    std::string text = attempt.argument + " -> " + result;
    if (report.contains("detail") && !report["detail"].is_null() && result == "ok") text += " " + report["detail"].dump();
    const bool succeeded = result == "ok";
    if (attempt.expect == Expect::blocked) {
      if (succeeded) weaker = true;
      // ENETUNREACH comes from the sandbox's own routing table (no route
      // out of its namespace): blocked inside, not by a dead route upstream.
      if (!succeeded && !attempt.destination.empty() && !dropped(attempt.destination) && result != "ENETUNREACH") {
        weaker = true;
        text += " (not refused by the run's firewall)";
      }
      if (result == "no report") weaker = true;
    } else if (attempt.expect == Expect::allowed) {
      if (!attempt.destination.empty()) {
        if (dropped(attempt.destination)) {
          stricter = true;
          text += " (refused by the run's firewall)";
        } else if (result == "ENETUNREACH") {
          stricter = true;
          text += " (no route out of the sandbox)";
        }
      } else if (!succeeded) {
        stricter = true;
      }
    }
    row.observed += (row.observed.empty() ? "" : "; ") + text;
  }
  bool unchecked = false;
  if (scenario.disk_host_check) judge_host_disk(scenario, evidence, row, weaker, unchecked);
  if (scenario.output_limit) judge_output(*scenario.output_limit, evidence, row, weaker, unchecked);
  if (scenario.survivor_check) {
    row.observed += "; " + (evidence.stopped.empty() ? std::string("the run was not stopped (it ended first)")
                                                     : "stopped: " + evidence.stopped);
    if (!evidence.survivors.empty()) {
      weaker = true;
      row.observed += "; still running on the host after the run: pid";
      for (int pid : evidence.survivors) row.observed += " " + std::to_string(pid);
    } else {
      row.observed += "; nothing left on the host after the run";
    }
  }
  if (row.observed.empty()) row.observed = "-";
  row.verdict = weaker ? "WEAKER" : unchecked ? "not run" : all_unclaimed ? "not claimed" : stricter ? "stricter" : "pass";
  // Nothing survived, but the run was never stopped: stop was not tested.
  if (scenario.survivor_check && !weaker && evidence.stopped.empty()) row.verdict = "not run";
  return row;
}

bool is_weaker(const Row& row) { return row.verdict == "WEAKER"; }

nlohmann::json to_json(const Row& row) {
  return {{"scenario", row.scenario}, {"threat", row.threat},   {"expected", row.expected},
          {"observed", row.observed}, {"verdict", row.verdict}};
}

}  // namespace tierbox::redteam
