#include "staged/store.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <nlohmann/json.hpp>

#include "common/errors.h"
#include "common/files.h"

namespace tierbox::staged {

using json = nlohmann::json;

json to_json(const StagedRun& run) {
  json out = {{"run_id", run.run_id},
              {"tier", run.tier},
              {"workspace", run.workspace},
              {"started_at", run.started_at},
              {"baseline_ns", run.baseline_ns},
              {"requester_uid", run.requester_uid},
              {"requester", run.requester},
              {"workspace_uid", run.workspace_uid},
              {"workspace_gid", run.workspace_gid},
              {"layer_uid", run.layer_uid},
              {"size_bytes", run.size_bytes},
              {"state", run.state}};
  if (run.sudo_uid) out["sudo_uid"] = *run.sudo_uid;
  if (!run.placeholders.empty()) {
    auto& list = out["placeholders"] = json::array();
    for (const auto& placeholder : run.placeholders)
      list.push_back({{"path", placeholder.path}, {"directory", placeholder.directory}, {"content", placeholder.content}});
  }
  return out;
}

StagedRun staged_run_from_json(const json& in, const std::string& file) {
  try {
    StagedRun run;
    run.run_id = in.at("run_id").get<std::string>();
    run.tier = in.at("tier").get<std::string>();
    run.workspace = in.at("workspace").get<std::string>();
    run.started_at = in.at("started_at").get<std::string>();
    run.baseline_ns = in.at("baseline_ns").get<std::int64_t>();
    run.requester_uid = in.at("requester_uid").get<uid_t>();
    run.requester = in.value("requester", "");
    if (in.contains("sudo_uid")) run.sudo_uid = in.at("sudo_uid").get<uid_t>();
    run.workspace_uid = in.at("workspace_uid").get<uid_t>();
    run.workspace_gid = in.at("workspace_gid").get<gid_t>();
    run.layer_uid = in.at("layer_uid").get<uid_t>();
    run.size_bytes = in.value("size_bytes", std::uint64_t{0});
    run.state = in.at("state").get<std::string>();
    for (const auto& placeholder : in.value("placeholders", json::array()))
      run.placeholders.push_back({placeholder.at("path").get<std::string>(), placeholder.at("directory").get<bool>(),
                                  placeholder.value("content", "")});
    return run;
  } catch (const json::exception& error) {
    throw Error(file + ": not a staged run record (" + error.what() + "; fix: `tierbox discard` the run)",
                exit_code::runner_failed);
  }
}

std::filesystem::path staged_root(const std::filesystem::path& state_dir) { return state_dir / "staged"; }

StagedPaths staged_paths(const std::filesystem::path& state_dir, const std::string& run_id,
                         const std::filesystem::path& governance_dir) {
  // A run id names a directory here: nothing but the id's own characters.
  const bool valid = !run_id.empty() && run_id.size() <= 64 &&
                     run_id.find_first_not_of("0123456789abcdefghijklmnopqrstuvwxyz-") == std::string::npos;
  if (!valid) throw Error("run " + quote(run_id) + ": not a run id (fix: the id `tierbox run` printed)", 2);
  return {staged_root(state_dir) / run_id, governance_dir.empty() ? std::filesystem::path() : governance_dir / "staged" / run_id};
}

void write_staged_run(const StagedPaths& paths, const StagedRun& run, Durability durability) {
  write_file_atomically(paths.record(), to_json(run).dump(2) + "\n", 0600, durability);
}

StagedRun read_staged_run(const StagedPaths& paths) {
  std::string text;
  try {
    text = read_regular_file(paths.record().string(), "staged run record", 1 << 20);
  } catch (const SysError& error) {
    if (error.err() == ENOENT)
      throw Error("run " + paths.dir.filename().string() +
                      ": no staged layer (never staged, discarded, or removed by gc; fix: `tierbox changes` lists "
                      "only runs of a tier with \"staged\": true)",
                  2);
    throw;
  }
  const auto parsed = json::parse(text, nullptr, false);
  if (parsed.is_discarded())
    throw Error(paths.record().string() + ": not JSON (fix: `tierbox discard` the run)", exit_code::runner_failed);
  return staged_run_from_json(parsed, paths.record().string());
}

std::vector<StagedRun> list_staged_runs(const std::filesystem::path& state_dir) {
  std::vector<StagedRun> runs;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(staged_root(state_dir), error)) {
    try {
      runs.push_back(read_staged_run({entry.path(), {}}));
    } catch (const Error&) {
      // A directory without a readable record: a launch that failed before
      // writing one; gc removes it once old.
    }
  }
  std::sort(runs.begin(), runs.end(),
            [](const StagedRun& a, const StagedRun& b) { return a.baseline_ns < b.baseline_ns; });
  return runs;
}

