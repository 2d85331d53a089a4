#include "policy/command_resolution.h"

#include <algorithm>
#include <deque>

#include "common/errors.h"
#include "policy/path_pattern.h"

namespace tierbox::policy {
namespace {

// Linux's own limit on symlinks in one lookup.
constexpr int kMaxSymlinks = 40;

const SandboxMount* symlink_at(const std::vector<SandboxMount>& mounts, const std::string& path) {
  for (const auto& mount : mounts)
    if (mount.kind == SandboxMount::Kind::symlink && mount.target == path) return &mount;
  return nullptr;
}

const SandboxMount* covering(const std::vector<SandboxMount>& mounts, const std::string& path) {
  const SandboxMount* best = nullptr;
  for (const auto& mount : mounts) {
    if (mount.kind == SandboxMount::Kind::symlink || !is_same_or_under(path, mount.target)) continue;
    if (!best || mount.target.size() > best->target.size()) best = &mount;
  }
  return best;
}

bool has_mount_below(const std::vector<SandboxMount>& mounts, const std::string& path) {
  return std::any_of(mounts.begin(), mounts.end(), [&](const auto& mount) { return is_strictly_under(mount.target, path); });
}

std::string join(const std::vector<std::string>& components) { return join_components(components, components.size()); }

std::string entry_text(const AllowedCommand& entry) { return entry.command; }

}  // namespace

std::vector<SandboxMount> sandbox_mounts(const Profile& profile, const std::optional<std::string>& workspace,
                                         const HostView& view, const std::string& image_tree) {
  std::vector<SandboxMount> mounts;
  // The shortest target: every other mount covers its own part of the root.
  // (The image's /etc entries are bound one by one beside tierbox's files,
  // so the image's view of /etc is the task's for every program in it.)
  if (!image_tree.empty()) mounts.push_back({SandboxMount::Kind::host, "/", image_tree, ""});
  for (const auto& mount : profile.mounts) {
    switch (mount.type) {
      case MountType::bind:
        if (auto real = view.real_path(mount.source)) mounts.push_back({SandboxMount::Kind::host, mount.target, *real, ""});
        break;
      case MountType::tmpfs:
        mounts.push_back({SandboxMount::Kind::tmpfs, mount.target, "", ""});
        break;
      case MountType::symlink:
        mounts.push_back({SandboxMount::Kind::symlink, mount.target, "", mount.link});
        break;
    }
  }
  if (workspace) mounts.push_back({SandboxMount::Kind::host, profile.workspace.target, *workspace, ""});
  return mounts;
}

SandboxPath resolve_sandbox_path(const std::string& path, bool follow_final, const std::vector<SandboxMount>& mounts,
                                 const HostView& view) {
  SandboxPath result;
  auto parts = path_components(path);
  std::deque<std::string> pending(parts.begin(), parts.end());
  std::vector<std::string> current;
  int symlinks = 0;
  const auto splice = [&](const std::string& link) {
    if (++symlinks > kMaxSymlinks) return false;
    auto link_parts = path_components(link);
    pending.insert(pending.begin(), link_parts.begin(), link_parts.end());
    if (!link.empty() && link.front() == '/') current.clear();
    return true;
  };
  result.type = EntryType::directory;  // "/"
  while (!pending.empty()) {
    const std::string part = pending.front();
    pending.pop_front();
    if (part == ".") continue;
    if (part == "..") {
      if (!current.empty()) current.pop_back();
      continue;
    }
    const bool last = pending.empty();
    auto next = current;
    next.push_back(part);
    const auto next_path = join(next);
    if (const auto* link = symlink_at(mounts, next_path); link && (!last || follow_final)) {
      if (!splice(link->link)) return result.error = "too many levels of symbolic links", result;
      continue;
    } else if (link) {
      current = next;
      result.type = EntryType::symlink;
      result.host.clear();
      continue;
    }
    const auto* mount = covering(mounts, next_path);
    if (mount && mount->kind == SandboxMount::Kind::host) {
      const auto host = mount->host + (mount->target == "/" ? next_path : next_path.substr(mount->target.size()));
      const auto type = view.entry_type(host);
      if (type == EntryType::missing) return result;
      if (type == EntryType::symlink && (!last || follow_final)) {
        auto target = view.read_link(host);
        if (!target || !splice(*target)) return result.error = "too many levels of symbolic links", result;
        continue;
      }
      if (!last && type != EntryType::directory) return result;
      current = next;
      result.type = type;
      result.host = host;
      continue;
    }
    // On a tmpfs, or the root tmpfs: only directories tierbox makes exist
    // before the task runs (a tmpfs's root, the parents of mount targets).
    const bool made = (mount && mount->target == next_path) || has_mount_below(mounts, next_path);
    if (!made) return result;
    current = next;
    result.type = EntryType::directory;
    result.host.clear();
  }
  result.exists = true;
  result.path = join(current);
  return result;
}

ResolvedCommand resolve_command(const std::string& command, const std::string& search_path, const std::string& cwd,
                                const std::vector<SandboxMount>& mounts, const HostView& view) {
  const auto try_path = [&](const std::string& path) {
    ResolvedCommand resolved;
    auto slash = path.rfind('/');
    auto directory = resolve_sandbox_path(path.substr(0, slash), true, mounts, view);
    if (!directory.exists || directory.type != EntryType::directory) return resolved;
    resolved.candidate = (directory.path == "/" ? "" : directory.path) + "/" + path.substr(slash + 1);
    resolved.file = resolve_sandbox_path(resolved.candidate, true, mounts, view);
    resolved.found = resolved.file.exists && resolved.file.type == EntryType::file && !resolved.file.host.empty() &&
                     view.is_executable_file(resolved.file.host);
    return resolved;
  };
  if (command.find('/') != std::string::npos)
    return try_path(command.front() == '/' ? command : (cwd == "/" ? "" : cwd) + "/" + command);
  // Like the child's search: each PATH entry in order, empty means ".".
  std::size_t start = 0;
  while (start <= search_path.size()) {
    auto end = search_path.find(':', start);
    if (end == std::string::npos) end = search_path.size();
    std::string directory = search_path.substr(start, end - start);
    if (directory.empty()) directory = ".";
    if (directory.front() != '/') directory = (cwd == "/" ? "" : cwd) + "/" + directory;
    auto resolved = try_path(directory + "/" + command);
    if (resolved.found) return resolved;
    start = end + 1;
  }
  return {};
}

CommandAssessment assess_command(const Profile& profile, const std::string& command, const std::string& search_path,
                                 const std::string& cwd, const std::optional<std::string>& workspace,
                                 const HostView& view, const std::string& image_tree) {
  CommandAssessment assessment;
  if (!profile.commands.allowed) return assessment;
  assessment.restricted = true;
  const auto mounts = sandbox_mounts(profile, workspace, view, image_tree);
  const auto requested = resolve_command(command, search_path, cwd, mounts, view);
  if (!requested.found) {
    assessment.refusal = "command " + quote(command) + " not found in the sandbox (or not executable)";
    assessment.refusal_status = exit_code::command_not_found;
    return assessment;
  }
  assessment.candidate = requested.candidate;
  assessment.file_host = requested.file.host;
  std::string allowed_list;
  for (const auto& entry : *profile.commands.allowed) {
    allowed_list += (allowed_list.empty() ? "" : ", ") + entry_text(entry);
    auto candidate = resolve_command(entry.command, search_path, cwd, mounts, view);
    if (!candidate.found || candidate.candidate != requested.candidate) continue;
    assessment.exec_path = requested.candidate;
    assessment.allowed_by = entry.origin;
    if (entry.sha256.empty()) return assessment;
    const auto actual = view.sha256_of_file(requested.file.host);
    if (actual != entry.sha256) {
      assessment.refusal = requested.candidate + " (file " + requested.file.host + ") changed since tier '" +
                           profile.name + "' was reviewed: allowed_commands pins sha256 " + entry.sha256 +
                           ", the file now has sha256 " + actual + " (" + entry.origin +
                           "; fix: review the new file and update the pin)";
      return assessment;
    }
    assessment.verified_sha256 = actual;
    return assessment;
  }
  assessment.refusal = quote(command) + " resolves to " + requested.candidate + ", which tier '" + profile.name +
                       "' does not allow (allowed_commands: " + allowed_list + ")";
  return assessment;
}

void admit_simulated_command(CommandAssessment& assessment, const std::string& sha256, const HostView& view) {
  if (assessment.refusal.empty() || assessment.refusal_status == exit_code::command_not_found || sha256.empty() ||
      assessment.file_host.empty())
    return;
  if (view.sha256_of_file(assessment.file_host) != sha256) return;
  assessment.refusal.clear();
  assessment.exec_path = assessment.candidate;
  assessment.allowed_by = "simulation";
  assessment.verified_sha256 = sha256;
  assessment.admitted_for_simulation = true;
}

}  // namespace tierbox::policy
