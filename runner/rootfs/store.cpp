#include "rootfs/store.h"

#include <fcntl.h>

#include <algorithm>
#include <fstream>

#include "common/digest.h"
#include "common/errors.h"
#include "common/unique_fd.h"
#include "rootfs/tree_scan.h"

namespace tierbox::rootfs {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

json read_json(const fs::path& file) {
  std::ifstream in(file);
  if (!in) throw Error(file.string() + ": cannot be read", exit_code::runner_failed);
  try {
    return json::parse(in);
  } catch (const json::exception& error) {
    throw Error(file.string() + ": not JSON: " + error.what(), exit_code::runner_failed);
  }
}

ImageName name_from(const json& document, const fs::path& file) {
  try {
    ImageName image{document.at("name").get<std::string>(), document.at("digest").get<std::string>(),
                    document.value("source", ""), document.value("stripped", std::vector<std::string>{}),
                    document.value("created", "")};
    if (!digest_hex(image.digest)) throw Error(file.string() + ": /digest: expected sha256:<64 hex digits>", exit_code::runner_failed);
    return image;
  } catch (const json::exception& error) {
    throw Error(file.string() + ": " + error.what(), exit_code::runner_failed);
  }
}

}  // namespace

bool is_valid_image_name(const std::string& name) {
  if (name.empty() || name.size() > 64 || name.front() == '.' || name.front() == '-') return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-'; });
}

std::optional<std::string> digest_hex(const std::string& digest) {
  constexpr std::string_view prefix = "sha256:";
  if (digest.size() != prefix.size() + 64 || digest.compare(0, prefix.size(), prefix) != 0) return std::nullopt;
  auto hex = digest.substr(prefix.size());
  if (!std::all_of(hex.begin(), hex.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)) || (c >= 'a' && c <= 'f'); }))
    return std::nullopt;
  return hex;
}

fs::path Store::image_dir(const std::string& digest) const {
  auto hex = digest_hex(digest);
  if (!hex) throw Error("image digest " + quote(digest) + ": expected sha256:<64 hex digits>", exit_code::runner_failed);
  return root_ / "images" / *hex;
}

fs::path Store::name_file(const std::string& name) const {
  if (!is_valid_image_name(name))
    throw Error("image name " + quote(name) + ": expected 1-64 letters, digits, '.', '_' or '-' (e.g. minimal)",
                exit_code::runner_failed);
  return root_ / "names" / (name + ".json");
}

std::optional<ImageName> Store::find(const std::string& name) const {
  const auto file = name_file(name);
  std::error_code ec;
  if (!fs::exists(file, ec)) return std::nullopt;
  return name_from(read_json(file), file);
}

std::vector<ImageName> Store::list() const {
  std::vector<ImageName> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(root_ / "names", ec))
    if (entry.path().extension() == ".json") out.push_back(name_from(read_json(entry.path()), entry.path()));
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

Manifest Store::manifest(const std::string& digest) const {
  const auto file = image_dir(digest) / "manifest.json";
  auto manifest = manifest_from_json(read_json(file), file.string());
  if (auto actual = manifest_digest(manifest); actual != digest)
    throw Error(file.string() + ": its digest is " + actual + ", not " + digest +
                    " (the manifest was changed after import; fix: tierbox rootfs verify, then re-import the image)",
                exit_code::runner_failed);
  return manifest;
}

void Store::check_manifest(const std::string& digest) const {
  const auto file = image_dir(digest) / "manifest.json";
  const auto hex = digest_hex(digest);
  UniqueFd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) throw_sys_error("open(" + quote(file.string()) + ")");
  if (hex && sha256_hex_of_fd(fd.get(), file.string()) == *hex) return;
  (void)manifest(digest);  // another form, or changed: parsed, and refused if changed
}

Verification verify_image(const Store& store, const ImageName& image) {
  Verification out;
  out.digest = image.digest;
  const auto file = store.image_dir(image.digest) / "manifest.json";
  const auto expected = manifest_from_json(read_json(file), file.string());
  out.manifest_digest = manifest_digest(expected);
  out.differences = compare(expected, scan_tree(store.tree(image.digest)));
  return out;
}

}  // namespace tierbox::rootfs