namespace {

// Whether fd (a placeholder as made) still carries the mark and, for a
// file, exactly the content it was made with.
bool still_placeholder(int fd, const LayerPlaceholder& placeholder) {
  if (::fgetxattr(fd, kPlaceholderMark, nullptr, 0) < 0) return false;
  if (placeholder.directory) return true;
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size != static_cast<off_t>(placeholder.content.size()))
    return false;
  std::string content(placeholder.content.size(), '\0');
  return content.empty() || (::pread(fd, content.data(), content.size(), 0) == static_cast<ssize_t>(content.size()) &&
                             content == placeholder.content);
}

}  // namespace

void remove_layer_placeholders(const StagedPaths& paths, const std::vector<LayerPlaceholder>& placeholders) {
  if (placeholders.empty()) return;
  UniqueFd upper(::open(paths.upper().c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!upper) {
    if (errno == ENOENT) return;  // no layer (discarded, or never mounted)
    throw_sys_error("open(" + quote(paths.upper().string()) + ", O_PATH|O_DIRECTORY)");
  }
  for (auto it = placeholders.rbegin(); it != placeholders.rend(); ++it) {
    const auto slash = it->path.rfind('/');
    const auto name = slash == std::string::npos ? it->path : it->path.substr(slash + 1);
    UniqueFd parent;
    if (slash == std::string::npos) {
      parent = UniqueFd(::fcntl(upper.get(), F_DUPFD_CLOEXEC, 0));
    } else {
      struct open_how how {};
      how.flags = O_PATH | O_DIRECTORY | O_CLOEXEC;
      how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
      const auto directory = it->path.substr(0, slash);
      parent = UniqueFd(static_cast<int>(::syscall(SYS_openat2, upper.get(), directory.c_str(), &how, sizeof how)));
    }
    if (!parent) continue;  // its parent is gone: so is it
    UniqueFd entry(::openat(parent.get(), name.c_str(),
                            (it->directory ? O_RDONLY | O_DIRECTORY : O_RDONLY | O_NONBLOCK | O_NOCTTY) | O_NOFOLLOW |
                                O_CLOEXEC));
    if (!entry || !still_placeholder(entry.get(), *it)) continue;
    // A directory that is not empty (it cannot be: the sandbox saw it
    // read-only) fails with ENOTEMPTY and stays.
    if (::unlinkat(parent.get(), name.c_str(), it->directory ? AT_REMOVEDIR : 0) != 0 && errno != ENOENT &&
        errno != ENOTEMPTY)
      throw_sys_error("unlinkat(" + quote((paths.upper() / it->path).string()) + ")");
  }
}

void discard_staged_run(const StagedPaths& paths) {
  // MNT_DETACH: a `changes` reading the layer right now keeps its view; the
  // memory is freed when it closes its fds.
  if (::umount2(paths.lower().c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT)
    throw_sys_error("umount2(" + quote(paths.lower().string()) + ", MNT_DETACH)");
  if (::umount2(paths.layer().c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT)
    throw_sys_error("umount2(" + quote(paths.layer().string()) + ", MNT_DETACH)");
  std::error_code error;
  if (!paths.journal_dir.empty()) std::filesystem::remove_all(paths.journal_dir, error);
  if (error) throw SysError(error.value(), "remove_all(" + quote(paths.journal_dir.string()) + ")");
  std::filesystem::remove_all(paths.dir, error);
  if (error) throw SysError(error.value(), "remove_all(" + quote(paths.dir.string()) + ")");
}

}  // namespace tierbox::staged
