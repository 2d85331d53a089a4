#include "rootfs/archive_extract.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>

#include "common/errors.h"
#include "common/unique_fd.h"
#include "rootfs/manifest.h"

namespace tierbox::rootfs {
namespace fs = std::filesystem;

namespace {

constexpr std::string_view kWhiteoutPrefix = ".wh.";
constexpr std::string_view kOpaqueWhiteout = ".wh..wh..opq";

using ArchivePointer = std::unique_ptr<archive, decltype(&archive_read_free)>;
using WriterPointer = std::unique_ptr<archive, decltype(&archive_write_free)>;

[[noreturn]] void fail(const fs::path& file, const std::string& what) {
  throw Error(file.string() + ": " + what, exit_code::runner_failed);
}

ArchivePointer open_archive(const fs::path& file) {
  ArchivePointer reader(archive_read_new(), archive_read_free);
  archive_read_support_filter_all(reader.get());
  archive_read_support_format_tar(reader.get());
  archive_read_support_format_gnutar(reader.get());
  if (archive_read_open_filename(reader.get(), file.c_str(), 1 << 16) != ARCHIVE_OK)
    fail(file, std::string("archive_read_open_filename: ") + archive_error_string(reader.get()));
  return reader;
}

// Calls visit(entry) for each header; false when the archive is at its end.
template <typename Visit>
void for_each_entry(archive* reader, const fs::path& file, Visit visit) {
  archive_entry* entry = nullptr;
  while (true) {
    const int status = archive_read_next_header(reader, &entry);
    if (status == ARCHIVE_EOF) return;
    if (status != ARCHIVE_OK && status != ARCHIVE_WARN)
      fail(file, std::string("archive_read_next_header: ") + archive_error_string(reader));
    visit(entry);
  }
}

std::string base_name(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string parent_of(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? "" : path.substr(0, slash);
}

// True when every component of relative below tree is a real directory
// (no symlink): only then may a whiteout remove something there, or it would
// reach through a link planted by a lower layer (x -> /etc) to the host.
bool is_real_directory_path(const fs::path& tree, const std::string& relative) {
  fs::path path = tree;
  for (const auto& part : fs::path(relative)) {
    path /= part;
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return false;
  }
  return true;
}

void apply_whiteout(const fs::path& tree, const std::string& name) {
  const auto parent = parent_of(name);
  if (!parent.empty() && !is_real_directory_path(tree, parent)) return;  // nothing of a lower layer there
  const auto directory = tree / parent;
  const auto base = base_name(name);
  if (base == kOpaqueWhiteout) {
    for (const auto& child : fs::directory_iterator(directory)) fs::remove_all(child.path());
    return;
  }
  const auto target = base.substr(kWhiteoutPrefix.size());
  // ".wh.." or ".wh..." would name the directory itself or its parent.
  if (target.empty() || target == "." || target == "..")
    throw Error("whiteout " + quote(name) + ": names no entry; refused", exit_code::runner_failed);
  fs::remove_all(directory / target);  // a symlink itself, never what it names
}

// The entry's name made canonical, or a refusal naming it.
std::optional<std::string> checked_name(const fs::path& file, const char* raw) {
  const std::string name = raw ? raw : "";
  if (name == "." || name == "./" || name == "/") return std::nullopt;  // the root itself
  auto normalized = normalize_image_path(name);
  if (!normalized) fail(file, "entry " + quote(name) + ": an absolute name or one with \"..\" would land outside the image; refused");
  return normalized;
}

void check_type(const fs::path& file, const std::string& name, archive_entry* entry) {
  const auto type = archive_entry_filetype(entry);
  if (type == AE_IFCHR || type == AE_IFBLK) fail(file, "entry " + quote(name) + ": a device node; images never hold one (refused)");
  if (type == AE_IFIFO || type == AE_IFSOCK) fail(file, "entry " + quote(name) + ": a fifo or socket; refused");
}

void strip_set_id(const std::string& name, archive_entry* entry, ExtractReport& report) {
  const auto perm = archive_entry_perm(entry);
  if ((perm & 06000) == 0 || archive_entry_filetype(entry) == AE_IFDIR) {
    archive_entry_set_perm(entry, perm & 01777);
    return;
  }
  report.stripped.push_back(name + ": " + ((perm & 04000) ? std::string("setuid") : std::string("")) +
                            ((perm & 06000) == 06000 ? "+" : "") + ((perm & 02000) ? "setgid" : "") + " removed");
  archive_entry_set_perm(entry, perm & 01777);
}

// Restores the working directory when extraction ends, however it ends:
// libarchive's secure-symlink checks work on names relative to it.
class WorkingDirectory {
 public:
  explicit WorkingDirectory(const fs::path& tree) : saved_(::open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) {
    if (!saved_) throw_sys_error("open(\".\", O_DIRECTORY)");
    if (::chdir(tree.c_str()) != 0) throw_sys_error("chdir(" + quote(tree.string()) + ")");
  }
  ~WorkingDirectory() { (void)!::fchdir(saved_.get()); }
  WorkingDirectory(const WorkingDirectory&) = delete;
  WorkingDirectory& operator=(const WorkingDirectory&) = delete;

 private:
  UniqueFd saved_;
};

WriterPointer disk_writer() {
  WriterPointer writer(archive_write_disk_new(), archive_write_free);
  // No ARCHIVE_EXTRACT_OWNER: every file is root's, as the store requires.
  archive_write_disk_set_options(writer.get(), ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_UNLINK |
                                                   ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_SECURE_NODOTDOT |
                                                   ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS);
  return writer;
}

void copy_data(archive* reader, archive* writer, const fs::path& file, const std::string& name) {
  const void* block = nullptr;
  size_t size = 0;
  la_int64_t offset = 0;
  while (true) {
    const int status = archive_read_data_block(reader, &block, &size, &offset);
    if (status == ARCHIVE_EOF) return;
    if (status != ARCHIVE_OK) fail(file, "entry " + quote(name) + ": " + archive_error_string(reader));
    if (archive_write_data_block(writer, block, size, offset) != ARCHIVE_OK)
      fail(file, "entry " + quote(name) + ": writing: " + archive_error_string(writer));
  }
}

void write_entry(archive* reader, archive* writer, archive_entry* entry, const fs::path& file, const std::string& name) {
  if (archive_write_header(writer, entry) != ARCHIVE_OK)
    fail(file, "entry " + quote(name) + ": " + archive_error_string(writer));
  if (archive_entry_size(entry) > 0) copy_data(reader, writer, file, name);
  if (archive_write_finish_entry(writer) != ARCHIVE_OK)
    fail(file, "entry " + quote(name) + ": " + archive_error_string(writer));
}

}  // namespace

std::vector<std::string> archive_names(const fs::path& archive) {
  auto reader = open_archive(archive);
  std::vector<std::string> names;
  for_each_entry(reader.get(), archive, [&](archive_entry* entry) {
    const char* name = archive_entry_pathname(entry);
    names.emplace_back(name ? name : "");
  });
  return names;
}

void extract_archive(const fs::path& archive, const fs::path& tree, bool apply_whiteouts, ExtractReport& report) {
  const auto absolute_tree = fs::absolute(tree);
  // Whiteouts first: they remove what lower layers left, never what this
  // layer itself brings, whatever the order of its entries.
  if (apply_whiteouts)
    for (const auto& raw : archive_names(archive))
      if (auto name = checked_name(archive, raw.c_str()); name && base_name(*name).rfind(kWhiteoutPrefix, 0) == 0)
        apply_whiteout(absolute_tree, *name);

  auto reader = open_archive(archive);
  auto writer = disk_writer();
  WorkingDirectory inside(absolute_tree);
  for_each_entry(reader.get(), archive, [&](archive_entry* entry) {
    auto name = checked_name(archive, archive_entry_pathname(entry));
    if (!name) return;
    if (apply_whiteouts && base_name(*name).rfind(kWhiteoutPrefix, 0) == 0) return;
    check_type(archive, *name, entry);
    archive_entry_set_pathname(entry, name->c_str());
    if (const char* link = archive_entry_hardlink(entry)) {
      auto target = checked_name(archive, link);
      if (!target) fail(archive, "entry " + quote(*name) + ": a hard link to the image's root");
      archive_entry_set_hardlink(entry, target->c_str());
    }
    strip_set_id(*name, entry, report);
    write_entry(reader.get(), writer.get(), entry, archive, *name);
  });
  if (archive_write_close(writer.get()) != ARCHIVE_OK)
    fail(archive, std::string("archive_write_close: ") + archive_error_string(writer.get()));
}

}  // namespace tierbox::rootfs
