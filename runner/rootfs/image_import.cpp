#include "rootfs/image_import.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>

#include "common/digest.h"
#include "common/errors.h"
#include "common/rfc3339.h"
#include "common/unique_fd.h"
#include "policy/json_reader.h"
#include "rootfs/archive_extract.h"
#include "rootfs/tree_scan.h"

namespace tierbox::rootfs {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

void make_private_directory(const fs::path& path) {
  if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) throw_sys_error("mkdir(" + quote(path.string()) + ", 0700)");
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) throw_sys_error("lstat(" + quote(path.string()) + ")");
  if (!S_ISDIR(st.st_mode) || st.st_uid != 0 || (st.st_mode & 0077) != 0)
    throw Error(path.string() + ": the image store must be a directory of root's that only root may enter (mode 0700; fix: chown root:root and chmod 0700 it)",
                exit_code::runner_failed);
}

// Written to a temporary file and renamed: a reader sees the old or the new
// content, never half of it.
void write_file_atomically(const fs::path& file, const std::string& content) {
  const auto temporary = file.string() + ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << content;
    if (!out.flush()) throw Error(temporary + ": cannot be written", exit_code::runner_failed);
  }
  if (::rename(temporary.c_str(), file.c_str()) != 0) throw_sys_error("rename(" + quote(temporary) + ", " + quote(file.string()) + ")");
}

// A blob of the layout, checked against the digest that names it.
fs::path blob(const fs::path& layout, const json& descriptor) {
  const auto digest = descriptor.value("digest", "");
  const auto hex = digest_hex(digest);
  if (!hex) throw Error(layout.string() + ": descriptor digest " + quote(digest) + ": expected sha256:<hex>", exit_code::runner_failed);
  const auto path = layout / "blobs" / "sha256" / *hex;
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) throw_sys_error("open(" + quote(path.string()) + ")");
  if (sha256_hex_of_fd(fd.get(), path.string()) != *hex)
    throw Error(path.string() + ": content does not match its digest " + digest, exit_code::runner_failed);
  return path;
}

bool is_index(const json& document) {
  return document.contains("manifests") && document["manifests"].is_array();
}

}  // namespace

void ensure_store(const Store& store) {
  fs::create_directories(store.root().parent_path());
  make_private_directory(store.root());
  for (const char* sub : {"images", "names", "tmp"}) make_private_directory(store.root() / sub);
}

StagingDir::StagingDir(const Store& store) : path_(store.root() / "tmp" / ("stage-" + random_hex(8))) {
  make_private_directory(path_);
  make_private_directory(tree());
}

StagingDir::~StagingDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

ImageName commit_image(const Store& store, const std::string& name, StagingDir& staging, const std::string& source,
                       std::vector<std::string> stripped) {
  const auto name_file = store.name_file(name);  // validates the name before any work
  seal_tree(staging.tree());
  const auto manifest = scan_tree(staging.tree());
  const auto digest = manifest_digest(manifest);
  // Canonical JSON, the bytes its digest is taken over (Store::check_manifest).
  write_file_atomically(staging.path() / "manifest.json", to_json(manifest).dump());
  if (::chmod(staging.path().c_str(), 0755) != 0) throw_sys_error("chmod(" + quote(staging.path().string()) + ", 0755)");
  const auto destination = store.image_dir(digest);
  std::error_code ec;
  if (!fs::exists(destination, ec)) {
    if (::rename(staging.path().c_str(), destination.c_str()) != 0)
      throw_sys_error("rename(" + quote(staging.path().string()) + ", " + quote(destination.string()) + ")");
  } else {
    // The same image, committed before: its manifest is rewritten in the
    // canonical form (an older tierbox wrote it indented, which launches
    // must parse instead of hash; same entries, same digest).
    write_file_atomically(destination / "manifest.json", to_json(manifest).dump());
  }
  ImageName image{name, digest, source, std::move(stripped), rfc3339_utc(std::chrono::system_clock::now())};
  write_file_atomically(name_file, json{{"name", image.name}, {"digest", image.digest}, {"source", image.source},
                                        {"stripped", image.stripped}, {"created", image.created}}.dump(1) + "\n");
  return image;
}

std::vector<fs::path> oci_layers(const fs::path& layout) {
  if (!fs::exists(layout / "oci-layout")) throw Error(layout.string() + ": no oci-layout file; not an OCI image layout", exit_code::runner_failed);
  auto document = policy::read_json_file((layout / "index.json").string());
  // An index (docker save writes one inside another) leads to a manifest.
  for (int depth = 0; is_index(document); ++depth) {
    if (document["manifests"].empty() || depth > 4)
      throw Error(layout.string() + ": index.json names no image manifest", exit_code::runner_failed);
    document = policy::read_json_file(blob(layout, document["manifests"][0]).string());
  }
  if (!document.contains("layers") || !document["layers"].is_array())
    throw Error(layout.string() + ": the image manifest has no \"layers\" array", exit_code::runner_failed);
  std::vector<fs::path> layers;
  for (const auto& layer : document["layers"]) layers.push_back(blob(layout, layer));
  return layers;
}

ImageName import_archive(const Store& store, const std::string& name, const fs::path& file) {
  (void)store.name_file(name);  // throws for an invalid name, before any work
  ensure_store(store);
  StagingDir staging(store);
  ExtractReport report;
  const auto names = archive_names(file);
  const auto has = [&](const char* wanted) {
    return std::any_of(names.begin(), names.end(), [&](const auto& entry) { return entry == wanted || entry == std::string("./") + wanted; });
  };
  const bool oci = has("oci-layout");
  // A docker save of Docker before 25 (manifest.json and repositories, no
  // oci-layout) would otherwise be taken for a root filesystem tarball.
  if (!oci && has("manifest.json") && has("repositories"))
    throw Error(file.string() + ": a docker save archive without oci-layout, not supported (fix: podman save --format oci-archive, or docker save of Docker 25 or later)",
                exit_code::runner_failed);
  if (!oci) {
    extract_archive(file, staging.tree(), false, report);
    return commit_image(store, name, staging, "tarball " + fs::absolute(file).string(), report.stripped);
  }
  const auto layout = staging.path() / "layout";
  make_private_directory(layout);
  ExtractReport ignored;  // the layout's own files: blobs and JSON
  extract_archive(file, layout, false, ignored);
  for (const auto& layer : oci_layers(layout)) extract_archive(layer, staging.tree(), true, report);
  fs::remove_all(layout);
  return commit_image(store, name, staging, "oci-archive " + fs::absolute(file).string(), report.stripped);
}

void remove_image(const Store& store, const std::string& name) {
  auto image = store.find(name);
  if (!image) throw Error("image " + quote(name) + ": not in the store " + store.root().string() + " (see: tierbox rootfs list)", exit_code::runner_failed);
  fs::remove(store.name_file(name));
  for (const auto& other : store.list())
    if (other.digest == image->digest) return;  // still named
  fs::remove_all(store.image_dir(image->digest));
}

}  // namespace tierbox::rootfs
