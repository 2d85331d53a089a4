// Review entries of the filesystem: mounts, the workspace, /dev/shm, secrets.
#include <algorithm>
#include <map>
#include <set>

#include "common/units.h"
#include "policy/review/review.h"

namespace tierbox::policy {
namespace {

std::string describe_mount(const MountSpec& mount) {
  switch (mount.type) {
    case MountType::bind:
      return std::string(mount.writable ? "writable" : "read-only") + " bind of the host's " + mount.source +
             (mount.optional ? " (skipped where it does not exist)" : "");
    case MountType::tmpfs:
      return std::string(mount.writable ? "writable" : "read-only") + " tmpfs of " + format_size(mount.size_bytes);
    case MountType::symlink:
      return "symlink to " + mount.link;
  }
  return "?";
}

void compare_one_mount(const MountSpec& before, const MountSpec& after, Changes& out) {
  const std::string field = "mounts";
  const std::string where = after.target + ": ";
  if (before.type != after.type) {
    add_change(out, field, after.type == MountType::bind ? Effect::widens : Effect::changes,
               where + describe_mount(before) + " -> " + describe_mount(after));
    return;
  }
  if (after.type == MountType::bind && before.source != after.source)
    add_change(out, field, Effect::widens, where + "now exposes the host's " + after.source + " instead of " + before.source);
  if (before.writable != after.writable)
    add_change(out, field, after.writable ? Effect::widens : Effect::narrows,
               where + (after.writable ? "read-only -> writable" : "writable -> read-only"));
  if (after.type == MountType::bind && before.optional != after.optional)
    add_change(out, field, Effect::changes, where + (after.optional ? "now optional" : "now required"));
  if (after.type == MountType::tmpfs) {
    compare_ordered(out, field, before.size_bytes, after.size_bytes, true, where + "size " + format_size(before.size_bytes),
                    format_size(after.size_bytes));
    if (before.mode != after.mode) add_change(out, field, Effect::changes, where + "mode changed");
  }
  if (after.type == MountType::symlink && before.link != after.link)
    add_change(out, field, Effect::changes, where + "symlink " + before.link + " -> " + after.link);
}

std::map<std::string, const MountSpec*> by_target(const std::vector<MountSpec>& mounts) {
  std::map<std::string, const MountSpec*> map;
  for (const auto& mount : mounts) map[mount.target] = &mount;
  return map;
}

}  // namespace

namespace {

// A secret a caller may hand over is data the task can read: a new name
// widens. Requiring one more of every launch changes who can launch, not
// what the task reads.
void compare_secrets(const SecretsSpec& before, const SecretsSpec& after, Changes& out) {
  const std::set<std::string> old_names(before.names.begin(), before.names.end());
  const std::set<std::string> new_names(after.names.begin(), after.names.end());
  for (const auto& name : new_names)
    if (!old_names.count(name)) add_change(out, "secrets.names", Effect::widens, "secret a caller may give added: " + name);
  for (const auto& name : old_names)
    if (!new_names.count(name)) add_change(out, "secrets.names", Effect::narrows, "secret a caller may give removed: " + name);
  const std::set<std::string> old_required(before.required.begin(), before.required.end());
  const std::set<std::string> new_required(after.required.begin(), after.required.end());
  if (old_required != new_required) {
    auto list = [](const std::set<std::string>& names) {
      std::string text;
      for (const auto& name : names) text += (text.empty() ? "" : ", ") + name;
      return text.empty() ? std::string("(none)") : text;
    };
    add_change(out, "secrets.required", Effect::changes, list(old_required) + " -> " + list(new_required));
  }
  if (before.target != after.target && !(before.names.empty() && after.names.empty()))
    add_change(out, "secrets.target", Effect::changes, before.target + " -> " + after.target);
}

}  // namespace

void compare_filesystem(const Profile& before, const Profile& after, Changes& out) {
  // Another image (or the host's trees) is other code, reviewed anew;
  // pinning an image narrows what may run, unpinning widens it.
  if (before.rootfs.text() != after.rootfs.text()) {
    const bool only_pin = before.rootfs.image == after.rootfs.image && before.rootfs.is_image();
    const auto effect = !only_pin ? Effect::changes
                                  : (after.rootfs.pinned_digest.empty() ? Effect::widens : Effect::narrows);
    add_change(out, "rootfs", effect, before.rootfs.text() + " -> " + after.rootfs.text());
  }
  auto old_mounts = by_target(before.mounts);
  auto new_mounts = by_target(after.mounts);
  for (const auto& [target, mount] : new_mounts) {
    auto old = old_mounts.find(target);
    if (old != old_mounts.end()) {
      compare_one_mount(*old->second, *mount, out);
      continue;
    }
    const bool host_data = mount->type == MountType::bind;
    add_change(out, "mounts", host_data ? Effect::widens : Effect::changes,
               "new mount " + target + ": " + describe_mount(*mount));
  }
  for (const auto& [target, mount] : old_mounts) {
    if (new_mounts.count(target)) continue;
    add_change(out, "mounts", mount->type == MountType::bind ? Effect::narrows : Effect::changes,
               "removed mount " + target + " (was: " + describe_mount(*mount) + ")");
  }
  if (before.workspace.writable != after.workspace.writable)
    add_change(out, "workspace.writable", after.workspace.writable ? Effect::widens : Effect::narrows,
               after.workspace.writable ? "read-only -> writable" : "writable -> read-only");
  // Staged is narrower than writing the real workspace (a person sees and
  // applies every change); unstaging a writable workspace widens.
  // A read-only workspace is neither: the writable change says it all.
  if (before.workspace.staged != after.workspace.staged && after.workspace.writable)
    add_change(out, "workspace.staged", after.workspace.staged ? Effect::narrows : Effect::widens,
               after.workspace.staged ? "writes land in the workspace -> staged for review"
                                      : "staged for review -> writes land in the workspace");
  if (before.workspace.target != after.workspace.target)
    add_change(out, "workspace.target", Effect::changes, before.workspace.target + " -> " + after.workspace.target);
  // A writable container root writes only a per-container layer, never the
  // image; still, the task can change what its own later processes run.
  if (before.container.writable_root != after.container.writable_root)
    add_change(out, "container.writable_root", after.container.writable_root ? Effect::widens : Effect::narrows,
               after.container.writable_root ? "containers' roots read-only -> writable (root.readonly false) on a layer"
                                             : "containers' roots writable -> read-only");
  compare_ordered(out, "shm_size", before.shm_size_bytes, after.shm_size_bytes, true, format_size(before.shm_size_bytes),
                  format_size(after.shm_size_bytes));
  compare_secrets(before.secrets, after.secrets, out);
}

void explain_filesystem(const Profile& profile, const ExplainContext& context, Explanation& out) {
  ExplainSection section{"Files the task sees", {}};
  if (profile.rootfs.is_image())
    section.lines.push_back("/: the store image " + profile.rootfs.image + ", read-only, nosuid, nodev" +
                            (profile.rootfs.pinned_digest.empty() ? " (not pinned: whatever the store holds under that name)"
                                                                  : ", pinned at " + profile.rootfs.pinned_digest) +
                            "; none of the host's trees. Build it once: tierbox rootfs build " + profile.rootfs.image +
                            " (docs/rootfs.md)");
  std::vector<const MountSpec*> mounts;
  for (const auto& mount : profile.mounts) mounts.push_back(&mount);
  std::sort(mounts.begin(), mounts.end(), [](auto* a, auto* b) { return a->target < b->target; });
  for (const auto* mount : mounts) {
    std::string line = mount->target + ": ";
    switch (mount->type) {
      case MountType::bind:
        line += "the host's " + mount->source + ", " + (mount->writable ? "WRITABLE by the task" : "read-only");
        if (context.classifier) line += ", class " + describe(context.classifier->classify(mount->source));
        if (mount->optional) line += " (left out where it does not exist)";
        break;
      case MountType::tmpfs:
        line += "private scratch space in memory, " + format_size(mount->size_bytes) + ", " +
                (mount->writable ? "writable" : "read-only") + ", gone when the task ends";
        break;
      case MountType::symlink:
        line += "a symlink to " + mount->link;
        break;
    }
    section.lines.push_back(line);
  }
  section.lines.push_back(profile.workspace.target + ": the directory given with --workspace, " +
                          (!profile.workspace.writable ? std::string("read-only")
                           : profile.workspace.staged
                               ? "writable, STAGED: the task's writes land in a per-run layer; the real workspace changes "
                                 "only when someone runs tierbox apply (docs/staged-writes.md)"
                               : "WRITABLE by the task (changes land on the host)") +
                          "; the task starts there. Its class is checked against the inventory at launch.");
  section.lines.push_back("/proc (the sandbox's own processes only), /dev (null, zero, full, random, urandom, tty, pts, shm " +
                          format_size(profile.shm_size_bytes) +
                          "), /etc/passwd, /etc/group, /etc/hosts, /etc/hostname: made by tierbox; the root itself is read-only.");
  if (profile.container.writable_root)
    section.lines.push_back(
        "containers (tierbox oci) whose config.json has root.readonly false: the image's directories WRITABLE through a "
        "per-container overlay; writes land in a layer of " +
        (profile.limits.disk.value ? format_size(*profile.limits.disk.value) : std::string("?")) +
        " (limits.disk; memory, counted against limits.memory; past it ENOSPC), never in the image, discarded when "
        "the container ends; nosuid, nodev; files directly in / and /etc stay read-only (docs/kubernetes.md)");
  out.push_back(std::move(section));
}

}  // namespace tierbox::policy
