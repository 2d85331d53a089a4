#include "rootfs/manifest.h"

#include <algorithm>
#include <optional>

#include "common/digest.h"
#include "common/errors.h"

namespace tierbox::rootfs {

using nlohmann::json;

const char* to_string(EntryKind kind) {
  switch (kind) {
    case EntryKind::directory: return "directory";
    case EntryKind::file: return "file";
    case EntryKind::symlink: return "symlink";
  }
  return "?";
}

const char* to_string(Difference::Kind kind) {
  switch (kind) {
    case Difference::Kind::modified: return "modified";
    case Difference::Kind::added: return "added";
    case Difference::Kind::removed: return "removed";
  }
  return "?";
}

namespace {

std::string octal(std::uint32_t mode) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", mode & 07777);
  return text;
}

json entry_json(const ManifestEntry& entry) {
  json out = {{"path", entry.path}, {"type", to_string(entry.kind)}, {"mode", octal(entry.mode)},
              {"uid", entry.uid},   {"gid", entry.gid}};
  if (entry.kind == EntryKind::file) {
    out["size"] = entry.size;
    out["sha256"] = entry.sha256;
  }
  if (entry.kind == EntryKind::symlink) out["link"] = entry.link;
  return out;
}

EntryKind kind_from(const std::string& text, const std::string& where) {
  if (text == "directory") return EntryKind::directory;
  if (text == "file") return EntryKind::file;
  if (text == "symlink") return EntryKind::symlink;
  throw Error(where + "/type: expected directory, file or symlink, got " + json(text).dump(), exit_code::runner_failed);
}

ManifestEntry entry_from(const json& value, const std::string& where) {
  if (!value.is_object()) throw Error(where + ": expected an object", exit_code::runner_failed);
  try {
    ManifestEntry entry;
    entry.path = value.at("path").get<std::string>();
    if (normalize_image_path(entry.path) != entry.path) throw Error(where + "/path: not a canonical relative path", exit_code::runner_failed);
    entry.kind = kind_from(value.at("type").get<std::string>(), where);
    entry.mode = static_cast<std::uint32_t>(std::stoul(value.at("mode").get<std::string>(), nullptr, 8));
    entry.uid = value.at("uid").get<std::uint32_t>();
    entry.gid = value.at("gid").get<std::uint32_t>();
    if (entry.kind == EntryKind::file) {
      entry.size = value.at("size").get<std::uint64_t>();
      entry.sha256 = value.at("sha256").get<std::string>();
    }
    if (entry.kind == EntryKind::symlink) entry.link = value.at("link").get<std::string>();
    return entry;
  } catch (const json::exception& error) {
    throw Error(where + ": " + error.what(), exit_code::runner_failed);
  }
}

// The attributes of two entries of one path that differ, comma-separated.
std::string changed_attributes(const ManifestEntry& a, const ManifestEntry& b) {
  std::string out;
  const auto note = [&](bool differs, const char* name) {
    if (differs) out += (out.empty() ? "" : ", ") + std::string(name);
  };
  note(a.kind != b.kind, "type");
  note(a.mode != b.mode, "mode");
  note(a.uid != b.uid || a.gid != b.gid, "owner");
  note(a.size != b.size, "size");
  note(a.sha256 != b.sha256, "sha256");
  note(a.link != b.link, "link");
  return out;
}

}  // namespace

json to_json(const Manifest& manifest) {
  json entries = json::array();
  for (const auto& entry : manifest.entries) entries.push_back(entry_json(entry));
  return {{"format", 1}, {"entries", entries}};
}

Manifest manifest_from_json(const json& document, const std::string& origin) {
  if (!document.is_object() || document.value("format", 0) != 1 || !document.contains("entries") ||
      !document["entries"].is_array())
    throw Error(origin + ": not a tierbox image manifest (expected {\"format\": 1, \"entries\": [...]})", exit_code::runner_failed);
  Manifest manifest;
  const auto& entries = document["entries"];
  for (std::size_t i = 0; i < entries.size(); ++i)
    manifest.entries.push_back(entry_from(entries[i], origin + ":/entries/" + std::to_string(i)));
  std::sort(manifest.entries.begin(), manifest.entries.end(),
            [](const auto& a, const auto& b) { return a.path < b.path; });
  return manifest;
}

std::string manifest_digest(const Manifest& manifest) {
  return "sha256:" + sha256_hex(to_json(manifest).dump());
}

std::vector<Difference> compare(const Manifest& expected, const Manifest& actual) {
  std::vector<Difference> out;
  auto want = expected.entries.begin();
  auto have = actual.entries.begin();
  // Both lists are sorted by path: one merge pass.
  while (want != expected.entries.end() || have != actual.entries.end()) {
    if (have == actual.entries.end() || (want != expected.entries.end() && want->path < have->path)) {
      out.push_back({Difference::Kind::removed, want->path, ""});
      ++want;
    } else if (want == expected.entries.end() || have->path < want->path) {
      out.push_back({Difference::Kind::added, have->path, ""});
      ++have;
    } else {
      if (auto changed = changed_attributes(*want, *have); !changed.empty())
        out.push_back({Difference::Kind::modified, want->path, changed});
      ++want;
      ++have;
    }
  }
  return out;
}

std::optional<std::string> normalize_image_path(const std::string& name) {
  if (name.empty() || name.front() == '/') return std::nullopt;
  std::string out;
  std::size_t start = 0;
  while (start <= name.size()) {
    auto end = name.find('/', start);
    if (end == std::string::npos) end = name.size();
    const auto part = name.substr(start, end - start);
    if (part == "..") return std::nullopt;
    if (!part.empty() && part != ".") out += (out.empty() ? "" : "/") + part;
    start = end + 1;
  }
  if (out.empty()) return std::nullopt;
  return out;
}

std::vector<const ManifestEntry*> children_of(const Manifest& manifest, const std::string& directory) {
  std::vector<const ManifestEntry*> out;
  const std::string prefix = directory.empty() ? "" : directory + "/";
  for (const auto& entry : manifest.entries) {
    if (entry.path.compare(0, prefix.size(), prefix) != 0 || entry.path.size() == prefix.size()) continue;
    if (entry.path.find('/', prefix.size()) == std::string::npos) out.push_back(&entry);
  }
  return out;
}

}  // namespace tierbox::rootfs
