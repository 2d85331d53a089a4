// Review entries of `limits`.
#include <limits>

#include "common/units.h"
#include "policy/review/review.h"

namespace tierbox::policy {
namespace {

constexpr std::uint64_t kNoLimit = std::numeric_limits<std::uint64_t>::max();

std::string size_text(std::uint64_t bytes) { return bytes == kNoLimit ? "unlimited" : format_size(bytes); }
std::string count_text(std::uint64_t count) { return count == kNoLimit ? "unlimited" : std::to_string(count); }
std::string cores_text(std::uint64_t millicores) {
  if (millicores == kNoLimit) return "unlimited";
  char text[32];
  std::snprintf(text, sizeof text, "%g core%s", static_cast<double>(millicores) / 1000.0, millicores == 1000 ? "" : "s");
  return text;
}

// A cgroup limit as a number where no limit is the widest; a limit that
// became optional widens too (a host that cannot enforce it runs anyway).
template <typename T>
void compare_cgroup_limit(Changes& out, const std::string& field, const CgroupLimit<T>& before,
                          const CgroupLimit<T>& after, std::string (*text)(std::uint64_t)) {
  const std::uint64_t old_value = before.value ? static_cast<std::uint64_t>(*before.value) : kNoLimit;
  const std::uint64_t new_value = after.value ? static_cast<std::uint64_t>(*after.value) : kNoLimit;
  compare_ordered(out, field, old_value, new_value, true, text(old_value), text(new_value));
  if (before.value && after.value && before.required != after.required)
    add_change(out, field, after.required ? Effect::narrows : Effect::widens,
               after.required ? "now required (a host that cannot enforce it refuses the launch)"
                              : "now optional (a host that cannot enforce it runs the task anyway)");
}

// fsize, stack and as are bytes; nofile, nproc and core counts or sizes.
std::string rlimit_text(const std::string& name, std::uint64_t value) {
  return name == "fsize" || name == "stack" || name == "as" ? size_text(value) : count_text(value);
}

void compare_rlimit(Changes& out, const std::string& name, const std::optional<RlimitValue>& before,
                    const std::optional<RlimitValue>& after) {
  // Unset means the caller's own limit: treated as unlimited, the widest.
  const std::uint64_t old_hard = before ? before->hard : kNoLimit;
  const std::uint64_t new_hard = after ? after->hard : kNoLimit;
  compare_ordered(out, "limits.rlimits." + name, old_hard, new_hard, true,
                  before ? rlimit_text(name, old_hard) : "the caller's", after ? rlimit_text(name, new_hard) : "the caller's");
}

}  // namespace

void compare_limits(const Profile& before, const Profile& after, Changes& out) {
  compare_ordered(out, "limits.wall_time", before.limits.wall_time, after.limits.wall_time, true,
                  format_duration(before.limits.wall_time), format_duration(after.limits.wall_time));
  const auto& old_cgroup = before.limits.cgroup;
  const auto& new_cgroup = after.limits.cgroup;
  compare_cgroup_limit(out, "limits.memory", old_cgroup.memory, new_cgroup.memory, size_text);
  compare_cgroup_limit(out, "limits.memory_swap", old_cgroup.memory_swap, new_cgroup.memory_swap, size_text);
  compare_cgroup_limit(out, "limits.pids", old_cgroup.pids, new_cgroup.pids, count_text);
  compare_cgroup_limit(out, "limits.cpu", old_cgroup.cpu_millicores, new_cgroup.cpu_millicores, cores_text);
  compare_cgroup_limit(out, "limits.io_weight", old_cgroup.io_weight, new_cgroup.io_weight, count_text);
  compare_cgroup_limit(out, "limits.disk", before.limits.disk, after.limits.disk, size_text);
  if (before.limits.output_bytes != after.limits.output_bytes) {
    const auto text = [](const std::optional<std::uint64_t>& value) { return value ? size_text(*value) : std::string("none"); };
    const bool widens = !after.limits.output_bytes || (before.limits.output_bytes && *after.limits.output_bytes > *before.limits.output_bytes);
    add_change(out, "limits.output", widens ? Effect::widens : Effect::narrows,
               text(before.limits.output_bytes) + " -> " + text(after.limits.output_bytes));
  }
  const auto& old_rlimits = before.limits.rlimits;
  const auto& new_rlimits = after.limits.rlimits;
  compare_rlimit(out, "nofile", old_rlimits.nofile, new_rlimits.nofile);
  compare_rlimit(out, "nproc", old_rlimits.nproc, new_rlimits.nproc);
  compare_rlimit(out, "fsize", old_rlimits.fsize, new_rlimits.fsize);
  compare_rlimit(out, "core", old_rlimits.core, new_rlimits.core);
  compare_rlimit(out, "stack", old_rlimits.stack, new_rlimits.stack);
  compare_rlimit(out, "as", old_rlimits.as, new_rlimits.as);
}

void explain_limits(const Profile& profile, const ExplainContext&, Explanation& out) {
  const auto& cgroup = profile.limits.cgroup;
  ExplainSection section{"Limits", {}};
  section.lines.push_back("Wall-clock time: " + format_duration(profile.limits.wall_time) +
                          ", then the whole task tree is killed (run --timeout may only shorten it).");
  const auto limit_line = [&](const char* what, const auto& limit, std::string text) {
    if (!limit.value) return section.lines.push_back(std::string(what) + ": no limit (accounted only).");
    section.lines.push_back(std::string(what) + ": " + text +
                            (limit.required ? " (required: a host that cannot enforce it refuses the launch)."
                                            : " (optional: enforced where the host can)."));
  };
  limit_line("Memory", cgroup.memory, cgroup.memory.value ? size_text(*cgroup.memory.value) : "");
  if (cgroup.memory_swap.value) limit_line("Swap", cgroup.memory_swap, size_text(*cgroup.memory_swap.value));
  limit_line("Processes and threads", cgroup.pids, cgroup.pids.value ? count_text(*cgroup.pids.value) : "");
  limit_line("CPU", cgroup.cpu_millicores, cgroup.cpu_millicores.value ? cores_text(*cgroup.cpu_millicores.value) : "");
  if (cgroup.io_weight.value) limit_line("Disk time weight", cgroup.io_weight, count_text(*cgroup.io_weight.value));
  if (profile.limits.disk.value)
    limit_line(profile.workspace.staged ? "Disk written (staged layer)" : "Disk written (a container's root layer)",
               profile.limits.disk, size_text(*profile.limits.disk.value));
  const bool disk_not_below_memory =
      cgroup.memory.value && profile.limits.disk.value && *profile.limits.disk.value >= *cgroup.memory.value;
  const auto killed_first = [&] {
    return " Here limits.disk (" + size_text(*profile.limits.disk.value) + ") is not below limits.memory (" +
           size_text(*cgroup.memory.value) + "): a task that fills the layer is killed for memory before it gets ENOSPC.";
  };
  if (profile.workspace.staged) {
    // Measured (docs/staged-writes.md): the layer's pages are charged to
    // whoever writes them, the task's memory cgroup, and stay charged to
    // the cgroup above it once the run's cgroup is removed.
    std::string line = "Staged layer: memory (a tmpfs), not disk: what the task writes there counts against its "
                       "memory limit while it runs and stays charged to tierbox's own cgroup (or the daemon's) "
                       "after the run, until the layer is discarded; a reboot loses it.";
    if (disk_not_below_memory) line += killed_first();
    section.lines.push_back(line);
  }
  if (profile.container.writable_root) {
    // The root layer's only mounts are the sandbox's overlays: it is freed
    // with the container's mount namespace (stages/root_layer.h).
    std::string line = "A container's root layer (container.writable_root): memory (a tmpfs of limits.disk), not disk: "
                       "what the task writes to its root counts against its memory limit, and is freed when the "
                       "container ends.";
    if (disk_not_below_memory) line += killed_first();
    section.lines.push_back(line);
  }
  if (profile.limits.output_bytes)
    section.lines.push_back("Output (stdout and stderr together): " + size_text(*profile.limits.output_bytes) + ", cut past it");
  const auto& rlimits = profile.limits.rlimits;
  std::string rlimits_text;
  const std::pair<const char*, const std::optional<RlimitValue>*> named[] = {
      {"nofile", &rlimits.nofile}, {"nproc", &rlimits.nproc}, {"fsize", &rlimits.fsize},
      {"stack", &rlimits.stack},   {"as", &rlimits.as}};
  for (const auto& [name, value] : named)
    if (*value) rlimits_text += std::string(rlimits_text.empty() ? "" : ", ") + name + " " + rlimit_text(name, (*value)->hard);
  section.lines.push_back("rlimits: " + (rlimits_text.empty() ? std::string("the caller's") : rlimits_text) + ".");
  section.lines.push_back(rlimits.core && rlimits.core->hard == 0 ? "Core dumps: off." : "Core dumps: allowed.");
  out.push_back(std::move(section));
}

}  // namespace tierbox::policy
