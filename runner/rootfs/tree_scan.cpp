#include "rootfs/tree_scan.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "common/digest.h"
#include "common/errors.h"
#include "common/unique_fd.h"

namespace tierbox::rootfs {
namespace fs = std::filesystem;

namespace {

struct stat lstat_or_throw(const fs::path& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) throw_sys_error("lstat(" + quote(path.string()) + ")");
  return st;
}

std::string file_sha256(const fs::path& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY));
  if (!fd) throw_sys_error("open(" + quote(path.string()) + ", O_RDONLY|O_NOFOLLOW)");
  return sha256_hex_of_fd(fd.get(), path.string());
}

std::string link_of(const fs::path& path) {
  std::string target(4096, '\0');
  auto length = ::readlink(path.c_str(), target.data(), target.size());
  if (length < 0) throw_sys_error("readlink(" + quote(path.string()) + ")");
  target.resize(static_cast<std::size_t>(length));
  return target;
}

ManifestEntry entry_of(const fs::path& root, const fs::path& path, bool hash = true) {
  const auto st = lstat_or_throw(path);
  ManifestEntry entry;
  entry.path = fs::path(path).lexically_relative(root).string();
  entry.mode = st.st_mode & 07777;
  entry.uid = st.st_uid;
  entry.gid = st.st_gid;
  if (S_ISDIR(st.st_mode)) {
    entry.kind = EntryKind::directory;
  } else if (S_ISREG(st.st_mode)) {
    entry.kind = EntryKind::file;
    entry.size = static_cast<std::uint64_t>(st.st_size);
    if (hash) entry.sha256 = file_sha256(path);
  } else if (S_ISLNK(st.st_mode)) {
    entry.kind = EntryKind::symlink;
    entry.link = link_of(path);
  } else {
    throw Error(quote(path.string()) + ": a device node, fifo or socket, never allowed in an image",
                exit_code::runner_failed);
  }
  return entry;
}

template <typename Visit>
void for_each_below(const fs::path& root, Visit visit) {
  // recursive_directory_iterator does not follow directory symlinks unless asked.
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator(); ++it)
    visit(it->path());
}

}  // namespace

Manifest scan_tree(const fs::path& root) {
  Manifest manifest;
  for_each_below(root, [&](const fs::path& path) { manifest.entries.push_back(entry_of(root, path)); });
  std::sort(manifest.entries.begin(), manifest.entries.end(),
            [](const auto& a, const auto& b) { return a.path < b.path; });
  return manifest;
}

std::vector<ManifestEntry> scan_directory(const fs::path& root, const std::string& directory) {
  std::vector<ManifestEntry> out;
  for (const auto& entry : fs::directory_iterator(directory.empty() ? root : root / directory))
    out.push_back(entry_of(root, entry.path(), false));
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.path < b.path; });
  return out;
}

void seal_tree(const fs::path& root) {
  const auto seal = [](const fs::path& path) {
    const auto st = lstat_or_throw(path);
    if (::lchown(path.c_str(), 0, 0) != 0) throw_sys_error("lchown(" + quote(path.string()) + ", 0, 0)");
    if (S_ISLNK(st.st_mode)) return;
    const mode_t mode = S_ISDIR(st.st_mode) ? 0755 : (st.st_mode & 07777 & ~06222);
    if (::chmod(path.c_str(), mode) != 0) throw_sys_error("chmod(" + quote(path.string()) + ")");
  };
  seal(root);
  for_each_below(root, seal);
}

}  // namespace tierbox::rootfs
