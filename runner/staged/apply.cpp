#include "staged/apply.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <nlohmann/json.hpp>

#include "common/digest.h"
#include "common/errors.h"
#include "common/files.h"
#include "common/rfc3339.h"

namespace tierbox::staged {
namespace {

using json = nlohmann::json;

constexpr std::uint64_t kResolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;

UniqueFd open_beneath(int root, const std::string& path, std::uint64_t flags, const std::string& what) {
  struct open_how how {};
  how.flags = flags | O_CLOEXEC | O_NOFOLLOW;
  how.resolve = kResolve;
  UniqueFd fd(static_cast<int>(::syscall(SYS_openat2, root, path.empty() ? "." : path.c_str(), &how, sizeof how)));
  if (!fd)
    throw_sys_error("openat2(" + quote(what) + ", RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS|RESOLVE_NO_MAGICLINKS|RESOLVE_NO_XDEV)");
  return fd;
}

std::string parent_of(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? "" : path.substr(0, slash);
}

std::string name_of(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

json state_to_json(const EntryState& state) {
  return {{"type", to_string(state.type)}, {"mode", state.mode}, {"sha256", state.sha256}, {"link", state.link}};
}

EntryState state_from_json(const json& in) {
  EntryState state;
  state.type = parse_entry_type(in.at("type").get<std::string>());
  state.mode = in.at("mode").get<mode_t>();
  state.sha256 = in.at("sha256").get<std::string>();
  state.link = in.at("link").get<std::string>();
  return state;
}

// The real entry now, through the parent's fd; none when absent (or when a
// parent is gone). Never follows a symlink.
// The directory holding path, beneath root; invalid when it is gone (or
// was replaced by something that is not a directory).
UniqueFd try_open_parent(int root, const std::string& path) {
  struct open_how how {};
  how.flags = O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW;
  how.resolve = kResolve;
  const auto parent_path = parent_of(path);
  return UniqueFd(static_cast<int>(
      ::syscall(SYS_openat2, root, parent_path.empty() ? "." : parent_path.c_str(), &how, sizeof how)));
}

EntryState current_state(int root, const std::string& path, const std::string& workspace) {
  auto parent = try_open_parent(root, path);
  if (!parent) return {};
  return read_entry(parent.get(), name_of(path), workspace + "/" + path);
}

bool same_state(const EntryState& a, const EntryState& b) {
  if (a.type != b.type) return false;
  if (a.type == EntryType::none) return true;
  if (a.type == EntryType::file && a.sha256 != b.sha256) return false;
  if (a.type == EntryType::symlink) return a.link == b.link;
  return a.mode == b.mode;
}

void copy_fd(int from, int to, const std::string& what) {
  char buffer[1 << 16];
  for (;;) {
    const ssize_t n = ::read(from, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_sys_error("read(" + quote(what) + ")");
    if (n == 0) return;
    write_all(to, std::string_view(buffer, static_cast<std::size_t>(n)), what);
  }
}

std::string temp_name(const StagedRun& run, std::size_t index) {
  return ".tierbox-apply." + run.run_id + "." + std::to_string(index);
}

// Writes content (from source) as dir/name, atomically: a temporary file in
// the same directory, owned and moded as asked, fsynced, renamed over.
// Returns the sha256 of what landed.
std::string land_file(int dir, const std::string& name, int source, const std::string& tmp, mode_t mode, uid_t uid,
                      gid_t gid, const std::string& what) {
  ::unlinkat(dir, tmp.c_str(), 0);  // left by an earlier crash
  UniqueFd out(::openat(dir, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!out) throw_sys_error("openat(" + quote(what + " (temporary " + tmp + ")") + ", O_CREAT|O_EXCL|O_NOFOLLOW)");
  copy_fd(source, out.get(), what);
  if (::fchown(out.get(), uid, gid) != 0) throw_sys_error("fchown(" + quote(what) + ", " + std::to_string(uid) + ")");
  // After fchown, which clears setuid/setgid: the mode is set last.
  if (::fchmod(out.get(), mode) != 0) throw_sys_error("fchmod(" + quote(what) + ")");
  if (::fsync(out.get()) != 0) throw_sys_error("fsync(" + quote(what) + ")");
  UniqueFd check(::openat(dir, tmp.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  const auto digest = sha256_hex_of_fd(check.get(), what);
  if (::renameat(dir, tmp.c_str(), dir, name.c_str()) != 0) throw_sys_error("renameat(" + quote(what) + ")");
  return digest;
}

void land_symlink(int dir, const std::string& name, const std::string& link, const std::string& tmp, uid_t uid,
                  gid_t gid, const std::string& what) {
  ::unlinkat(dir, tmp.c_str(), 0);
  if (::symlinkat(link.c_str(), dir, tmp.c_str()) != 0) throw_sys_error("symlinkat(" + quote(what) + ")");
  if (::fchownat(dir, tmp.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW) != 0) throw_sys_error("fchownat(" + quote(what) + ")");
  if (::renameat(dir, tmp.c_str(), dir, name.c_str()) != 0) throw_sys_error("renameat(" + quote(what) + ")");
}

void remove_entry(int dir, const std::string& name, EntryType type, const std::string& what) {
  if (::unlinkat(dir, name.c_str(), type == EntryType::directory ? AT_REMOVEDIR : 0) != 0 && errno != ENOENT)
    throw_sys_error("unlinkat(" + quote(what) + (type == EntryType::directory ? ", AT_REMOVEDIR)" : ")"));
}

void set_mode(int dir, const std::string& name, EntryType type, mode_t mode, const std::string& what) {
  UniqueFd fd(::openat(dir, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK |
                                              (type == EntryType::directory ? O_DIRECTORY : 0)));
  if (!fd || ::fchmod(fd.get(), mode) != 0) throw_sys_error("fchmod(" + quote(what) + ")");
}

// The journal: the run's entries in the order they land, each with what
// was there before (saved under backup/N) and what lands.
struct Journal {
  std::string state;  // applying, applied, rolled_back, undone
  std::string digest;
  std::string started_at;
  json entries = json::array();
};

void write_journal(const StagedPaths& paths, const Journal& journal) {
  const json out = {{"state", journal.state}, {"digest", journal.digest}, {"started_at", journal.started_at},
                    {"entries", journal.entries}};
  write_file_atomically(paths.journal(), out.dump(1) + "\n", 0600, Durability::fsync);
}

Journal read_journal(const StagedPaths& paths) {
  const auto text = read_regular_file(paths.journal().string(), "apply journal", 64 << 20);
  const auto in = json::parse(text, nullptr, false);
  if (in.is_discarded() || !in.is_object())
    throw Error(paths.journal().string() + ": not JSON (the apply journal; fix: restore it from backup/ by hand)",
                exit_code::runner_failed);
  return {in.at("state").get<std::string>(), in.value("digest", ""), in.value("started_at", ""), in.at("entries")};
}

// Deletions first, deepest first (a directory is empty when its turn
// comes; an entry replaced by one of another type is gone before the new
// one lands); then the rest in path order (parents before children).
std::vector<const Change*> landing_order(const ChangeSet& set) {
  std::vector<const Change*> order;
  for (auto it = set.changes.rbegin(); it != set.changes.rend(); ++it)
    if (it->kind == ChangeKind::deleted) order.push_back(&*it);
  for (const auto& change : set.changes)
    if (change.kind != ChangeKind::deleted && change.kind != ChangeKind::refused) order.push_back(&change);
  return order;
}

// Restores one journal entry: what was there before the apply.
void restore_entry(int root, const json& entry, const StagedPaths& paths, const StagedRun& run, std::size_t index) {
  const auto path = entry.at("path").get<std::string>();
  const auto before = state_from_json(entry.at("before"));
  const auto what = run.workspace + "/" + path;
  auto parent = open_beneath(root, parent_of(path), O_PATH | O_DIRECTORY, run.workspace + "/" + parent_of(path));
  const auto name = name_of(path);
  const auto now = current_state(root, path, run.workspace);
  const uid_t uid = entry.value("uid", run.workspace_uid);
  const gid_t gid = entry.value("gid", run.workspace_gid);
  switch (before.type) {
    case EntryType::none:
      remove_entry(parent.get(), name, now.type, what);
      break;
    case EntryType::file: {
      if (now.type == EntryType::directory) remove_entry(parent.get(), name, now.type, what);
      const auto backup = paths.backup() / std::to_string(index);
      UniqueFd source(::open(backup.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
      if (!source) throw_sys_error("open(" + quote(backup.string()) + ") (the saved copy of " + what + ")");
      land_file(parent.get(), name, source.get(), temp_name(run, index), before.mode, uid, gid, what);
      break;
    }
    case EntryType::symlink:
      if (now.type == EntryType::directory) remove_entry(parent.get(), name, now.type, what);
      land_symlink(parent.get(), name, before.link, temp_name(run, index), uid, gid, what);
      break;
    case EntryType::directory:
      if (now.type == EntryType::directory) {
        set_mode(parent.get(), name, before.type, before.mode, what);
        break;
      }
      if (now.type != EntryType::none) remove_entry(parent.get(), name, now.type, what);
      if (::mkdirat(parent.get(), name.c_str(), 0700) != 0) throw_sys_error("mkdirat(" + quote(what) + ")");
      if (::fchownat(parent.get(), name.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW) != 0)
        throw_sys_error("fchownat(" + quote(what) + ")");
      set_mode(parent.get(), name, before.type, before.mode, what);
      break;
    case EntryType::other:
      break;
  }
}


// Entries whose real state is what the apply made of them, newest first:
// those an undo restores.
std::vector<std::size_t> landed_entries(int root, const Journal& journal, const StagedRun& run) {
  std::vector<std::size_t> landed;
  for (std::size_t i = journal.entries.size(); i-- > 0;) {
    const auto& entry = journal.entries[i];
    const auto before = state_from_json(entry.at("before"));
    const auto after = state_from_json(entry.at("after"));
    const auto now = current_state(root, entry.at("path").get<std::string>(), run.workspace);
    if (same_state(now, after) && !same_state(now, before)) landed.push_back(i);
  }
  return landed;
}

}  // namespace

UniqueFd open_workspace(const StagedRun& run) {
  auto root = open_workspace_root(run.workspace);
  // Still the owner's directory: a directory of another owner renamed into
  // the path (by whoever may write its parent) is not the workspace.
  struct stat st {};
  if (::fstat(root.get(), &st) != 0) throw_sys_error("fstat(" + quote(run.workspace) + ")");
  if (st.st_uid != run.workspace_uid)
    throw Refusal("the workspace " + quote(run.workspace) + " is no longer the directory the run used: its owner is uid " +
                  std::to_string(st.st_uid) + ", the run's was uid " + std::to_string(run.workspace_uid) + " (fix: restore it)");
  return root;
}

mode_t landed_mode(const EntryState& state) {
  if (state.type == EntryType::directory) return state.mode & 01777;
  return state.mode & 0777;
}

std::map<std::string, EntryState> restored_entries(const StagedPaths& paths) {
  std::map<std::string, EntryState> restored;
  std::error_code error;
  if (!std::filesystem::exists(paths.journal(), error)) return restored;
  const auto journal = read_journal(paths);
  if (journal.state != "rolled_back" && journal.state != "undone") return restored;
  for (const auto& entry : journal.entries)
    restored[entry.at("path").get<std::string>()] = state_from_json(entry.at("before"));
  return restored;
}

std::vector<std::string> find_conflicts(const ChangeSet& set, const StagedRun& run,
                                        const std::map<std::string, EntryState>& verified) {
  std::vector<std::string> lines;
  for (const auto& change : set.changes) {
    if (change.before.type == EntryType::none || change.kind == ChangeKind::refused) continue;
    if (auto it = verified.find(change.path); it != verified.end() && same_state(change.before, it->second)) continue;
    if (change.before.ctime_ns >= run.baseline_ns)
      lines.push_back(change.path + ": changed in the workspace since the run started (" +
                      rfc3339_utc(std::chrono::system_clock::time_point(std::chrono::duration_cast<
                                  std::chrono::system_clock::duration>(std::chrono::nanoseconds(change.before.ctime_ns)))) +
                      ", the run started " + run.started_at + ")");
  }
  return lines;
}

ApplyReport apply_changes(const StagedPaths& paths, StagedRun& run, const ChangeSet& set,
                          const std::function<void(std::size_t)>& before_entry) {
  if (run.state != "staged")
    throw Error("run " + run.run_id + ": its layer is " + run.state + ", not staged (fix: " +
                    (run.state == "applied" ? "`tierbox rollback` it first" : "wait until the run has ended") + ")",
                exit_code::refused);
  auto root = open_workspace(run);
  UniqueFd upper(::open(paths.upper().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!upper) throw_sys_error("open(" + quote(paths.upper().string()) + ", O_DIRECTORY)");
  const auto order = landing_order(set);

  // 1. The journal and the saved copies, before anything changes.
  std::error_code stale;
  std::filesystem::remove_all(paths.backup(), stale);  // an earlier apply's, rolled back
  make_private_dirs(paths.backup(), "apply: ");
  Journal journal{"applying", set.digest, rfc3339_utc(std::chrono::system_clock::now()), json::array()};
  for (std::size_t i = 0; i < order.size(); ++i) {
    const auto& change = *order[i];
    json entry = {{"path", change.path}, {"kind", to_string(change.kind)}, {"before", state_to_json(change.before)}};
    EntryState after = change.after;
    after.mode = landed_mode(after);
    entry["after"] = state_to_json(after);
    if (change.before.type != EntryType::none) {
      const auto what = run.workspace + "/" + change.path;
      auto parent = open_beneath(root.get(), parent_of(change.path), O_PATH | O_DIRECTORY, what);
      struct stat st {};
      if (::fstatat(parent.get(), name_of(change.path).c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
        throw_sys_error("fstatat(" + quote(what) + ")");
      entry["uid"] = st.st_uid;
      entry["gid"] = st.st_gid;
      if (change.before.type == EntryType::file) {
        UniqueFd source(::openat(parent.get(), name_of(change.path).c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
        if (!source) throw_sys_error("open(" + quote(what) + ", O_NOFOLLOW)");
        const auto backup = paths.backup() / std::to_string(i);
        UniqueFd saved(::open(backup.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600));
        if (!saved) throw_sys_error("open(" + quote(backup.string()) + ", O_CREAT|O_TRUNC)");
        copy_fd(source.get(), saved.get(), backup.string());
        if (::fsync(saved.get()) != 0) throw_sys_error("fsync(" + quote(backup.string()) + ")");
      }
    }
    journal.entries.push_back(std::move(entry));
  }
  write_journal(paths, journal);
  run.state = "applying";
  write_staged_run(paths, run);

  // 2. Each entry lands atomically.
  ApplyReport report;
  report.files = json::array();
  for (std::size_t i = 0; i < order.size(); ++i) {
    if (before_entry) before_entry(i);
    const auto& change = *order[i];
    const auto what = run.workspace + "/" + change.path;
    auto parent = open_beneath(root.get(), parent_of(change.path), O_PATH | O_DIRECTORY, what);
    const auto name = name_of(change.path);
    std::string landed_sha;
    switch (change.kind) {
      case ChangeKind::deleted:
        remove_entry(parent.get(), name, change.before.type, what);
        break;
      case ChangeKind::mode_changed:
        set_mode(parent.get(), name, change.after.type, landed_mode(change.after), what);
        landed_sha = change.after.sha256;
        break;
      case ChangeKind::added:
      case ChangeKind::modified:
        if (change.after.type == EntryType::directory) {
          if (::mkdirat(parent.get(), name.c_str(), 0700) != 0 && errno != EEXIST) throw_sys_error("mkdirat(" + quote(what) + ")");
          if (::fchownat(parent.get(), name.c_str(), run.workspace_uid, run.workspace_gid, AT_SYMLINK_NOFOLLOW) != 0)
            throw_sys_error("fchownat(" + quote(what) + ")");
          set_mode(parent.get(), name, EntryType::directory, landed_mode(change.after), what);
        } else if (change.after.type == EntryType::symlink) {
          land_symlink(parent.get(), name, change.after.link, temp_name(run, i), run.workspace_uid, run.workspace_gid, what);
        } else {
          auto source = open_beneath(upper.get(), change.path, O_RDONLY, paths.upper().string() + "/" + change.path);
          landed_sha = land_file(parent.get(), name, source.get(), temp_name(run, i), landed_mode(change.after),
                                 run.workspace_uid, run.workspace_gid, what);
          // The layer cannot change once the run has ended; a mismatch means
          // something did change it, and what was approved is not what lands.
          if (landed_sha != change.after.sha256)
            throw Error("apply: " + what + " would land with sha256 " + landed_sha + ", not the approved " +
                            change.after.sha256 + " (the layer changed; nothing more lands, `tierbox gc` undoes the rest)",
                        exit_code::runner_failed);
        }
        break;
      case ChangeKind::refused:
        break;
    }
    journal.entries[i]["done"] = true;
    report.lines.push_back(change_line(change));
    report.files.push_back({{"path", change.path},
                            {"kind", to_string(change.kind)},
                            {"before_sha256", change.before.sha256},
                            {"after_sha256", landed_sha}});
  }
  // Directories' fsync makes the renames durable before the journal says so.
  ::syncfs(root.get());
  journal.state = "applied";
  write_journal(paths, journal);
  run.state = "applied";
  write_staged_run(paths, run);
  return report;
}

std::vector<std::string> rollback_apply(const StagedPaths& paths, StagedRun& run) {
  if (run.state != "applied")
    throw Error("run " + run.run_id + ": nothing to roll back (its layer is " + run.state + ")", exit_code::refused);
  auto journal = read_journal(paths);
  auto root = open_workspace(run);
  std::vector<std::string> changed_again;
  for (const auto& entry : journal.entries) {
    const auto path = entry.at("path").get<std::string>();
    if (!same_state(current_state(root.get(), path, run.workspace), state_from_json(entry.at("after"))))
      changed_again.push_back(path);
  }
  if (!changed_again.empty()) {
    std::string names;
    for (const auto& path : changed_again) names += (names.empty() ? "" : ", ") + path;
    throw Error("rollback of run " + run.run_id + " refused: changed again since the apply: " + names +
                    " (fix: restore or remove those changes by hand first; nothing was rolled back)",
                exit_code::refused);
  }
  std::vector<std::string> lines;
  for (std::size_t i = journal.entries.size(); i-- > 0;) {
    restore_entry(root.get(), journal.entries[i], paths, run, i);
    lines.push_back("restored " + journal.entries[i].at("path").get<std::string>());
  }
  ::syncfs(root.get());
  journal.state = "rolled_back";
  write_journal(paths, journal);
  run.state = "staged";
  write_staged_run(paths, run);
  return lines;
}

std::string recover_interrupted_apply(const StagedPaths& paths, StagedRun& run) {
  // The journal decides (fsynced before anything lands), not the record.
  std::error_code error;
  if (!std::filesystem::exists(paths.journal(), error)) return "";
  auto journal = read_journal(paths);
  if (journal.state != "applying") return "";
  auto root = open_workspace(run);
  const auto landed = landed_entries(root.get(), journal, run);
  for (const auto index : landed) restore_entry(root.get(), journal.entries[index], paths, run, index);
  // Temporary files of the entry that was landing when the apply stopped.
  for (std::size_t i = 0; i < journal.entries.size(); ++i) {
    if (auto parent = try_open_parent(root.get(), journal.entries[i].at("path").get<std::string>()))
      ::unlinkat(parent.get(), temp_name(run, i).c_str(), 0);
  }
  ::syncfs(root.get());
  journal.state = "undone";
  write_journal(paths, journal);
  run.state = "staged";
  write_staged_run(paths, run);
  return "run " + run.run_id + ": interrupted apply undone (" + std::to_string(landed.size()) + " of " +
         std::to_string(journal.entries.size()) + " entries had landed and were restored); the layer is staged again";
}

}  // namespace tierbox::staged
