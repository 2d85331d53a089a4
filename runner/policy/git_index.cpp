#include "policy/git_index.h"

#include <cstdint>
#include <optional>

namespace tierbox::policy {
namespace {

constexpr std::uint32_t kGitlinkMode = 0160000;
constexpr std::uint32_t kTypeMask = 0170000;
constexpr std::size_t kStatFields = 40;  // ctime, mtime (s, ns), dev, ino, mode, uid, gid, size: 10 x 32 bits
constexpr std::uint16_t kExtendedFlag = 0x4000;

std::uint32_t be32(std::string_view bytes, std::size_t at) {
  return (static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[at])) << 24) |
         (static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[at + 1])) << 16) |
         (static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[at + 2])) << 8) |
         static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[at + 3]));
}

std::uint16_t be16(std::string_view bytes, std::size_t at) {
  return static_cast<std::uint16_t>((static_cast<unsigned>(static_cast<unsigned char>(bytes[at])) << 8) |
                                    static_cast<unsigned>(static_cast<unsigned char>(bytes[at + 1])));
}

// git's offset varint (varint.c): 7 bits a byte, high bit "more", +1 per
// continuation so every value has one encoding.
std::optional<std::uint64_t> varint(std::string_view bytes, std::size_t& at) {
  if (at >= bytes.size()) return std::nullopt;
  auto c = static_cast<unsigned char>(bytes[at++]);
  std::uint64_t value = c & 127U;
  while (c & 128U) {
    value += 1;
    if (value == 0 || (value >> 57) != 0 || at >= bytes.size()) return std::nullopt;
    c = static_cast<unsigned char>(bytes[at++]);
    value = (value << 7) + (c & 127U);
  }
  return value;
}

// After the entries: extensions (a 4-byte signature starting with 'A'-'Z',
// a 32-bit size, the data), then the checksum, exactly hash_size bytes.
bool ends_well(std::string_view bytes, std::size_t at, std::size_t hash_size) {
  while (bytes.size() - at > hash_size) {
    if (bytes.size() - at < 8 + hash_size) return false;
    if (bytes[at] < 'A' || bytes[at] > 'Z') return false;
    const std::uint64_t size = be32(bytes, at + 4);
    at += 8;
    if (size > bytes.size() - at - hash_size) return false;
    at += static_cast<std::size_t>(size);
  }
  return bytes.size() - at == hash_size;
}

GitIndexLinks parse(std::string_view bytes, std::uint32_t version, std::uint32_t count, std::size_t hash_size) {
  GitIndexLinks result;
  std::size_t at = 12;
  std::string path;  // v4: each entry's path is built from the previous one
  for (std::uint32_t entry = 0; entry < count; ++entry) {
    const std::size_t start = at;
    if (bytes.size() - at < kStatFields + hash_size + 2) return {{}, "entry " + std::to_string(entry) + " is cut short"};
    const std::uint32_t mode = be32(bytes, at + 24);
    const std::uint16_t flags = be16(bytes, at + kStatFields + hash_size);
    at += kStatFields + hash_size + 2;
    if (flags & kExtendedFlag) {
      if (version < 3) return {{}, "entry " + std::to_string(entry) + " has extended flags in a version 2 index"};
      if (bytes.size() - at < 2) return {{}, "entry " + std::to_string(entry) + " is cut short"};
      at += 2;
    }
    if (version == 4) {
      const auto strip = varint(bytes, at);
      if (!strip || *strip > path.size()) return {{}, "entry " + std::to_string(entry) + " has a bad path prefix"};
      path.resize(path.size() - static_cast<std::size_t>(*strip));
    } else {
      path.clear();
    }
    const auto end = bytes.find('\0', at);
    if (end == std::string_view::npos) return {{}, "entry " + std::to_string(entry) + "'s path has no end"};
    path.append(bytes.substr(at, end - at));
    at = end + 1;
    if (version != 4) {
      // Padded with 1-8 NULs (the one above among them) to a multiple of 8.
      const std::size_t length = ((end - start) + 8) & ~static_cast<std::size_t>(7);
      if (start + length > bytes.size()) return {{}, "entry " + std::to_string(entry) + " is cut short"};
      at = start + length;
    }
    if ((mode & kTypeMask) == kGitlinkMode) result.gitlinks.push_back(path);
  }
  if (!ends_well(bytes, at, hash_size)) return {{}, "the bytes after the entries are not extensions and a checksum"};
  return result;
}

}  // namespace

GitIndexLinks read_gitlinks(std::string_view index) {
  if (index.size() < 12 || index.substr(0, 4) != "DIRC") return {{}, "not a git index (no DIRC signature)"};
  const std::uint32_t version = be32(index, 4);
  if (version < 2 || version > 4) return {{}, "unknown index version " + std::to_string(version)};
  const std::uint32_t count = be32(index, 8);
  auto sha1 = parse(index, version, count, 20);
  if (sha1.error.empty()) return sha1;
  auto sha256 = parse(index, version, count, 32);
  if (sha256.error.empty()) return sha256;
  return sha1;
}

}  // namespace tierbox::policy
